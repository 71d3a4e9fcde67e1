"""A backend whose provision never completed (its store was never proven swapadmin's): the
page says so, offers only provision (and force, to admins, through a page that says what it
overwrites) and destroy; any other action is refused with the reason, nothing queued."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Job

from .conftest import HTMX

pytestmark = pytest.mark.django_db


@pytest.fixture
def unprovisioned(backend: Backend) -> Backend:
    Backend.objects.filter(pk=backend.pk).update(provisioned_at=None)
    backend.refresh_from_db()
    return backend


def test_the_page_says_so_and_offers_provision_only(
    as_user: Any, alice: User, unprovisioned: Backend
) -> None:
    page = as_user(alice).get(reverse("backend", args=[unprovisioned.uuid])).content.decode()
    assert "not provisioned" in page
    assert f'id="provision-{unprovisioned.uuid}"' in page
    assert f'id="force-provision-{unprovisioned.uuid}"' in page
    assert f'id="destroy-{unprovisioned.uuid}"' in page
    for other in ("activate", "scan", "benchmark"):
        assert f'id="{other}-{unprovisioned.uuid}"' not in page


@pytest.mark.parametrize("action", ["activate", "scan", "benchmark", "burn_in", "persist"])
def test_other_actions_are_refused_with_the_reason(
    as_user: Any, alice: User, unprovisioned: Backend, action: str
) -> None:
    r = as_user(alice).post(reverse("backend-action", args=[unprovisioned.uuid, action]),
                            headers=HTMX)  # fmt: skip
    assert r.status_code == 409
    assert "has no store proven to be swapadmin" in r.content.decode()
    assert not Job.objects.exists()
    assert AuditEvent.objects.get(action=action).outcome == "refused"


def test_force_provision_says_what_it_overwrites_and_needs_the_name(
    as_user: Any, alice: User, unprovisioned: Backend
) -> None:
    client = as_user(alice)
    page = client.get(reverse("backend-confirm", args=[unprovisioned.uuid, "provision"]))
    assert page.status_code == 200
    assert "is overwritten with a swap area" in page.content.decode()
    action = reverse("backend-action", args=[unprovisioned.uuid, "provision"])
    wrong = client.post(action, {"force": "on", "confirm": "not-its-name"})
    assert wrong.status_code == 422 and not Job.objects.exists()
    client.post(action, {"force": "on", "confirm": unprovisioned.name})
    job = Job.objects.get(kind=Job.Kind.PROVISION)
    assert job.params == {"force": True}


def test_an_operator_may_not_force_it(as_user: Any, oscar: User, unprovisioned: Backend) -> None:
    action = reverse("backend-action", args=[unprovisioned.uuid, "provision"])
    r = as_user(oscar).post(action, {"force": "on", "confirm": unprovisioned.name})
    assert r.status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize("action", ["activate", "provision"])
def test_an_adopted_one_is_told_to_adopt_it_again_not_to_provision(
    as_user: Any, alice: User, unprovisioned: Backend, action: str
) -> None:
    # Adopted before provisions were recorded: a provision never takes an adopted area's
    # store, so the way out the page gives is destroy (the area kept) and discover.
    Backend.objects.filter(pk=unprovisioned.pk).update(adopted=True)
    r = as_user(alice).post(reverse("backend-action", args=[unprovisioned.uuid, action]),
                            headers=HTMX)  # fmt: skip
    body = r.content.decode()
    assert r.status_code in (409, 422), body
    assert "then adopt the area again: from its host" in body
    assert "Provision it again" not in body
    assert not Job.objects.exists()
