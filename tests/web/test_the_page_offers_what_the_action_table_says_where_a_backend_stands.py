"""A backend's page offers the buttons and confirm links the action table gives where the
backend stands (``actions.BackendAction.offered_in``, ``confirm_in``), the same on the host's
page, and only those the user's role allows. ``PINNED`` says again, independently, what each
stage offers: a change to the table fails here, not only in the page built from it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core import actions
from swapadmin.core.models import Backend
from swapadmin.web import views

pytestmark = pytest.mark.django_db

#: stage: (the row's fields that put a provisioned, inactive backend there; its buttons;
#: its confirm links), each as the element's id before the backend's uuid.
PINNED: dict[str, tuple[dict[str, Any], list[str], list[str]]] = {
    "unproven": ({"provisioned_at": None}, ["provision", "check"], ["force-provision", "destroy"]),
    "gone": ({"observed_state": "absent"}, ["provision", "check"], ["destroy"]),
    "leaving": ({"provisioned_at": None, "desired_state": "absent"}, ["check"], ["destroy"]),
    "inactive": ({}, ["activate", "scan", "benchmark", "check"], ["destroy"]),
    "active": ({"observed_state": "active"}, ["deactivate", "burn_in", "check"],
               ["force-deactivate", "destroy"]),
    # Whether it is active cannot be told: only a check, which looks again.
    "indeterminate": ({"observed_state": "indeterminate"}, ["check"], []),
}  # fmt: skip


#: stage: what an adopted area there is offered (buttons, links). Nothing that takes its
#: store or writes its bytes: no scan, no benchmark, no provision (plain or forced).
ADOPTED: dict[str, tuple[list[str], list[str]]] = {
    "unproven": (["check"], ["destroy"]),
    "gone": (["check"], ["destroy"]),
    "leaving": (["check"], ["destroy"]),
    "inactive": (["activate", "check"], ["destroy"]),
    "active": (["deactivate", "burn_in", "check"], ["force-deactivate", "destroy"]),
    "indeterminate": (["check"], []),
}


def _put(backend: Backend, **fields: Any) -> Backend:
    Backend.objects.filter(pk=backend.pk).update(**fields)
    backend.refresh_from_db()
    return backend


def _offered(page: str, backend: Backend) -> tuple[list[str], list[str]]:
    """The ids of the page's buttons and confirm links for ``backend``, in page order."""
    tail = f"-{backend.uuid}"
    buttons = re.findall(rf'<button type="submit"[^>]* id="([\w-]+){tail}"', page)
    links = re.findall(rf'<a role="button"[^>]* id="([\w-]+){tail}"', page)
    return [b for b in buttons if b != "cancel"], links


def _offered_to(as_user: Any, user: User, backend: Backend) -> tuple[list[str], list[str]]:
    """What ``backend``'s own page offers ``user``."""
    page = as_user(user).get(reverse("backend", args=[backend.uuid])).content.decode()
    return _offered(page, backend)


def test_every_stage_is_pinned() -> None:
    assert set(PINNED) == actions.STAGES


@pytest.mark.parametrize("stage", sorted(PINNED))
def test_the_backend_and_host_pages_offer_what_the_stage_is_given(
    as_user: Any, alice: User, backend: Backend, stage: str
) -> None:
    fields, buttons, links = PINNED[stage]
    _put(backend, **fields)
    assert views.stage_of(backend) == stage
    client = as_user(alice)
    on_backend = client.get(reverse("backend", args=[backend.uuid])).content.decode()
    on_host = client.get(reverse("host", args=[backend.host.uuid])).content.decode()
    assert _offered(on_backend, backend) == (buttons, links)
    assert _offered(on_host, backend) == (buttons, links)


@pytest.mark.parametrize("stage", sorted(PINNED))
def test_an_operator_is_shown_neither_force_nor_destroy(
    as_user: Any, oscar: User, backend: Backend, stage: str
) -> None:
    fields, buttons, _ = PINNED[stage]
    _put(backend, **fields)
    # Provision is an admin's; the rest of the buttons an operator's.
    assert _offered_to(as_user, oscar, backend) == ([b for b in buttons if b != "provision"], [])


@pytest.mark.parametrize("stage", sorted(PINNED))
def test_an_adopted_area_is_offered_nothing_that_writes_its_bytes(
    as_user: Any, alice: User, backend: Backend, stage: str
) -> None:
    fields, _, _ = PINNED[stage]
    _put(backend, adopted=True, **fields)
    assert _offered_to(as_user, alice, backend) == ADOPTED[stage]
    on_host = as_user(alice).get(reverse("host", args=[backend.host.uuid])).content.decode()
    assert _offered(on_host, backend) == ADOPTED[stage]


def test_an_adopted_area_never_recorded_is_not_offered_provision_even_while_active(
    as_user: Any, alice: User, backend: Backend
) -> None:
    # A row adopted before provisions were recorded: destroyed (its area kept) and adopted
    # again, never provisioned.
    _put(backend, adopted=True, provisioned_at=None, observed_state="active")
    assert _offered_to(as_user, alice, backend) == (["check"], ["destroy"])


@pytest.mark.parametrize("stage", sorted(PINNED))
def test_a_viewer_is_offered_nothing(
    as_user: Any, victor: User, backend: Backend, stage: str
) -> None:
    _put(backend, **PINNED[stage][0])
    assert _offered_to(as_user, victor, backend) == ([], [])


def test_a_destroyed_row_gone_from_its_host_is_leaving_on_the_page(
    as_user: Any, alice: User, backend: Backend
) -> None:
    _put(backend, observed_state="absent", desired_state="absent")
    assert _offered_to(as_user, alice, backend) == (["check"], ["destroy"])


def test_the_links_say_what_they_do(as_user: Any, alice: User, backend: Backend) -> None:
    _put(backend, observed_state="active")
    page = as_user(alice).get(reverse("backend", args=[backend.uuid])).content.decode()
    force = reverse("backend-confirm", args=[backend.uuid, "deactivate"])
    destroy = reverse("backend-confirm", args=[backend.uuid, "destroy"])
    assert re.search(rf'aria-label="Deactivate swap1 with force…" href="{force}">Force…</a>', page)
    assert re.search(rf'data-action="destroy" aria-label="Destroy swap1…" href="{destroy}">'
                     r"Destroy…</a>", page)  # fmt: skip


@pytest.mark.parametrize(("action", "proven", "status"), [
    ("provision", False, 404), ("deactivate", True, 200), ("destroy", False, 200),
    # Never provisioned: the services refuse a deactivate of it, so no page asks one.
    ("deactivate", False, 404),
])  # fmt: skip
def test_no_confirm_page_offers_a_force_an_adopted_area_refuses(
    as_user: Any, alice: User, backend: Backend, action: str, proven: bool, status: int
) -> None:
    _put(backend, adopted=True, provisioned_at=backend.provisioned_at if proven else None)
    url = reverse("backend-confirm", args=[backend.uuid, action])
    assert as_user(alice).get(url).status_code == status


#: The buttons drawn as the page's primary one, pinned apart from the table's ``primary``:
#: the action that puts the area to use where it stands. Every other button is secondary.
PRIMARY = {"provision", "activate"}


@pytest.mark.parametrize("stage", sorted(PINNED))
def test_the_button_that_puts_the_area_to_use_is_the_primary_one(
    as_user: Any, alice: User, backend: Backend, stage: str
) -> None:
    _put(backend, **PINNED[stage][0])
    page = as_user(alice).get(reverse("backend", args=[backend.uuid])).content.decode()
    drawn = re.findall(
        rf'<button type="submit" class="([\w ]+)" id="([\w-]+)-{backend.uuid}"', page
    )
    classes = {name: set(cls.split()) for cls, name in drawn if name != "cancel"}
    assert sorted(classes) == sorted(PINNED[stage][1])
    for name, cls in classes.items():
        assert ("secondary" not in cls) == (name in PRIMARY), (name, cls)
