from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import Backend, Job
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent

from .conftest import htmx


def url(b: Backend) -> str:
    return reverse("backend", args=[b.uuid])


@pytest.mark.parametrize("who", ["alice", "oscar", "victor"])
def test_it_works_for_every_role(
    request: pytest.FixtureRequest, as_user: Any, backend: Backend, who: str
) -> None:
    r = as_user(request.getfixturevalue(who)).get(url(backend))
    assert r.status_code == 200
    body = r.content.decode()
    assert "fastswap" in body  # header label
    assert "0b1c2d3e-0000-4000-8000-000000000001" in body  # header UUID
    assert "2: <span" in body and "7, 9" in body  # bad pages
    assert "ext4" in body and "no holes" in body  # file extents
    assert '<svg class="chart"' in body


def test_it_refuses_an_account_without_a_role(as_user: Any, nora: User, backend: Backend) -> None:
    assert as_user(nora).get(url(backend)).status_code == 403


def test_buttons_follow_the_role(
    as_user: Any, victor: User, oscar: User, alice: User, backend: Backend
) -> None:
    seen = {}
    for user in (victor, oscar, alice):
        body = as_user(user).get(url(backend)).content.decode()
        seen[user.username] = {
            a for a in ("activate", "scan", "destroy") if f'id="{a}-{backend.uuid}"' in body
        } | ({"resize"} if 'id="resize-submit"' in body else set())
    assert seen == {
        "victor": set(),
        "oscar": {"activate", "scan"},
        "alice": {"activate", "scan", "destroy", "resize"},
    }


def test_its_live_partial_shows_the_running_job(
    as_user: Any, victor: User, running_job: Job
) -> None:
    assert running_job.backend is not None
    r = as_user(victor).get(url(running_job.backend), headers=htmx("live"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="live"')
    assert 'hx-trigger="every 1s' in body
    assert 'value="42"' in body and "pattern 2 of 4" in body
    assert "fastswap" in body  # the header is live too: a scan rewrites it
    assert "Health history" not in body and "<html" not in body


def test_it_shows_health_and_its_history(as_user: Any, victor: User, backend: Backend) -> None:
    result = CheckResult.objects.create(
        host=backend.host,
        backend=backend,
        status="warn",
        findings=[{"check": "badpages", "status": "warn", "message": "2 bad pages", "value": 2}],
    )
    BackendHealth.objects.create(
        backend=backend, status="warn", summary="2 bad pages", last_result=result
    )
    HealthEvent.objects.create(
        host=backend.host,
        backend=backend,
        backend_name=backend.name,
        from_status="ok",
        to_status="warn",
        message="2 bad pages",
    )
    body = as_user(victor).get(url(backend)).content.decode()
    assert '<span class="alert alert-warn">warn</span>' in body
    assert "badpages: 2 bad pages" in body
    assert "ok → warn" in body


def test_a_zram_backend_shows_its_compression(as_user: Any, victor: User, backend: Backend) -> None:
    Backend.objects.filter(pk=backend.pk).update(
        kind="zram",
        info={
            "device": "/dev/zram5",
            "algorithm": "zstd",
            "orig_data_size": 300 << 20,
            "compr_data_size": 100 << 20,
            "compression_ratio": 3.0,
            "mem_used_total": 110 << 20,
        },
    )
    body = as_user(victor).get(url(backend)).content.decode()
    assert "300 MiB in 100 MiB" in body and "ratio 3.00" in body


def test_an_adopted_area_offers_no_scan_benchmark_or_resize(
    as_user: Any, alice: User, backend: Backend
) -> None:
    # Each would write the bytes of a file or device swapadmin did not make.
    Backend.objects.filter(pk=backend.pk).update(adopted=True)
    body = as_user(alice).get(url(backend)).content.decode()
    assert f'id="activate-{backend.uuid}"' in body and f'id="destroy-{backend.uuid}"' in body
    assert f'id="scan-{backend.uuid}"' not in body
    assert f'id="benchmark-{backend.uuid}"' not in body
    assert 'id="resize-submit"' not in body
