"""Scan's, benchmark's and burn-in's whole-number settings are written once, in the action
table (``actions.Setting``), and the page's settings form, the API's body and the services'
own check are made from it: each takes its bounds and refuses one past them, naming the
setting, with nothing queued. ``PINNED`` says the bounds again, independently."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from swapadmin.core import actions, services
from swapadmin.core.models import Backend, Job

from .conftest import HTMX

pytestmark = pytest.mark.django_db

MIB = 1 << 20
#: action: {setting: (lowest, highest, default, the page's unit)}
PINNED: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "scan": {"patterns": (1, 4, 4, 1)},
    "benchmark": {"seconds": (1, 120, 5, 1)},
    "burn_in": {
        "seconds": (1, 3600, 30, 1),
        "memory_limit_bytes": (16 * MIB, 1 << 40, 64 * MIB, MIB),
        "hog_bytes": (16 * MIB, 1 << 40, 160 * MIB, MIB),
    },
}
#: (action, setting, value, taken): each bound, and one past it.
CASES = [
    (action, name, value, taken)
    for action, settings in PINNED.items()
    for name, (low, high, _, unit) in settings.items()
    for value, taken in ((low - unit, False), (low, True), (high, True), (high + unit, False))
]
IDS = [f"{a}-{n}-{'in' if t else 'out'}-{v}" for a, n, v, t in CASES]


def test_the_table_has_the_pinned_settings() -> None:
    for a in actions.BACKEND_ACTIONS:
        # The page shows a sentence over each settings form; a forced action's parameters
        # are force and its confirmation only (the services check those alone).
        assert bool(a.settings) is bool(a.settings_help), a.name
        assert not (a.settings and a.force), a.name
    table = {
        a.name: {s.name: (s.low, s.high, s.default, s.unit) for s in a.settings}
        for a in actions.BACKEND_ACTIONS
        if a.settings
    }
    assert table == PINNED


def _body(action: str, name: str, value: int) -> dict[str, int]:
    return {n: value if n == name else default for n, (_, _, default, _) in PINNED[action].items()}


@pytest.mark.parametrize(("action", "name", "value", "taken"), CASES, ids=IDS)
def test_the_api_takes_the_bounds(
    action: str, name: str, value: int, taken: bool, oscar: User, backend: Backend
) -> None:
    _, token = ApiToken.objects.create(oscar, expiry=timedelta(hours=1), name="t")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    path = actions.BY_NAME[action].api_path
    r = api.post(f"/api/v1/backends/{backend.uuid}/{path}/", _body(action, name, value),
                 format="json")  # fmt: skip
    if taken:
        assert r.status_code == 202, r.content
        assert Job.objects.get(backend=backend).params == _body(action, name, value)
    else:
        # DRF's own words: the body's bounds, not only the services' check behind them.
        assert r.status_code == 400, r.content
        assert any("equal to" in m for m in r.json()[name]), r.json()
        assert not Job.objects.exists()


@pytest.mark.parametrize(("action", "name", "value", "taken"), CASES, ids=IDS)
def test_the_services_take_the_bounds(
    action: str, name: str, value: int, taken: bool, oscar: User, backend: Backend
) -> None:
    # What a caller beside the API and the page (a schedule, a script) is held to.
    params = _body(action, name, value)
    if taken:
        job = services.request_action(backend, action, services.Actor(oscar, "api"), params)
        assert job.params == params
    else:
        with pytest.raises(services.InvalidRequest) as refused:
            services.request_action(backend, action, services.Actor(oscar, "api"), params)
        assert name in refused.value.errors
        assert not Job.objects.exists()


@pytest.mark.parametrize(("action", "name", "value", "taken"), CASES, ids=IDS)
def test_the_page_takes_the_bounds(
    action: str, name: str, value: int, taken: bool, as_user: Any, oscar: User, backend: Backend
) -> None:
    # The page asks sizes in MiB, under a field named for it (hog_mib).
    def field(n: str) -> str:
        return n.removesuffix("_bytes") + "_mib" if PINNED[action][n][3] == MIB else n

    posted = {
        field(n): str(v // PINNED[action][n][3]) for n, v in _body(action, name, value).items()
    }
    r = as_user(oscar).post(reverse("backend-action", args=[backend.uuid, action]), posted,
                            headers=HTMX)  # fmt: skip
    if taken:
        assert r.status_code == 200, r.content
        assert Job.objects.get(backend=backend).params == _body(action, name, value)
    else:
        assert r.status_code == 422
        assert "equal to" in r.content.decode()
        assert not Job.objects.exists()


def test_the_page_shows_the_bounds_and_defaults(
    as_user: Any, oscar: User, backend: Backend
) -> None:
    page = as_user(oscar).get(reverse("backend", args=[backend.uuid])).content.decode()
    assert 'name="hog_mib" value="160" min="16" max="1048576"' in page
    assert 'name="seconds" value="5" min="1" max="120"' in page
    assert 'name="patterns" value="4" min="1" max="4"' in page
