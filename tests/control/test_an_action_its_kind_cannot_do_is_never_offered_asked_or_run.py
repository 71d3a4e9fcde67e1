"""An action that only some kinds can do (a resize, a persist) says so in the action table
(``kind_can``: the plugin class's attribute that must be True). Every reader works from it:
the request is refused with one sentence and audited, the worker refuses a queued job
before the plugin is built, the backend's page offers neither the resize form nor the fstab
toggle, and the create and edit forms do not ask persist of such a kind. The page also no
longer offers either of a backend never provisioned, which the request refuses too. An
adopted area's recorded fstab line is its own, whatever its kind. Runs without root:
nothing here touches the host."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backends.base import SwapBackend
from swapadmin.core import actions, edits, services
from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.core.services import Actor, InvalidRequest, NotReady
from tests.control.test_run_job_directly import job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20

#: Said apart from the table: the actions only some kinds can do, and what says a kind can.
KIND_CAN = {"resize": "resizable", "persist": "persistable"}

#: (kind, action, body) that the kind cannot do, as a user would ask them.
CANNOT = [
    ("block", "resize", {"size_bytes": 64 * MiB}),
    ("zram", "persist", {"persist": True}),
    # Removing a line no fstab can hold is refused too: the worker could only fail it.
    ("zram", "persist", {"persist": False}),
    ("loop", "persist", {"persist": True}),
]
#: The same actions of kinds that can do them: queued, which shows the gate is the kind's.
CAN = [
    ("file", "resize", {"size_bytes": 64 * MiB}),
    ("zram", "resize", {"size_bytes": 64 * MiB}),
    ("file", "persist", {"persist": True}),
    ("block", "persist", {"persist": False}),
]

PARAMS = {
    "file": lambda root: {"path": str(root / "area")},
    "block": lambda root: {"device": str(root / "no-such-device")},
    "loop": lambda root: {"path": str(root / "area")},
    "zram": lambda root: {},
}


def a_row(host, swap_root, kind: str, **kw) -> Backend:
    fields = {"provisioned_at": timezone.now(), "size_bytes": 32 * MiB, **kw}
    return Backend.objects.create(
        host=host, kind=kind, name=f"{kind}-area", params=PARAMS[kind](swap_root), **fields
    )


NO_LINE = "does not survive a reboot under the same name, so it cannot be kept in the fstab"
#: The refusals' words, pinned apart from the table.
WORDS = {
    ("block", "resize"): "an area of the block device kind cannot be resized",
    ("zram", "persist"): f"an area of the zram (compressed RAM) kind {NO_LINE}",
    ("loop", "persist"): f"an area of the loop device kind {NO_LINE}",
}


def refusal(kind: str, action: str) -> str:
    return WORDS[kind, action]


def test_the_table_says_which_actions_need_the_kind_to_say_it_can() -> None:
    assert {a.name: a.kind_can for a in actions.BACKEND_ACTIONS if a.kind_can} == KIND_CAN
    for spec in actions.BACKEND_ACTIONS:
        assert bool(spec.kind_cannot) is bool(spec.kind_can), spec.name
        if spec.kind_can:
            # A flag every kind has, False unless the kind says otherwise.
            assert getattr(SwapBackend, spec.kind_can) is False


@pytest.mark.parametrize(("kind", "action", "body"), CANNOT, ids=str)
@pytest.mark.parametrize("proven", [True, False], ids=["provisioned", "never-provisioned"])
def test_the_request_is_refused_in_the_tables_words_and_audited(
    host_row, swap_root, alice: User, kind, action, body, proven
) -> None:
    backend = a_row(host_row, swap_root, kind, provisioned_at=timezone.now() if proven else None)
    with pytest.raises(InvalidRequest) as refused:
        services.request_action(backend, action, Actor(alice, Job.Via.API), body)
    # Before the never-provisioned refusal: provisioning would not make the kind able.
    assert refused.value.errors == {"kind": [refusal(kind, action)]}
    assert not Job.objects.exists()
    event = AuditEvent.objects.get(action=action, outcome="refused")
    assert event.detail == {"reason": refusal(kind, action)}


@pytest.mark.parametrize(("kind", "action", "body"), CAN, ids=str)
def test_a_kind_that_can_is_queued(host_row, swap_root, alice: User, kind, action, body) -> None:
    backend = a_row(host_row, swap_root, kind)
    job = services.request_action(backend, action, Actor(alice, Job.Via.API), body)
    assert job.kind == action and job.state == Job.State.QUEUED


def test_a_kind_not_installed_here_cannot_say_it_can(host_row, swap_root, alice: User) -> None:
    backend = Backend.objects.create(
        host=host_row, kind="not-installed-here", name="theirs", params={},
        provisioned_at=timezone.now(),
    )  # fmt: skip
    with pytest.raises(InvalidRequest) as refused:
        services.request_action(backend, "resize", Actor(alice, Job.Via.API), {"size_bytes": MiB})
    assert "'not-installed-here' kind is not installed" in refused.value.errors["kind"][0]
    assert not Job.objects.exists()


#: An adopted zram device's state, as discover records the line it was adopted from.
OWN_LINE = {"fstab_spec": "LABEL=zram-swap"}


@pytest.mark.parametrize("state", [OWN_LINE, {}], ids=["own-line", "no-line"])
def test_an_adopted_area_with_its_own_fstab_line_may_keep_it(
    host_row, swap_root, alice: User, state
) -> None:
    # The line an area was adopted from is its own, whatever its kind can spell; with none
    # recorded, the worker could spell none either, so it is refused as any zram device is.
    backend = a_row(host_row, swap_root, "zram", adopted=True, state=state)
    who = Actor(alice, Job.Via.API)
    if state:
        assert services.request_action(backend, "persist", who, {}).params == {"persist": True}
    else:
        with pytest.raises(InvalidRequest) as refused:
            services.request_action(backend, "persist", who, {})
        assert refused.value.errors == {"kind": [refusal("zram", "persist")]}
        assert not Job.objects.exists()
    # A never-provisioned row is still refused as such: only the kind's gate is waived.
    Job.objects.all().delete()
    Backend.objects.filter(pk=backend.pk).update(provisioned_at=None)
    backend.refresh_from_db()
    with pytest.raises(NotReady if state else InvalidRequest):
        services.request_action(backend, "persist", who, {})


@pytest.mark.parametrize("state", [OWN_LINE, {}], ids=["own-line", "no-line"])
def test_an_edit_turning_persist_on_reads_the_same_gate(
    host_row, swap_root, alice: User, state
) -> None:
    # The edit (PATCH, Edit settings) asks what a request asks: the recorded line is the
    # area's own; without one, the kind's words, on the edit's own field, and nothing kept.
    backend = a_row(host_row, swap_root, "zram", adopted=True, state=state)
    who = Actor(alice, Job.Via.API)
    if state:
        edit = edits.edit_backend(backend, who, {"persist": True})
        assert edit.job is not None and edit.job.kind == Job.Kind.PERSIST
        assert edit.job.params == {"persist": True}
        backend.refresh_from_db()
        assert backend.persist is True
        assert AuditEvent.objects.filter(object_uuid=backend.uuid, action="edit").count() == 1
        return
    with pytest.raises(InvalidRequest) as refused:
        edits.edit_backend(backend, who, {"persist": True})
    assert refused.value.errors == {"persist": [refusal("zram", "persist")]}
    backend.refresh_from_db()
    assert backend.persist is False and not Job.objects.exists()


@pytest.mark.parametrize(("kind", "action", "body"), CANNOT, ids=str)
@pytest.mark.parametrize("proven", [True, False], ids=["provisioned", "never-provisioned"])
def test_a_queued_job_is_refused_by_the_worker_before_its_plugin(
    host_row, swap_root, settings, kind, action, body, proven
) -> None:
    # Put straight into the database, as a row written past the request's check would be.
    # The block row names no device: building its plugin would fail, with other words. A
    # never-provisioned row is refused by its kind first, as the request refuses it.
    backend = a_row(host_row, swap_root, kind, provisioned_at=timezone.now() if proven else None)
    job = run(job_for(backend, action, **body))
    assert job.state == Job.State.FAILED
    assert job.error == f"{backend.name}: {refusal(kind, action)}. Nothing was done.", job.error
    assert not settings.SWAPADMIN_FSTAB.exists()


def page(client: Client, user: User, backend: Backend) -> str:
    client.force_login(user)
    response = client.get(reverse("backend", args=[backend.uuid]))
    assert response.status_code == 200
    return response.content.decode()


#: kind, adopted, provisioned: (the resize form, the fstab toggle) offered to an admin.
OFFERED = [
    ("file", False, True, (True, True)),
    ("block", False, True, (False, True)),
    ("zram", False, True, (True, False)),
    ("loop", False, True, (True, False)),
    # Never provisioned: the request refuses both, so the page offers neither.
    ("file", False, False, (False, False)),
    # Adopted: never resized (it would write the area); its fstab line, if recorded, is
    # its own to keep.
    ("zram", True, True, (False, False)),
    ("zram-own-line", True, True, (False, True)),
]


@pytest.mark.parametrize(("kind", "adopted", "proven", "offered"), OFFERED, ids=str)
def test_the_page_offers_only_what_the_request_would_queue(
    client: Client, host_row, swap_root, alice: User, kind, adopted, proven, offered
) -> None:
    state = OWN_LINE if kind == "zram-own-line" else {}
    backend = a_row(
        host_row, swap_root, kind.removesuffix("-own-line"), adopted=adopted, state=state,
        provisioned_at=timezone.now() if proven else None,
    )  # fmt: skip
    html = page(client, alice, backend)
    assert ('id="resize-submit"' in html, 'id="persist-toggle"' in html) == offered
    # And what it offers is what the services accept.
    for action, shown in zip(("resize", "persist"), offered, strict=True):
        body = {"size_bytes": 64 * MiB} if action == "resize" else {}
        try:
            services.request_action(backend, action, Actor(alice, Job.Via.PAGE), body)
        except (InvalidRequest, NotReady):
            assert not shown, action
        else:
            assert shown, action
            Job.objects.all().delete()


@pytest.mark.parametrize(("kind", "shown"), [("file", True), ("block", True), ("zram", False),
                                             ("loop", False)])  # fmt: skip
def test_the_create_form_asks_persist_only_of_a_kind_that_can(
    client: Client, host_row, alice: User, kind, shown
) -> None:
    client.force_login(alice)
    html = client.get(reverse("backend-new"), {"kind": kind}).content.decode()
    assert 'name="name"' in html  # the form is drawn
    assert ('name="persist"' in html) is shown


@pytest.mark.parametrize(("kind", "persist", "shown"), [
    ("file", False, True), ("zram", False, False),
    # Set to persist before that was refused: the field stays, to turn it off.
    ("zram", True, True),
])  # fmt: skip
def test_the_edit_form_asks_persist_only_where_it_can_be_asked(
    client: Client, host_row, swap_root, alice: User, kind, persist, shown
) -> None:
    backend = a_row(host_row, swap_root, kind, persist=persist)
    client.force_login(alice)
    html = client.get(reverse("backend-edit", args=[backend.uuid])).content.decode()
    assert 'name="auto_repair"' in html  # the form is drawn
    assert ('name="persist"' in html) is shown
    if shown:
        return
    # A hand-made post of the field not shown changes nothing of it.
    body = {"auto_repair": "on", "persist": "on", "apply": "next_activation"}
    r = client.post(reverse("backend-edit", args=[backend.uuid]), body)
    assert r.status_code == 302, r.content
    backend.refresh_from_db()
    assert backend.auto_repair and not backend.persist and not Job.objects.exists()


@pytest.mark.parametrize("proven", [True, False], ids=["provisioned", "never-provisioned"])
def test_persist_set_from_before_is_turned_off_on_the_row_alone(
    client: Client, host_row, swap_root, alice: User, proven
) -> None:
    # A zram row set to persist before that was refused: the health check says to turn it
    # off; there is no line to remove, so nothing is asked of the host, provisioned or not.
    backend = a_row(
        host_row, swap_root, "zram", persist=True,
        provisioned_at=timezone.now() if proven else None,
    )  # fmt: skip
    who = Actor(alice, Job.Via.API)
    if proven:
        # The persist action is refused, and says the way out.
        with pytest.raises(InvalidRequest) as refused:
            services.request_action(backend, "persist", who, {"persist": False})
        [said] = refused.value.errors["kind"]
        assert said.startswith(refusal("zram", "persist")) and "Edit settings (PATCH)" in said
    client.force_login(alice)
    body = {"persist": "", "apply": "next_activation"}  # the box unticked
    r = client.post(reverse("backend-edit", args=[backend.uuid]), body)
    assert r.status_code == 302, r.content
    backend.refresh_from_db()
    assert not backend.persist and not Job.objects.exists()
    event = AuditEvent.objects.get(action="edit")
    assert event.outcome == "ok" and event.detail["changes"] == {"persist": [True, False]}
