"""A finished job's page reads its result as a person would: a scan's pages, bad pages and
verdict; a benchmark's throughput and latency table; a burn-in's swap use, OOM kills and
verdict; a check's findings. The JSON is one click away, in a closed <details>, whole.

The results are built by the same dataclasses the worker's handlers return (pageio,
burnin, probes), so a renamed field shows up here as a missing figure; the last test reads
the pages of a scan and a benchmark a real worker ran."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from backends import burnin, pageio
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.probes import Finding
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job


def finished(backend: Backend, kind: str, result: dict[str, Any]) -> Job:
    return Job.objects.create(
        kind=kind,
        host=backend.host,
        backend=backend,
        backend_name=backend.name,
        state=Job.State.SUCCEEDED,
        progress=100,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        result=result,
    )


def page_of(client: Any, job: Job) -> str:
    r = client.get(reverse("job", args=[job.uuid]))
    assert r.status_code == 200
    return str(r.content.decode())


def result_section(body: str) -> str:
    found = re.search(r'<section id="result".*?</section>', body, re.S)
    assert found, "no result section on the job page"
    return found.group(0)


def json_in_details(body: str) -> Any:
    """The JSON the page keeps in its <details>, which must be closed (one click away)."""
    found = re.search(
        r"<details([^>]*)>\s*<summary>([^<]*)</summary>\s*<pre[^>]*>(.*?)</pre>", body, re.S
    )
    assert found, "no <details> holding the result's JSON"
    assert "open" not in found.group(1)
    return json.loads(html.unescape(found.group(3)))


def test_a_scan_shows_its_pages_bad_pages_and_verdict(
    as_user: Any, victor: User, backend: Backend
) -> None:
    scan = pageio.ScanResult(
        pages=65536, patterns=4, bad_pages=[7, 9, 4096], seconds=3.25,
        bytes_written=4 * (256 << 20), bytes_read=4 * (256 << 20),
    )  # fmt: skip
    job = finished(backend, Job.Kind.SCAN, {"scan": scan.to_dict(), "header": backend.header})
    body = page_of(as_user(victor), job)
    section = result_section(body)
    assert 'data-verdict="warn"' in section
    assert "3 bad pages of 65,536" in section
    assert '<p class="mono bad-pages">7, 9, 4096</p>' in section
    assert "<dt>Pages</dt><dd>65,536" in section
    assert "<dt>Written</dt><dd>1.0 GiB</dd>" in section
    assert "<dt>Took</dt><dd>3.2 s</dd>" in section or "<dt>Took</dt><dd>3.3 s</dd>" in section
    assert json_in_details(body) == job.result


def test_a_clean_scan_says_so(as_user: Any, victor: User, backend: Backend) -> None:
    scan = pageio.ScanResult(65536, 4, [], 2.0, 1 << 30, 1 << 30)
    job = finished(backend, Job.Kind.SCAN, {"scan": scan.to_dict(), "header": None})
    section = result_section(page_of(as_user(victor), job))
    assert 'data-verdict="ok"' in section and "No bad pages" in section
    assert '<p class="muted bad-pages">None.</p>' in section


def test_a_result_is_read_by_its_own_actions_reader_only(
    as_user: Any, victor: User, backend: Backend
) -> None:
    """The reader is the job's action's (its table entry's ``result_shown_by``), not a guess
    from the result's keys: a scan's part inside another job's result is that job's figure,
    and a scan's result without its part reads as figures, not as a scan of no pages."""
    part = pageio.ScanResult(65536, 4, [7], 2.0, 1 << 30, 1 << 30).to_dict()
    activate = finished(backend, Job.Kind.ACTIVATE, {"scan": part, "priority": 5})
    section = result_section(page_of(as_user(victor), activate))
    assert "data-verdict" not in section and "bad page" not in section
    assert "<dt>Priority</dt><dd>5</dd>" in section
    bare = finished(backend, Job.Kind.SCAN, {"header": None, "pages_read": 3})
    section = result_section(page_of(as_user(victor), bare))
    assert "data-verdict" not in section and "<dt>Pages read</dt><dd>3</dd>" in section
    assert "Bad pages" not in section and "bad-pages" not in section
    assert 'data-result="figures"' in section
    # A check's result without a check's parts (findings, the host's) reads as figures too.
    odd = finished(backend, Job.Kind.CHECK, {"status": "ok", "took_ms": 4})
    section = result_section(page_of(as_user(victor), odd))
    assert "data-verdict" not in section and "<dt>Took ms</dt><dd>4</dd>" in section


def test_a_benchmark_shows_a_throughput_and_latency_table(
    as_user: Any, victor: User, backend: Backend
) -> None:
    phase = pageio.PhaseResult
    bench = pageio.BenchResult(
        seq_write=phase(ops=512, bytes=512 << 20, seconds=2.0, p50_us=900.0, p99_us=4100.0),
        seq_read=phase(ops=1024, bytes=1024 << 20, seconds=2.0, p50_us=450.0, p99_us=1200.0),
        rand_write=phase(ops=20000, bytes=20000 * 4096, seconds=2.0, p50_us=80.0, p99_us=700.0),
        rand_read=phase(ops=50000, bytes=50000 * 4096, seconds=2.0, p50_us=35.0, p99_us=210.0),
        engine="io_uring", queue_depth=4, block_pages=1,
    )  # fmt: skip
    job = finished(backend, Job.Kind.BENCHMARK, {"benchmark": bench.to_dict(), "header": None})
    body = page_of(as_user(victor), job)
    section = result_section(body)
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", section)
    cells = {name: re.findall(r'<td class="num">([^<]+)</td>', rest) for name, rest in rows}
    # MB/s, requests/s, p50 and p99 in µs, for each phase in the order they ran.
    assert list(cells) == ["Sequential write", "Sequential read", "Random write", "Random read"]
    assert cells["Sequential write"] == ["268.4", "256", "900", "4,100"]
    assert cells["Random read"] == ["102.4", "25,000", "35", "210"]
    assert "<dt>I/O engine</dt><dd>io_uring</dd>" in section
    assert "<dt>Random request size</dt><dd>4.0 KiB</dd>" in section
    assert json_in_details(body) == job.result


def test_a_burn_in_shows_swap_used_oom_kills_and_its_verdict(
    as_user: Any, victor: User, backend: Backend
) -> None:
    def run(**changes: Any) -> burnin.BurnInResult:
        fields = dict(
            pswpin=12000, pswpout=30000, peak_used_bytes=96 << 20, seconds=30.0, oom_kills=0,
            failcnt=4100, passes=3, pages_checked=120000, corrupt_pages=0,
            cgroup="/sys/fs/cgroup/memory/swapadmin-burnin-x", cgroup_version=1,
            cgroup_swap_peak_bytes=None, hog_returncode=0,
        )  # fmt: skip
        return burnin.BurnInResult(**{**fields, **changes})

    healthy = finished(backend, Job.Kind.BURN_IN, {"burn_in": run().to_dict()})
    body = page_of(as_user(victor), healthy)
    section = result_section(body)
    assert 'data-verdict="ok"' in section and "Healthy" in section
    assert "<dt>Swap used at most</dt><dd>96.0 MiB</dd>" in section
    assert "<dt>OOM kills</dt><dd>0</dd>" in section
    assert "<dt>Pages swapped out / in</dt><dd>30,000 / 12,000</dd>" in section
    assert json_in_details(body) == healthy.result

    killed = finished(backend, Job.Kind.BURN_IN, {"burn_in": run(oom_kills=2).to_dict()})
    section = result_section(page_of(as_user(victor), killed))
    assert 'data-verdict="fail"' in section
    assert "the hog was OOM-killed 2 times" in section
    assert "<dt>OOM kills</dt><dd>2</dd>" in section

    # A hog killed by SIGBUS (a page it could not read back from swap) made no report:
    # its figures alone (no change seen, no OOM kill) would read as healthy.
    bus = run(hog_returncode=-7, passes=0, pages_checked=0)
    section = result_section(
        page_of(as_user(victor), finished(backend, Job.Kind.BURN_IN, {"burn_in": bus.to_dict()}))
    )
    assert 'data-verdict="fail"' in section
    assert "the hog was killed by SIGBUS (signal 7): a page it touched could not be read" in section
    assert "the hog checked no page it read back" in section

    # A result from a worker before hogs' ends were recorded reads as it did.
    old = {k: v for k, v in run().to_dict().items() if k not in ("hog_returncode", "problems")}
    section = result_section(
        page_of(as_user(victor), finished(backend, Job.Kind.BURN_IN, {"burn_in": old}))
    )
    assert 'data-verdict="ok"' in section


def test_a_check_shows_its_findings(as_user: Any, victor: User, backend: Backend) -> None:
    mine = [
        Finding("header", "ok", "swap header intact").as_dict(),
        Finding("zram_ratio", "warn", "compression ratio 1.1 under 1.5", 1.1).as_dict(),
    ]
    host = [Finding("pressure", "ok", "PSI some avg10 0.0%").as_dict()]
    result = {
        "result": "r1", "status": "warn", "findings": mine, "checked_at": "2026-11-29T21:00:00",
        "host": {"result": "r2", "status": "ok", "findings": host, "checked_at": "2026-11-29"},
    }  # fmt: skip
    job = finished(backend, Job.Kind.CHECK, result)
    body = page_of(as_user(victor), job)
    section = result_section(body)
    assert 'data-verdict="warn"' in section
    warned = re.search(r'<tr data-check="zram_ratio">(.*?)</tr>', section, re.S)
    assert warned and "alert-warn" in warned.group(1)
    assert "compression ratio 1.1 under 1.5" in warned.group(1)
    assert '<tr data-check="pressure">' in section and "Host testhost" in section
    assert json_in_details(body) == job.result

    # Its backend destroyed since (the job keeps its name): the backend's findings still
    # read, and the verdict is still theirs, not the healthy host's alone.
    Job.objects.filter(pk=job.pk).update(backend=None)
    job.refresh_from_db()
    section = result_section(page_of(as_user(victor), job))
    assert 'data-verdict="warn"' in section and '<tr data-check="zram_ratio">' in section


def test_any_other_result_keeps_its_figures_and_json(
    as_user: Any, victor: User, backend: Backend
) -> None:
    job = finished(
        backend,
        Job.Kind.RESIZE,
        {"old_size_bytes": 256 << 20, "size_bytes": 512 << 20, "header": {}},
    )
    body = page_of(as_user(victor), job)
    section = result_section(body)
    assert "<dt>Old size</dt><dd>256 MiB</dd>" in section
    assert "<dt>Size</dt><dd>512 MiB</dd>" in section
    assert json_in_details(body) == job.result


@pytest.mark.e2e
@pytest.mark.root
@needs_root
@pytest.mark.django_db(transaction=True)
def test_a_real_scan_and_benchmark_read_as_a_verdict_and_a_table(
    worker: WorkerProcess, alice: User, client: Any
) -> None:
    actor = Actor(alice, Job.Via.API)
    made = services.create_backend(
        host=worker.host, kind="file", name="rt1", size_bytes=8 << 20, actor=actor,
        params={"path": str(worker.swap_root / "rt1")},
    )  # fmt: skip
    assert wait_for_job(made, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="rt1")
    client.force_login(alice)

    scan = wait_for_job(
        services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 1}), 60, worker=worker
    )
    assert scan.state == Job.State.SUCCEEDED, scan.error
    body = page_of(client, scan)
    section = result_section(body)
    assert 'data-verdict="ok"' in section and "No bad pages" in section
    assert f"<dt>Pages</dt><dd>{scan.result['scan']['pages']:,}" in section
    assert json_in_details(body) == scan.result

    bench = wait_for_job(
        services.request_action(backend, Job.Kind.BENCHMARK, actor, {"seconds": 1}),
        60,
        worker=worker,
    )
    assert bench.state == Job.State.SUCCEEDED, bench.error
    body = page_of(client, bench)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>', result_section(body))
    assert rows == ["Sequential write", "Sequential read", "Random write", "Random read"]
    mb_s = bench.result["benchmark"]["seq_read_mb_s"]
    assert f'<td class="num">{mb_s:,.1f}</td>' in result_section(body)
    assert json_in_details(body) == bench.result
