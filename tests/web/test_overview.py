from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Backend, Host
from swapadmin.health.models import BackendHealth, HostHealth

from .conftest import htmx


@pytest.mark.parametrize("who", ["alice", "oscar", "victor"])
def test_it_works_for_every_role(
    request: pytest.FixtureRequest, as_user: Any, observed_host: Host, who: str
) -> None:
    r = as_user(request.getfixturevalue(who)).get(reverse("overview"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "<html" in body
    assert 'data-host="testhost"' in body
    assert "512 MiB / 2.0 GiB" in body  # swap used of total
    assert "12/s / 40/s" in body  # swap-in / swap-out
    assert "3.3%" in body  # PSI some avg10
    assert 'hx-trigger="every 1s, swapadmin:changed from:body"' in body


def test_it_refuses_an_account_without_a_role(as_user: Any, nora: User) -> None:
    assert as_user(nora).get(reverse("overview")).status_code == 403


def test_its_htmx_partial_is_the_live_region_only(
    as_user: Any, victor: User, observed_host: Host
) -> None:
    r = as_user(victor).get(reverse("overview"), headers=htmx("live"))
    body = r.content.decode()
    assert r.status_code == 200
    assert body.lstrip().startswith('<section id="live"')
    assert "<html" not in body
    assert 'data-host="testhost"' in body


def test_it_shows_alerts_from_health(
    as_user: Any, victor: User, observed_host: Host, backend: Backend
) -> None:
    HostHealth.objects.create(host=observed_host, status="warn", summary="PSI some 30% over 10s")
    BackendHealth.objects.create(backend=backend, status="fail", summary="3 bad pages found")
    body = as_user(victor).get(reverse("overview")).content.decode()
    assert "warn: testhost — PSI some 30% over 10s" in body
    assert "fail: swap1 — 3 bad pages found" in body


def test_it_adds_up_the_fleet(as_user: Any, victor: User, observed_host: Host) -> None:
    other = Host.objects.create(
        name="other", observed=observed_host.observed, last_heartbeat=timezone.now()
    )
    assert other.online
    body = as_user(victor).get(reverse("overview")).content.decode()
    assert '<strong data-total="online">2 / 2</strong>' in body
    assert "1.0 GiB / 4.0 GiB" in body


def test_it_marks_an_offline_host(as_user: Any, victor: User, observed_host: Host) -> None:
    Host.objects.filter(pk=observed_host.pk).update(last_heartbeat=None)
    body = as_user(victor).get(reverse("overview")).content.decode()
    assert '<span class="state state-error">offline</span>' in body
    assert "worker offline" in body


def test_new_backend_button_only_for_admins(
    as_user: Any, alice: User, oscar: User, observed_host: Host
) -> None:
    assert 'id="new-backend"' in as_user(alice).get(reverse("overview")).content.decode()
    assert 'id="new-backend"' not in as_user(oscar).get(reverse("overview")).content.decode()


def test_an_htmx_request_for_another_target_gets_the_whole_page(
    as_user: Any, victor: User, observed_host: Host
) -> None:
    # htmx swapping a whole body (a boosted link, a redirect) must not get a fragment.
    r = as_user(victor).get(reverse("overview"), headers=htmx("main"))
    assert "<html" in r.content.decode()


def test_its_live_region_is_drawn_once_for_the_polls_of_a_moment(
    as_user: Any, victor: User, observed_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swapadmin.web import views

    monkeypatch.setattr(views, "LIVE_CACHE_SECONDS", 60)
    client = as_user(victor)
    first = client.get(reverse("overview"), headers=htmx("live")).content.decode()
    Host.objects.create(name="newcomer", observed=observed_host.observed)
    again = client.get(reverse("overview"), headers=htmx("live")).content.decode()
    assert again == first
    assert 'data-host="newcomer"' not in again
    # The whole page is drawn for each request: it holds the user's own buttons.
    assert 'data-host="newcomer"' in client.get(reverse("overview")).content.decode()
    monkeypatch.setattr(views, "_live_cache", (0.0, b"expired"))
    assert (
        'data-host="newcomer"'
        in client.get(reverse("overview"), headers=htmx("live")).content.decode()
    )


def test_it_counts_backends_and_alerts_per_host(
    as_user: Any, victor: User, observed_host: Host, backend: Backend
) -> None:
    Backend.objects.create(
        host=observed_host, kind="file", name="swap2", params={"path": "/var/swap/s2"},
        observed_state="active",
    )  # fmt: skip
    Backend.objects.create(
        host=observed_host, kind="file", name="gone", params={"path": "/var/swap/gone"},
        desired_state="absent", observed_state="absent",
    )  # fmt: skip
    BackendHealth.objects.create(backend=backend, status="ok", summary="fine")
    body = as_user(victor).get(reverse("overview")).content.decode()
    assert "1 of 2 backends active" in body  # a destroyed backend is not counted
    assert "fine" not in body
    assert "1 not managed" in body
