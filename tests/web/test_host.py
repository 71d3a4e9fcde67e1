from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import Backend, Host, Job, Sample

from .conftest import htmx, make_samples


def url(host: Host) -> str:
    return reverse("host", args=[host.uuid])


@pytest.mark.parametrize("who", ["alice", "oscar", "victor"])
def test_it_works_for_every_role(
    request: pytest.FixtureRequest, as_user: Any, observed_host: Host, backend: Backend, who: str
) -> None:
    r = as_user(request.getfixturevalue(who)).get(url(observed_host))
    assert r.status_code == 200
    body = r.content.decode()
    assert 'data-backend="swap1"' in body
    assert 'data-state="ready"' in body
    assert 'data-unmanaged="/dev/vdb2"' in body
    assert "postgres" in body and "300 MiB" in body  # top swap process
    assert '<section id="charts"' in body
    assert "<code>vm.swappiness</code> 60" in body


def test_it_refuses_an_account_without_a_role(
    as_user: Any, nora: User, observed_host: Host
) -> None:
    assert as_user(nora).get(url(observed_host)).status_code == 403


def test_a_viewer_sees_no_buttons(
    as_user: Any, victor: User, observed_host: Host, backend: Backend
) -> None:
    body = as_user(victor).get(url(observed_host)).content.decode()
    assert f'id="activate-{backend.uuid}"' not in body
    assert f'id="destroy-{backend.uuid}"' not in body
    assert 'id="adopt"' not in body
    assert 'id="tune-submit"' not in body


def test_an_operator_sees_operator_buttons_only(
    as_user: Any, oscar: User, observed_host: Host, backend: Backend
) -> None:
    body = as_user(oscar).get(url(observed_host)).content.decode()
    assert f'id="activate-{backend.uuid}"' in body
    assert f'id="scan-{backend.uuid}"' in body
    assert f'id="destroy-{backend.uuid}"' not in body
    assert 'id="adopt"' not in body
    assert 'id="tune-submit"' not in body


def test_an_admin_sees_every_button(
    as_user: Any, alice: User, observed_host: Host, backend: Backend
) -> None:
    body = as_user(alice).get(url(observed_host)).content.decode()
    assert f'id="activate-{backend.uuid}"' in body
    assert f'id="destroy-{backend.uuid}"' in body
    assert 'id="adopt"' in body
    assert 'id="tune-submit"' in body


def test_an_active_backend_offers_deactivate_and_shows_its_use(
    as_user: Any, oscar: User, observed_host: Host, backend: Backend
) -> None:
    Backend.objects.filter(pk=backend.pk).update(
        observed_state="active", used_bytes=64 << 20, active_priority=10
    )
    body = as_user(oscar).get(url(observed_host)).content.decode()
    assert f'id="deactivate-{backend.uuid}"' in body
    assert f'id="activate-{backend.uuid}"' not in body
    assert f'id="scan-{backend.uuid}"' not in body  # scan writes: refused while active
    assert 'data-used="67108864"' in body
    assert "64.0 MiB / 256 MiB" in body


def test_its_live_partial(
    as_user: Any, victor: User, observed_host: Host, backend: Backend
) -> None:
    r = as_user(victor).get(url(observed_host), headers=htmx("live"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="live"')
    assert 'data-backend="swap1"' in body
    assert 'hx-trigger="every 1s, swapadmin:changed from:body"' in body
    assert "charts" not in body and "<html" not in body


def test_it_shows_the_running_job_in_the_row(
    as_user: Any, victor: User, observed_host: Host, running_job: Job
) -> None:
    body = as_user(victor).get(url(observed_host), headers=htmx("live")).content.decode()
    assert 'hx-trigger="every 1s' in body
    assert f'data-job="{running_job.uuid}"' in body
    assert 'value="42"' in body
    assert "busy:" in body


def test_its_chart_partial_reads_the_samples_of_the_range(
    as_user: Any, victor: User, observed_host: Host
) -> None:
    from datetime import timedelta

    make_samples(observed_host, 30, timedelta(minutes=5), Sample.Resolution.MINUTE)
    r = as_user(victor).get(url(observed_host) + "?range=day", headers=htmx("charts"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="charts"')
    assert "Memory and swap, last day" in body
    assert "<polyline" in body
    assert 'id="range-day" aria-current="true"' in body
    empty = as_user(victor).get(url(observed_host) + "?range=hour", headers=htmx("charts"))
    assert "no samples in this range yet" in empty.content.decode()


def test_a_host_without_a_snapshot_still_renders(
    as_user: Any, victor: User, host_row: Host
) -> None:
    r = as_user(victor).get(url(host_row))
    assert r.status_code == 200
    assert "None: every active swap area" in r.content.decode()


def test_it_renders_a_real_sample_of_this_machine(
    as_user: Any, victor: User, host_row: Host
) -> None:
    from swapadmin.core.sampler import Reading, take_sample
    from swapadmin.web.templatetags.swapadmin_ui import iec

    take_sample(host_row, Reading())
    host_row.refresh_from_db()
    mem = host_row.observed["meminfo"]
    body = as_user(victor).get(url(host_row)).content.decode()
    used = mem["swap_total"] - mem["swap_free"]
    assert f"{iec(used)} / {iec(mem['swap_total'])}" in body
    assert f"of {iec(mem['mem_total'])}" in body
    assert f"<code>vm.swappiness</code> {host_row.observed['tunables']['swappiness']}" in body


def test_it_reads_the_users_role_once(
    as_user: Any, oscar: User, observed_host: Host, backend: Backend
) -> None:
    # Each button asks whether the user may use it: a query on the groups for each was 42 of
    # the page's 51 queries.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user(oscar)
    client.get(url(observed_host))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url(observed_host)).status_code == 200
    groups = [q for q in ctx.captured_queries if '"auth_user_groups"' in q["sql"]]
    assert len(groups) == 1


def test_an_adopted_area_offers_no_scan_or_benchmark(
    as_user: Any, alice: User, observed_host: Host, backend: Backend
) -> None:
    Backend.objects.filter(pk=backend.pk).update(adopted=True)
    body = as_user(alice).get(url(observed_host)).content.decode()
    assert f'id="activate-{backend.uuid}"' in body
    assert f'id="scan-{backend.uuid}"' not in body
    assert f'id="benchmark-{backend.uuid}"' not in body
