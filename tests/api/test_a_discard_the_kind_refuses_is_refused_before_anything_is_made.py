"""A discard policy that a kind's class says it never swaps on with (the user-space kind's
daemon refuses every discard) is refused when it is chosen: a create is a 400 naming the
field, with no row, no job and no store made; an edit is a 400 that changes nothing, and
no swapoff is queued (review finding: the kind refused it only at the swapon, after the
store, its daemon and its loop device were made, or after an edit's swapoff); the create
form's review refuses it before its summary. Another kind takes the same policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Job

from .conftest import PAGE, jobs_of

pytestmark = pytest.mark.django_db
REFUSED = "refuses every discard"


def test_a_create_with_a_discard_the_kind_refuses_makes_nothing(
    alice: User, host_row: Host, swap_root: Path, as_user: Callable[..., APIClient]
) -> None:
    body: dict[str, Any] = {
        "host": str(host_row.uuid),
        "kind": "userspace",
        "name": "uswap0",
        "size_bytes": 64 * PAGE,
        "discard": "pages",
        "activate": True,
        "params": {"path": str(swap_root / "uswap0")},
    }
    r = as_user(alice).post("/api/v1/backends/", body, format="json")
    assert r.status_code == 400, r.content
    assert REFUSED in str(r.json()["discard"])
    assert not Backend.objects.exists() and not Job.objects.exists()
    assert not (swap_root / "uswap0").exists()
    r = as_user(alice).post("/api/v1/backends/", {**body, "discard": ""}, format="json")
    assert r.status_code == 202, r.content


def test_an_edit_to_a_discard_the_kind_refuses_changes_nothing(
    alice: User,
    host_row: Host,
    swap_root: Path,
    make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
) -> None:
    active = {"observed_state": Backend.Observed.ACTIVE, "observed_at": timezone.now()}
    uswap = make_backend("uswap0", kind="userspace", **active)
    r = as_user(alice).patch(
        f"/api/v1/backends/{uswap.uuid}/", {"discard": "once", "apply": "now"}, format="json"
    )
    assert r.status_code == 400, r.content
    assert REFUSED in str(r.json()["discard"])
    uswap.refresh_from_db()
    assert uswap.discard == "" and jobs_of(uswap) == []
    swapfile = make_backend("swap1", **active)
    r = as_user(alice).patch(
        f"/api/v1/backends/{swapfile.uuid}/", {"discard": "once", "apply": "now"}, format="json"
    )
    assert r.status_code == 202, r.content


def test_the_create_forms_review_refuses_it_before_the_summary(
    client: Client, alice: User, host_row: Host, swap_root: Path
) -> None:
    client.force_login(alice)
    fields = {
        "host": str(host_row.uuid),
        "kind": "userspace",
        "name": "uswap1",
        "size_mib": "64",
        "priority": "",
        "discard": "once",
        "label": "",
        "param_path": str(swap_root / "uswap1"),
    }
    hx = {"HX-Request": "true", "HX-Target": "new-form"}
    r = client.post(reverse("backend-new"), fields, headers=hx)
    assert r.status_code == 422
    body = " ".join(r.content.decode().split())
    assert REFUSED in body and "What will happen" not in body
    assert not Backend.objects.exists() and not Job.objects.exists()
