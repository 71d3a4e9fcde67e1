"""While whether an area is active cannot be told (observed_state "indeterminate"), a
backend's used_bytes and active_priority are the figures last seen, kept so a person can
judge, not the kernel's word now: the schema says so of both fields, and a reader is given
the verdict and its reason beside them (review 159). The second test is a guard: the
fields were there before."""

from __future__ import annotations

from typing import Any

import pytest

from swapadmin.core.models import Backend

pytestmark = pytest.mark.django_db

MiB = 1 << 20
WHY = "cannot tell whether the zram (compressed RAM) area is active: no boot id"


def test_the_schema_says_the_figures_are_as_last_seen(as_user: Any, alice) -> None:
    schema = as_user(alice).get("/api/schema/?format=json").json()
    fields = schema["components"]["schemas"]["Backend"]["properties"]
    for name in ("used_bytes", "active_priority"):
        assert "'indeterminate', " in fields[name]["description"], name
        assert "last seen, not now" in fields[name]["description"], name


def test_a_backend_gives_its_last_seen_figures_beside_the_verdict(
    as_user: Any, alice, host_row
) -> None:
    b = Backend.objects.create(host=host_row, kind="zram", name="z", params={},
                               size_bytes=32 * MiB, used_bytes=5 * MiB, active_priority=100,
                               observed_state=Backend.Observed.INDETERMINATE,
                               observed_error=WHY)  # fmt: skip
    got = as_user(alice).get(f"/api/v1/backends/{b.uuid}/").json()
    assert {k: got[k] for k in ("observed_state", "observed_error", "used_bytes")} == {
        "observed_state": "indeterminate",
        "observed_error": WHY,
        "used_bytes": 5 * MiB,
    }
    assert got["active_priority"] == 100
