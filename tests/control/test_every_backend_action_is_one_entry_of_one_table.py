"""Every action on a backend is one entry of ``core.actions.BACKEND_ACTIONS``: its role, its
API endpoint and body, its force and confirmation, whether it waits for the backend, what it
may be asked of, the state it asks for, its handler on the worker. Each reader of the table
(the roles, the API, the pages, the services' checks, the worker) does what the entry says,
and nothing names an action the table does not have.

``PINNED`` says again, independently, what each action must be: who may ask it above all.
A change to an entry's role or force fails here, not only in the readers built from it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from swapadmin.api import serializers as api_serializers
from swapadmin.api.views import BackendViewSet
from swapadmin.core import actions, roles, services
from swapadmin.core.handlers import HANDLERS
from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.core.services import Actor
from swapadmin.web import forms as web_forms
from swapadmin.web import results as web_results
from swapadmin.web import views

SPECS = actions.BACKEND_ACTIONS

#: name: (least role, force with the name typed, asked first on the page, reads only,
#: before a provision, writes an adopted area's bytes, desired state after)
PINNED: dict[str, tuple[str, bool, bool, bool, bool, bool, str | None]] = {
    "provision": ("admin", True, False, False, True, True, None),
    "activate": ("operator", False, False, False, False, False, "active"),
    "deactivate": ("operator", True, False, False, False, False, "inactive"),
    "scan": ("operator", False, False, False, False, True, None),
    "benchmark": ("operator", False, False, False, False, True, None),
    "burn_in": ("operator", False, False, False, False, False, None),
    "resize": ("admin", False, False, False, False, True, None),
    "persist": ("admin", False, False, False, False, False, None),
    "check": ("operator", False, False, True, True, False, None),
    "destroy": ("admin", True, True, False, True, False, "absent"),
}

#: The actions whose body holds more than force and settings, checked by the services.
CHECKED = {"activate", "resize", "persist"}
#: The actions whose result the job page reads with a reader of its own (web/results.py).
SHOWN = {"scan", "benchmark", "burn_in", "check"}
#: The parameters that become the backend's own settings when the action is queued.
KEPT = {"activate": ("priority",), "persist": ("persist",)}


def test_the_table_is_every_job_on_a_backend_and_says_what_is_pinned() -> None:
    host_jobs = {Job.Kind.DISCOVER, Job.Kind.TUNE, Job.Kind.EDIT}  # EDIT: PATCH, core.edits
    assert set(actions.BY_NAME) == set(Job.Kind.values) - host_jobs
    assert {
        a.name: (a.role, a.force, a.asks_first, a.reads_only, a.before_provision,
                 bool(a.adopted_writes), a.desired_after)
        for a in SPECS
    } == PINNED  # fmt: skip


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_each_reader_knows_the_entry(spec: actions.BackendAction) -> None:
    assert roles.ACTIONS[spec.name] == roles.GROUPS[PINNED[spec.name][0]]
    assert callable(HANDLERS[spec.name]) and HANDLERS[spec.name].__name__ == spec.name
    # Its parameters are checked once, by settings or by the services' function it names.
    assert not (spec.settings and spec.checks) and not (spec.force and spec.checks)
    assert (spec.checks == f"clean_{spec.name}") is (spec.name in CHECKED), spec.name
    if spec.checks:
        assert callable(getattr(services, spec.checks))
    assert spec.kept_on_the_row == KEPT.get(spec.name, ())
    # The page asks what the services check: a form of its own, or the settings form.
    assert bool(spec.page_form) is bool(spec.checks), spec.name
    if spec.page_form or spec.settings:
        assert issubclass(web_forms.ACTION_FORMS[spec.name], web_forms.ActionForm)
    else:
        assert spec.name not in web_forms.ACTION_FORMS
    # Its confirm page, if it has one, says in the words its entry names what it loses.
    assert bool(spec.loses) is (spec.force or spec.asks_first), spec.name
    if spec.loses:
        assert callable(getattr(views, spec.loses))
    # Its finished job's page reads its result with the reader it names, or as figures.
    assert spec.result_shown_by == ("" if spec.name not in SHOWN else spec.name), spec.name
    assert (spec.name in web_results.SHOWN_BY) is (spec.name in SHOWN)
    # Its confirm page says what force skips, if it takes force.
    assert bool(spec.force_skips) is spec.force, spec.name
    body = api_serializers.body_of(spec)
    assert issubclass(body, api_serializers.serializers.Serializer)
    # A body without force would drop it silently: a forced deactivate lost on the API.
    assert ("force" in body().fields) is spec.force, (spec.name, spec.body)
    if spec.api_path is not None:
        code = "00000000-0000-0000-0000-000000000000"
        url = reverse(f"api:backend-{spec.api_path}", args=[code])
        assert url == f"/api/v1/backends/{code}/{spec.api_path}/"
        assert getattr(BackendViewSet, spec.name).__doc__ == spec.summary
        assert BackendViewSet.role_actions[spec.name] == spec.name


def test_the_schema_describes_each_endpoint(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for spec in SPECS:
        if spec.api_path is None:
            continue
        post = paths[f"/api/v1/backends/{{uuid}}/{spec.api_path}/"]["post"]
        assert post["description"] == spec.summary
        assert ("409" in post["responses"]) is not spec.reads_only, spec.name
    # Destroy, the one action the API asks with DELETE, is described by its entry too: its
    # words, and its body's fields as the query's parameters.
    assert [s.name for s in SPECS if s.api_path is None] == ["destroy"]
    delete = paths["/api/v1/backends/{uuid}/"]["delete"]
    assert delete["description"] == actions.BY_NAME["destroy"].summary
    body = api_serializers.body_of(actions.BY_NAME["destroy"])
    query = {p["name"] for p in delete["parameters"] if p["in"] == "query"}
    assert query == set(body().fields)


@pytest.fixture
def made(db: None) -> Backend:
    host = Host.objects.create(name="h", kernel_release="test")
    return Backend.objects.create(
        host=host, kind="file", name="b", params={}, provisioned_at=timezone.now()
    )


def _change(backend: Backend, **fields: Any) -> None:
    Backend.objects.filter(pk=backend.pk).update(**fields)
    backend.refresh_from_db()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_force_without_the_typed_name_is_refused_exactly_where_the_table_says(
    spec: actions.BackendAction, made: Backend, alice: Any
) -> None:
    ask = {"force": True, "confirm": "not its name", "size_bytes": 64 << 20}
    who = Actor(alice, Job.Via.API)
    if spec.force:
        with pytest.raises(services.InvalidRequest, match="force needs the backend's name"):
            services.request_action(made, spec.name, who, ask)
        assert not Job.objects.exists()
        job = services.request_action(made, spec.name, who, {**ask, "confirm": made.name})
        assert job.params["force"] is True
    else:
        job = services.request_action(made, spec.name, who, ask)
        assert "force" not in job.params, job.params  # nothing to force: never passed on


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_a_backend_never_provisioned_takes_only_what_the_table_allows(
    spec: actions.BackendAction, made: Backend, alice: Any
) -> None:
    _change(made, provisioned_at=None)
    if spec.before_provision:
        job = services.request_action(made, spec.name, Actor(alice, Job.Via.API), {})
        assert job.kind == spec.name
    else:
        with pytest.raises(services.NotReady, match="no store proven to be swapadmin's"):
            services.request_action(made, spec.name, Actor(alice, Job.Via.API), {})


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_the_desired_state_and_the_wait_follow_the_table(
    spec: actions.BackendAction, made: Backend, alice: Any
) -> None:
    # Set apart from what the action asks for, so that a write is seen, and a wrong one too.
    before = "inactive" if spec.desired_after == "active" else "active"
    _change(made, desired_state=before)
    holder = Job.objects.create(host=made.host, backend=made, kind="scan", state="running")
    body = {"size_bytes": 64 << 20, "persist": False}
    if spec.reads_only:
        services.request_action(made, spec.name, Actor(alice, Job.Via.API), body)
    else:
        with pytest.raises(services.Conflict):
            services.request_action(made, spec.name, Actor(alice, Job.Via.API), body)
        holder.delete()
        services.request_action(made, spec.name, Actor(alice, Job.Via.API), body)
    made.refresh_from_db()
    assert made.desired_state == (spec.desired_after or before)


@pytest.mark.parametrize(
    ("spec", "forced"),
    [(s, False) for s in SPECS] + [(s, True) for s in SPECS if s.force],
    ids=lambda v: v.name if isinstance(v, actions.BackendAction) else ("forced" if v else "plain"),
)
def test_an_adopted_area_is_refused_what_would_write_it_and_offered_the_rest(
    spec: actions.BackendAction, forced: bool, made: Backend, alice: Any
) -> None:
    _change(made, adopted=True)
    offered = {a.name for a in views.offered_actions(made)}
    offered |= {t[0] for t in views.settings_forms(made)}
    offered |= {c.action for c in views.confirm_links(made)}
    # An inactive area (provisioned, not active) is offered activate, scan and benchmark,
    # the three tests' forms, check, and deactivate's and destroy's confirm pages: less,
    # on an adopted one, what would write its bytes.
    offerable = {"activate", "scan", "benchmark", "burn_in", "check", "destroy"}
    body: dict[str, Any] = {"size_bytes": 64 << 20, "persist": False}
    if forced:
        body |= {"force": True, "confirm": made.name}
    ask = (made, spec.name, Actor(alice, Job.Via.API), body)
    if PINNED[spec.name][5]:  # it writes an adopted area's bytes: refused, forced or not
        assert spec.name not in offered, offered
        assert not views._offerable(made, spec)  # nor its form (resize's), nor its page
        with pytest.raises(services.InvalidRequest) as e:
            services.request_action(*ask)
        [message] = e.value.errors["kind"]
        assert message.startswith(f"b was adopted, not made by swapadmin: {spec.adopted_writes}")
        assert message.endswith(
            "Destroy (release) it, which leaves its area as it is, and create a backend of "
            "your own. Nothing was done"
        )
        assert not Job.objects.exists()
        # Refused as a person would want it kept: in the audit log, with its words.
        [event] = AuditEvent.objects.filter(action=spec.name, outcome="refused")
        assert event.detail == {"reason": message}
    else:
        assert (spec.name in offered) is (spec.name in offerable), offered
        assert services.request_action(*ask)


def test_an_unproven_adopted_area_is_told_to_be_adopted_again_unless_it_is_gone(
    made: Backend, alice: Any
) -> None:
    # A row adopted before swapadmin recorded provisions: its way out is to be adopted again.
    _change(made, adopted=True, provisioned_at=None)
    with pytest.raises(services.InvalidRequest) as e:
        services.request_action(made, "provision", Actor(alice, Job.Via.API), {})
    [message] = e.value.errors["kind"]
    assert f"{services.ADOPT_AGAIN}. Nothing was done" in message, message
    # Gone from its host, it cannot be: only its row is left to remove.
    _change(made, observed_state=Backend.Observed.ABSENT)
    for kind in ("provision", "activate"):  # refused as adopted, and as never provisioned
        with pytest.raises((services.InvalidRequest, services.NotReady)) as e:
            services.request_action(made, kind, Actor(alice, Job.Via.API), {})
        said = str(getattr(e.value, "errors", e.value))
        assert "removes only its row: its area was not found on the host" in said, said
        assert "Destroy it, which leaves its area as it is" not in said, said
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_the_confirm_page_serves_what_takes_force_or_asks_first(
    spec: actions.BackendAction, made: Backend, client: Any, admin_user: Any
) -> None:
    client.force_login(admin_user)
    r = client.get(reverse("backend-confirm", args=[made.uuid, spec.name]))
    assert r.status_code == (200 if spec.force or spec.asks_first else 404)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["discover", "tune", "edit", "view", "nonsense"])
def test_a_kind_outside_the_table_is_no_action_on_a_backend(kind: str, alice: Any) -> None:
    host = Host.objects.create(name="h", kernel_release="test")
    backend = Backend.objects.create(host=host, kind="file", name="b", params={})
    with pytest.raises(services.InvalidRequest, match="is not an action on a backend|PATCH"):
        services.request_action(backend, kind, Actor(alice, Job.Via.API))
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_page_refuses_an_action_outside_the_table(client: Any, alice: Any) -> None:
    host = Host.objects.create(name="h", kernel_release="test")
    backend = Backend.objects.create(host=host, kind="file", name="b", params={})
    client.force_login(alice)
    r = client.post(f"/backends/{backend.uuid}/discover/")
    assert r.status_code == 404
    assert not Job.objects.exists()
