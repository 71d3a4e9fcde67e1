"""In the Django admin, hosts, backends, jobs, the audit trail and what the checks write
are shown, never added, changed or deleted, one at a time or in bulk, by an admin or by a
superuser: those rows belong to the services (validated, audited, jobs queued) and the
workers. Deleting a host here would drop its backends' rows while their swap areas stay
on the machine."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import models

from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent, HostHealth

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(host_row: Host, alice: User) -> dict[str, models.Model]:
    backend = Backend.objects.create(host=host_row, kind="file", name="swap0", params={})
    job = Job.objects.create(host=host_row, backend=backend, backend_name="swap0", kind="check")
    result = CheckResult.objects.create(host=host_row, backend=backend, status="ok", findings=[])
    return {
        "core/host": host_row,
        "core/backend": backend,
        "core/job": job,
        "core/auditevent": AuditEvent.objects.create(
            actor_name="alice",
            via="page",
            action="create",
            object_type="backend",
            object_repr="swap0",
            host=host_row,
            outcome="ok",
        ),  # fmt: skip
        "health/backendhealth": BackendHealth.objects.create(backend=backend, status="ok"),
        "health/hosthealth": HostHealth.objects.create(host=host_row, status="ok"),
        "health/checkresult": result,
        "health/healthevent": HealthEvent.objects.create(
            host=host_row, backend_name="swap0", from_status="ok", to_status="fail"
        ),
    }


@pytest.fixture(params=["alice", "superuser"])
def admin_client(request, client):
    if request.param == "superuser":
        user = User.objects.create_superuser("root", "", "x")
    else:
        user = request.getfixturevalue("alice")
    client.force_login(user)
    return client


MODELS = [
    "core/host", "core/backend", "core/job", "core/auditevent",
    "health/backendhealth", "health/hosthealth", "health/checkresult", "health/healthevent",
]  # fmt: skip


def snapshot(obj: models.Model) -> dict[str, object]:
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("model", MODELS)
def test_its_pages_show_the_row(admin_client, rows, model):
    obj = rows[model]
    listing = admin_client.get(f"/admin/{model}/")
    assert listing.status_code == 200
    page = admin_client.get(f"/admin/{model}/{obj.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="_save"' not in body  # no Save: the page shows data only
    assert f"/admin/{model}/{obj.pk}/delete/" not in body
    assert 'name="action"' not in listing.content.decode()  # no bulk actions at all


@pytest.mark.parametrize("model", MODELS)
def test_it_cannot_be_added_changed_or_deleted(admin_client, rows, model):
    obj = rows[model]
    before = snapshot(obj)
    count = type(obj).objects.count()

    assert admin_client.get(f"/admin/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/{model}/add/", {"name": "evil"}).status_code == 403
    changed = admin_client.post(
        f"/admin/{model}/{obj.pk}/change/", {"name": "evil", "_save": "Save"}
    )
    assert changed.status_code == 403
    assert admin_client.get(f"/admin/{model}/{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/{model}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        f"/admin/{model}/",
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)  # "no action selected", nothing done

    assert type(obj).objects.count() == count
    assert snapshot(obj) == before
