"""The control plane's cost, on the production shape on loopback (bench/load_stack.py):

1. an API request to an area active in /proc/swaps, against the bare
   `fallocate && chmod 600 && mkswap && swapon` sequence for the same size;
2. a swapon/swapoff made by hand to the moment the API shows it;
3. overview page and API list latency with 500 hosts, 8 backends each and 7 days of samples
   at the resolutions retention keeps, with the SQL queries per page at 50 and 500 hosts;
4. the rate of samples the sampler's storing function sustains on PostgreSQL.

Medians of RUNS runs; the two sides of a comparison alternate, so a noisy neighbour hurts both.
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench import bench_request_to_swapon as to_swapon  # noqa: E402
from bench.load_stack import (  # noqa: E402
    bench_database,
    celery_worker,
    gunicorn,
    machine,
    median,
    percentile,
    services_env,
    setup_django,
    signing_key_file,
    swap_root,
)

RUNS = 5
AREA_BYTES = 512 << 20
POLL = 0.02  # seconds between a client's GETs while it waits
HOSTS = (50, 500)
#: The overview rows are measured once more at this size; its hosts past SAMPLED_HOSTS get no
#: sample history (22 M more rows would take most of an hour to seed, and the overview reads
#: no sample: it draws from Host rows and their generated snap_* columns).
OVERVIEW_HOSTS = 5000
SAMPLED_HOSTS = 500
BACKENDS_PER_HOST = 8
PAGE_REQUESTS = 30  # per page and fleet size, after one warm-up
INGEST_SECONDS = 15.0
INGEST_WRITERS = (1, 2, 4, 8)
READING_WRITERS = (1, 4)  # take_sample, reading this VM's kernel each time, as before
INGEST_HOSTS = 5000  # the goal: 5,000 hosts every 5 s is 1,000 samples/s
YEAR_HOSTS = 20
SYNTHETIC_ROOT = "/var/lib/swapadmin/swap"  # never made here: only paths in rows
SEED_WRITERS = 2


def wait(predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def api_client(url: str) -> httpx.Client:
    from django.contrib.auth.models import Group, User

    from swapadmin.accounts.models import ApiToken

    user, _ = User.objects.get_or_create(username="bench-admin")
    user.groups.add(Group.objects.get_or_create(name="admin")[0])
    _, token = ApiToken.objects.create(user, expiry=timedelta(days=1), name="bench")
    return httpx.Client(base_url=f"{url}/api/v1", timeout=30,
                        headers={"Authorization": f"Token {token}"})  # fmt: skip


def follow(api: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    return to_swapon.follow(api, job, POLL)


# ---- 1. API request to an active area vs the bare commands ----


def through_api(api: httpx.Client, host: str, root: Path, i: int) -> tuple[float, float, str]:
    """Create, then activate (two requests): bench_request_to_swapon's, at this table's size
    and poll."""
    return to_swapon.through_api(api, host, root, f"api{i}", False, size=AREA_BYTES, poll=POLL)


def bare(root: Path, i: int) -> float:
    return to_swapon.bare(root, i, AREA_BYTES)


def bench_request_to_active(api: httpx.Client, host: str, root: Path) -> str:
    ours_active, ours_done, theirs = [], [], []
    for i in range(RUNS):
        active, done, backend = through_api(api, host, root, i)
        ours_active.append(active)
        ours_done.append(done)
        theirs.append(bare(root, i))
        r = api.delete(f"/backends/{backend}/")
        r.raise_for_status()
        follow(api, r.json())  # destroy: swapoff and remove the file (not timed)
        print(f"run {i}: API {active:.0f} ms to /proc/swaps, {done:.0f} ms to job done; "
              f"bare {theirs[-1]:.0f} ms", flush=True)  # fmt: skip
    base = median(theirs)
    return "\n".join([
        f"POST backends/ (file, {AREA_BYTES >> 20} MiB) + provision job, POST activate + job, "
        f"client polling jobs/ every {POLL * 1000:.0f} ms; medians of {RUNS} runs",
        "| path | ms | overhead over bare, ms |",
        "| --- | ---: | ---: |",
        f"| bare fallocate && chmod 600 && mkswap && swapon | {base:.0f} | |",
        f"| API: request to area in /proc/swaps | {median(ours_active):.0f} "
        f"| {median(ours_active) - base:.0f} |",
        f"| API: request to activate job seen succeeded | {median(ours_done):.0f} "
        f"| {median(ours_done) - base:.0f} |",
    ])  # fmt: skip


# ---- 2. a change by hand to the API ----


def bench_hand_change(api: httpx.Client, host: str, root: Path) -> str:
    path = str(root / "hand.swap")
    r = api.post("/backends/", json={"host": host, "kind": "file", "name": "hand",
                                     "size_bytes": 64 << 20, "params": {"path": path}})  # fmt: skip
    r.raise_for_status()
    follow(api, r.json())
    backend = r.json()["backend"]
    follow(api, api.post(f"/backends/{backend}/activate/", json={}).json())
    off, on, unmanaged = [], [], []

    def state() -> str:
        return str(api.get(f"/backends/{backend}/").json()["observed_state"])

    def shows(area: str, present: bool) -> bool:
        obs = api.get(f"/hosts/{host}/").json()["observed"]
        return any(a["path"] == area for a in obs.get("unmanaged", [])) == present

    extra = root / "unmanaged.swap"
    subprocess.run(f"fallocate -l 64M {extra} && chmod 600 {extra} && mkswap -q {extra} "
                   ">/dev/null", shell=True, check=True)  # fmt: skip
    for _ in range(RUNS):
        time.sleep(1.0)  # not in step with the sampler's period
        subprocess.run(["swapoff", path], check=True)
        t0 = time.monotonic()
        wait(lambda: state() == "ready", what="backends/ to show the swapoff")
        off.append((time.monotonic() - t0) * 1000)
        time.sleep(1.0)
        subprocess.run(["swapon", path], check=True)
        t0 = time.monotonic()
        wait(lambda: state() == "active", what="backends/ to show the swapon")
        on.append((time.monotonic() - t0) * 1000)
        time.sleep(1.0)
        subprocess.run(["swapon", str(extra)], check=True)
        t0 = time.monotonic()
        wait(lambda: shows(str(extra), True), what="hosts/ to show an unmanaged area")
        unmanaged.append((time.monotonic() - t0) * 1000)
        subprocess.run(["swapoff", str(extra)], check=True)
        wait(lambda: shows(str(extra), False), what="hosts/ to drop the unmanaged area")
    follow(api, api.delete(f"/backends/{backend}/").json())
    return "\n".join([
        f"a swapoff/swapon run by hand to the first GET that shows it (GET every "
        f"{POLL * 1000:.0f} ms; sampler period 5 s, woken by /proc/swaps); {RUNS} runs",
        "| change by hand | median ms | max ms |",
        "| --- | ---: | ---: |",
        f"| swapoff of a managed area, GET backends/{{id}}/ shows ready | {median(off):.0f} "
        f"| {max(off):.0f} |",
        f"| swapon of a managed area, GET backends/{{id}}/ shows active | {median(on):.0f} "
        f"| {max(on):.0f} |",
        f"| swapon of an unmanaged file, GET hosts/{{id}}/ lists it | {median(unmanaged):.0f} "
        f"| {max(unmanaged):.0f} |",
    ])  # fmt: skip


# ---- 3. pages with 500 hosts ----


def observed(i: int) -> dict[str, Any]:
    """A worker's snapshot as take_sample writes it, sized like a real one (ten top users)."""
    gib = 1 << 30
    return {
        "meminfo": {"mem_total": 16 * gib, "mem_available": 9 * gib, "swap_total": 8 * gib,
                    "swap_free": 6 * gib, "swap_cached": 64 << 20},
        "rates": {"pswpin": float(i % 7), "pswpout": float(i % 11)},
        "vmstat": {"pswpin": 1000 * i, "pswpout": 2000 * i},
        "psi": {"some_avg10": 1.5, "some_avg60": 1.0, "some_avg300": 0.5,
                "full_avg10": 0.2, "full_avg60": 0.1, "full_avg300": 0.0},
        "tunables": {"swappiness": 60, "page_cluster": 3, "zswap_enabled": False},
        "areas": [], "unmanaged": [], "zram": {},
        "top": [{"pid": 1000 + p, "name": f"proc{p}", "swap_bytes": p << 20} for p in range(10)],
    }  # fmt: skip


def seed_fleet(count: int) -> float:
    """Grow the fleet to ``count`` hosts; returns the seconds it took."""
    from django.utils import timezone

    from swapadmin.core.models import Backend, Host
    from swapadmin.health.models import BackendHealth, HostHealth

    t0 = time.monotonic()
    now = timezone.now()
    have = Host.objects.filter(name__startswith="sim-").count()
    hosts = Host.objects.bulk_create(
        Host(name=f"sim-{i:04d}", kernel_release="6.1.0", mem_total_bytes=16 << 30,
             swap_roots=["/var/lib/swapadmin/swap"], last_heartbeat=now,
             observed=observed(i), observed_at=now)
        for i in range(have, count)
    )  # fmt: skip
    HostHealth.objects.bulk_create(
        HostHealth(host=h, status="warn" if i % 10 == 0 else "ok", summary="PSI some 30%")
        for i, h in enumerate(hosts)
    )
    backends = Backend.objects.bulk_create(
        Backend(host=h, kind="file", name=f"swap{j}", size_bytes=1 << 30, used_bytes=j << 20,
                params={"path": f"/var/lib/swapadmin/swap/swap{j}"},
                observed_state="active" if j % 2 else "ready", observed_at=now)
        for h in hosts for j in range(BACKENDS_PER_HOST)
    )  # fmt: skip
    BackendHealth.objects.bulk_create(
        BackendHealth(backend=b, status="fail" if i % 50 == 0 else "ok", summary="bad pages")
        for i, b in enumerate(backends)
    )
    ids = [h.pk for i, h in enumerate(hosts, have) if i < SAMPLED_HOSTS]
    run_in_processes(_seed_samples, [(ids[i::SEED_WRITERS], now) for i in range(SEED_WRITERS)])
    return time.monotonic() - t0


def _seed_samples(host_ids: list[int], now: Any) -> int:
    from swapadmin.core.models import Host, Sample

    for h in Host.objects.filter(pk__in=host_ids):
        Sample.objects.bulk_create(samples_for(h, now), batch_size=5000)
    return len(host_ids)


def _child(target: Any, args: tuple[Any, ...], out: Any) -> None:
    from django.db import connections

    connections.close_all()  # never share the parent's socket
    out.put(target(*args))


def run_in_processes(
    target: Any, shares: list[tuple[Any, ...]], timeout: float = 1800
) -> list[Any]:
    """``target(*share)`` in one forked process per share; their return values."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(target, share, out)) for share in shares]
    for p in procs:
        p.start()
    try:
        return [out.get(timeout=timeout) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()


def samples_for(host: Any, now: Any) -> list[Any]:
    """7 days as retention leaves them: raw every 5 s for 2 h, 1m for 2 days, 1h beyond."""
    from swapadmin.core.models import Sample

    def row(at: Any, resolution: str, k: int) -> Any:
        return Sample(host=host, at=at, resolution=resolution, mem_total=16 << 30,
                      mem_available=(9 << 30) + k, swap_total=8 << 30, swap_free=(6 << 30) - k,
                      pswpin_rate=k % 13, pswpout_rate=k % 17, psi_some_avg10=1.0,
                      backends={f"b{j}": j << 20 for j in range(BACKENDS_PER_HOST)})  # fmt: skip

    rows = [row(now - timedelta(seconds=5 * k), "raw", k) for k in range(2 * 3600 // 5)]
    rows += [row(now - timedelta(minutes=k + 1), "1m", k) for k in range(2 * 24 * 60)]
    rows += [row(now - timedelta(hours=k + 1), "1h", k) for k in range(7 * 24)]
    return rows


def collect_the_seeding() -> None:
    """Free what seeding left in cycles (each Host and Backend row and its health row point
    at each other) before pages are drawn in-process, so that the first draws do not pay for
    the seeder's garbage. Start-up is frozen once, as a server's is (``main``)."""
    gc.collect()


def timed_gets(get: Any, count: int) -> list[float]:
    """``count`` calls of ``get()`` (one request, answering 200), each timed in ms."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        r = get()
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.status_code
    return times


def measure_page(client: Any, url: str, headers: dict[str, str]) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers)  # warm: templates, session, content types
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url, headers=headers)
    queries = len(ctx.captured_queries)  # now: the next request clears the connection's log
    assert r.status_code == 200, (url, r.status_code)
    return timed_gets(lambda: client.get(url, headers=headers), PAGE_REQUESTS), queries


#: The 1,000-row API pages, also measured as gunicorn serves them (docker-compose's shape).
SERVED = ("/api/v1/backends/?limit=1000", "/api/v1/backends/?page_size=1000")


SERVED_REQUESTS = 60  # per page, after SERVED_WARM


SERVED_WARM = 5


def measure_served(env: dict[str, str], logdir: Path, token: str) -> dict[str, list[float]]:
    """``SERVED`` through gunicorn over loopback HTTP: one sync worker (of docker-compose's
    three, the one a client's next request meets), started after the fleet was seeded, with
    wsgi.py's start-up, and warmed first. What an API client sees, where the in-process rows
    also carry this process's own heap."""
    times: dict[str, list[float]] = {}
    with (
        gunicorn(env, logdir, workers=1) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30) as http,
    ):
        for path in SERVED:
            for _ in range(SERVED_WARM):
                assert http.get(path).status_code == 200
            times[path] = timed_gets(lambda path=path: http.get(path), SERVED_REQUESTS)
    return times


def bench_pages(env: dict[str, str], logdir: Path) -> str:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from swapadmin.accounts.models import ApiToken
    from swapadmin.core.models import Host, Sample
    from swapadmin.web import views

    live_cache = views.LIVE_CACHE_SECONDS
    viewer, _ = User.objects.get_or_create(username="bench-viewer")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    page = Client()
    page.force_login(viewer)
    _, token = ApiToken.objects.create(viewer, expiry=timedelta(days=1), name="bench")
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    htmx = {"HX-Request": "true", "HX-Target": "live"}
    pages = [
        ("overview page (full)", page, "/", {}),
        ("overview partial (htmx poll)", page, "/", htmx),
        ("overview partial, 0.5 s shared cache on", page, "/", htmx),
        ("overview page 3, sorted by health", page, "/?sort=health&page=3", {}),
        ("overview partial, searched, sorted by swap", page, "/?q=sim-00&sort=swap", htmx),
        ("API hosts/ (default page of 50)", api, "/api/v1/hosts/", {}),
        ("API hosts/?limit=500", api, "/api/v1/hosts/?limit=500", {}),
        ("API backends/ (default page of 50)", api, "/api/v1/backends/", {}),
        # At most 1000 a page (swapadmin/api/pagination.py): the fleet's 4000 take 4 pages.
        ("API backends/?limit=1000", api, "/api/v1/backends/?limit=1000", {}),
        ("API backends/?page_size=1000 (cursor)", api, "/api/v1/backends/?page_size=1000", {}),
        ("host page, week chart", page, None, {}),
    ]
    results: dict[tuple[str, int], tuple[list[float], int]] = {}
    for count in HOSTS:
        took = seed_fleet(count)
        print(f"fleet of {count} hosts seeded in {took:.0f} s "
              f"({Sample.objects.count():,} samples)", flush=True)  # fmt: skip
        collect_the_seeding()
        host = Host.objects.get(name="sim-0000")
        for name, client, url, headers in pages:
            url = url or f"/hosts/{host.uuid}/?range=week"
            # Every row draws its page, but for the one that measures the live region's
            # cache as production has it (30 polls back to back: most are answered from it).
            views.LIVE_CACHE_SECONDS = live_cache if "cache on" in name else 0
            views._live_cache = None
            results[(name, count)] = measure_page(client, url, headers)
        views.LIVE_CACHE_SECONDS = live_cache
        if count == HOSTS[-1]:
            walk = measure_cursor_walk(api)
            served = measure_served(env, logdir, token)
    overview = measure_overview_at(OVERVIEW_HOSTS, [p for p in pages if "overview" in p[0]])
    small, large = HOSTS
    lines = [
        f"{BACKENDS_PER_HOST} backends per host, 7 days of samples per host (raw 2 h every 5 s, "
        f"1m for 2 days, 1h beyond: {len(samples_for(None, _now())):,} rows a host, "
        f"{Sample.objects.count():,} in all); Django test client in-process on PostgreSQL, "
        f"{PAGE_REQUESTS} requests after one warm-up",
        f"| page | p50 ms at {large} | p95 ms at {large} | p50 ms at {small} "
        f"| queries at {small} | queries at {large} |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, *_ in pages:
        t_large, q_large = results[(name, large)]
        t_small, q_small = results[(name, small)]
        lines.append(
            f"| {name} | {median(t_large):.0f} | {percentile(t_large, 95):.0f} "
            f"| {median(t_small):.0f} | {q_small} | {q_large} |"
        )
    lines += [
        "",
        f"the 1,000-row API pages at {large} hosts as gunicorn serves them (one sync worker, "
        f"loopback HTTP, {SERVED_REQUESTS} requests after {SERVED_WARM} warm-ups)",
        "| page | p50 ms | p95 ms |",
        "| --- | ---: | ---: |",
        *(f"| {path} | {median(t):.0f} | {percentile(t, 95):.0f} |" for path, t in served.items()),
    ]
    return "\n".join([*lines, "", *walk, "", *overview])


WALKS = 10  # full walks of every backend by cursor, after one warm-up


def measure_cursor_walk(api: Any, page_size: int = 1000) -> list[str]:
    """Every backend of the fleet read by cursor pages (``?page_size=``, then each ``next``),
    as an inventory sync reads them: the time of each page, and of each whole walk."""
    from swapadmin.core.models import Backend

    total = Backend.objects.count()

    def one_walk() -> tuple[list[float], float]:
        url: str | None = f"/api/v1/backends/?page_size={page_size}"
        pages, seen = [], set()
        t_walk = time.perf_counter()
        while url:
            t0 = time.perf_counter()
            r = api.get(url)
            pages.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (url, r.status_code)
            body = r.json()
            seen.update(row["id"] for row in body["results"])
            url = body["next"]
        assert len(seen) == total, (len(seen), total)  # every backend, once
        return pages, (time.perf_counter() - t_walk) * 1000

    one_walk()  # warm
    per_page: list[float] = []
    walks: list[float] = []
    for _ in range(WALKS):
        pages, whole = one_walk()
        per_page += pages
        walks.append(whole)
    return [
        f"a walk of all {total:,} backends by cursor, {page_size} a page "
        f"({len(per_page) // WALKS} pages), {WALKS} walks after one warm-up",
        "| cursor walk | p50 ms | p95 ms |",
        "| --- | ---: | ---: |",
        f"| one page of {page_size} | {median(per_page):.0f} | {percentile(per_page, 95):.0f} |",
        f"| the whole walk | {median(walks):.0f} | {percentile(walks, 95):.0f} |",
    ]


def measure_overview_at(count: int, pages: list[Any]) -> list[str]:
    """The overview rows at ``count`` hosts (sample history for the first SAMPLED_HOSTS)."""
    from swapadmin.web import views

    took = seed_fleet(count)
    print(f"fleet of {count} hosts seeded in {took:.0f} s", flush=True)
    collect_the_seeding()
    live_cache = views.LIVE_CACHE_SECONDS
    lines = [
        f"overview at {count} hosts ({BACKENDS_PER_HOST * count:,} backends; samples for the "
        f"first {SAMPLED_HOSTS} only, which the overview does not read)",
        "| page | p50 ms | p95 ms | queries |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, client, url, headers in pages:
        views.LIVE_CACHE_SECONDS = live_cache if "cache on" in name else 0
        views._live_cache = None
        times, queries = measure_page(client, url, headers)
        lines.append(f"| {name} | {median(times):.0f} | {percentile(times, 95):.0f} | {queries} |")
    views.LIVE_CACHE_SECONDS = live_cache
    return lines


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


# ---- 4. ingestion ----


def seed_ingest_hosts(count: int) -> list[int]:
    """``count`` synthetic hosts with their backends, as registered workers leave them (no
    sample history: table 3 measures the pages over one); their keys."""
    from django.utils import timezone

    from swapadmin.core.models import Backend, Host

    now = timezone.now()
    hosts = Host.objects.bulk_create(
        Host(name=f"ingest-{i:04d}", kernel_release="6.1.0", mem_total_bytes=16 << 30,
             swap_roots=[SYNTHETIC_ROOT], last_heartbeat=now, observed=observed(i),
             observed_at=now)
        for i in range(count)
    )  # fmt: skip
    Backend.objects.bulk_create(
        Backend(host=h, kind="file", name=f"swap{j}", size_bytes=1 << 30,
                params={"path": f"{SYNTHETIC_ROOT}/swap{j}"}, observed_state="ready",
                observed_at=now)
        for h in hosts for j in range(BACKENDS_PER_HOST)
    )  # fmt: skip
    return [h.pk for h in hosts]


def recorded_reading(base: Any, i: int) -> Any:
    """This machine's reading ``base`` as synthetic host ``i`` would have taken it: its odd
    backends active in /proc/swaps, each with its own use."""
    from dataclasses import replace

    from backends.kernel import SwapArea

    areas = [SwapArea(path=f"{SYNTHETIC_ROOT}/swap{j}", type="file", size_bytes=1 << 30,
                      used_bytes=((i + j) % 97) << 20, priority=-2 - j)
             for j in range(1, BACKENDS_PER_HOST, 2)]  # fmt: skip
    return replace(base, areas=areas)


def _store_recorded(host_ids: list[int], seconds: float) -> tuple[int, float, float]:
    """The worker's own storing (core.sampler.store_sample), round-robin over ``host_ids``,
    each storing a reading recorded once, stamped with the time it is stored."""
    from dataclasses import replace

    from django.utils import timezone

    from swapadmin.core.models import Host
    from swapadmin.core.sampler import Reading, read_host, store_sample

    base = read_host(Reading())
    hosts = list(Host.objects.filter(pk__in=host_ids).order_by("pk"))
    recorded = {h.pk: recorded_reading(base, i) for i, h in enumerate(hosts)}
    return _timed(lambda h: store_sample(h, replace(recorded[h.pk], at=timezone.now())), hosts,
                  seconds)  # fmt: skip


def _ingest(host_ids: list[int], seconds: float) -> tuple[int, float, float]:
    """The worker's reading and storing (core.sampler.take_sample): each reads this VM."""
    from swapadmin.core.models import Host
    from swapadmin.core.sampler import Reading, take_sample

    hosts = list(Host.objects.filter(pk__in=host_ids))
    readings = {h.pk: Reading() for h in hosts}
    return _timed(lambda h: take_sample(h, readings[h.pk]), hosts, seconds)


def _timed(one: Any, hosts: list[Any], seconds: float) -> tuple[int, float, float]:
    """``one(host)`` round-robin over ``hosts`` for ``seconds``: (samples, CPU seconds of
    this process, CPU seconds of its PostgreSQL backend, read from /proc: same machine)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        server = Path(f"/proc/{c.fetchone()[0]}/stat")

    def server_cpu() -> float:
        fields = server.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    done, cpu0, server0 = 0, time.process_time(), server_cpu()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for h in hosts:
            one(h)
            done += 1
            if time.monotonic() >= deadline:
                break
    return done, time.process_time() - cpu0, server_cpu() - server0


def _kernel_reads_per_second(seconds: float = 5.0) -> float:
    """The part of take_sample that reads this host's kernel, without the database."""
    from swapadmin.core.sampler import Reading, read_host

    previous = Reading()
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        read_host(previous)
        done += 1
    return done / seconds


def _rate(target: Any, ids: list[int], writers: int) -> tuple[float, float, float]:
    """(samples/s, writer CPU ms a sample, PostgreSQL backend CPU ms a sample)."""
    shares = [(ids[i::writers], INGEST_SECONDS) for i in range(writers)]
    done, client, server = (sum(x) for x in zip(*run_in_processes(target, shares), strict=True))
    return done / INGEST_SECONDS, 1000 * client / done, 1000 * server / done


def year_of_samples(host: Any, now: Any, backends: list[str]) -> list[Any]:
    """A host's rows as retention keeps them a year on and beyond: raw every 5 s for 2 h,
    1m for 2 days, 1h for 400 days; the roll-ups with their peaks, keyed by backend UUID."""
    from swapadmin.core.models import Sample
    from swapadmin.core.retention import HOUR_KEEP, MINUTE_KEEP, RAW_KEEP

    def row(at: Any, resolution: str, k: int) -> Any:
        used = {b: ((k + j) % 97) << 20 for j, b in enumerate(backends)}
        return Sample(host=host, at=at, resolution=resolution, mem_total=16 << 30,
                      mem_available=(9 << 30) + k * 4096, swap_total=8 << 30,
                      swap_free=(6 << 30) - k * 4096, swap_cached=k * 4096,
                      pswpin_rate=(k % 13) / 3, pswpout_rate=(k % 17) / 7,
                      psi_some_avg10=(k % 11) / 4, psi_full_avg10=(k % 5) / 8, backends=used,
                      backends_peak=None if resolution == "raw" else used)  # fmt: skip

    raw, minute, hour = (int(keep / step) for keep, step in (
        (RAW_KEEP, timedelta(seconds=5)), (MINUTE_KEEP, timedelta(minutes=1)),
        (HOUR_KEEP, timedelta(hours=1))))  # fmt: skip
    rows = [row(now - timedelta(seconds=5 * k), "raw", k) for k in range(raw)]
    rows += [row(now - timedelta(minutes=k + 1), "1m", k) for k in range(minute)]
    rows += [row(now - timedelta(hours=k + 1), "1h", k) for k in range(hour)]
    return rows


def bench_sample_table_size() -> str:
    """The Sample table's bytes per host: YEAR_HOSTS hosts' rows as retention keeps them,
    measured as the growth of pg_total_relation_size (heap, TOAST, every index)."""
    import uuid

    from django.db import connection
    from django.utils import timezone

    from swapadmin.core.models import Host, Sample

    def sizes() -> tuple[int, int, int]:
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE core_sample")
            c.execute("SELECT pg_total_relation_size('core_sample'), "
                      "pg_table_size('core_sample'), pg_indexes_size('core_sample')")  # fmt: skip
            return c.fetchone()  # type: ignore[return-value]

    before = sizes()
    now = timezone.now()
    rows = 0
    for i in range(YEAR_HOSTS):
        host = Host.objects.create(name=f"year-{i:02d}", kernel_release="6.1.0")
        backends = [str(uuid.uuid4()) for _ in range(BACKENDS_PER_HOST)]
        rows += len(Sample.objects.bulk_create(year_of_samples(host, now, backends), 5000))
    after = sizes()
    total, heap, indexes = (a - b for a, b in zip(after, before, strict=True))
    with connection.cursor() as c:
        c.execute("SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) "
                  "FROM pg_index WHERE indrelid = 'core_sample'::regclass ORDER BY 1")  # fmt: skip
        per_index = ", ".join(f"{name} {size / (1 << 20):.1f} MiB" for name, size in c.fetchall())
    per_host = total / YEAR_HOSTS
    return "\n".join([
        f"{YEAR_HOSTS} hosts x {rows // YEAR_HOSTS:,} rows (raw 2 h every 5 s, 1m 2 days, 1h "
        f"400 days, {BACKENDS_PER_HOST} backends keyed by UUID), bulk-inserted, VACUUM "
        "ANALYZE, growth of pg_total_relation_size('core_sample')",
        "| per host | heap + TOAST | indexes | total | bytes a row | at 5,000 hosts |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| a year on | {heap / YEAR_HOSTS / (1 << 20):.2f} MiB "
        f"| {indexes / YEAR_HOSTS / (1 << 20):.2f} MiB | {per_host / (1 << 20):.2f} MiB "
        f"| {total / rows:.0f} | {per_host * 5000 / (1 << 30):.1f} GiB |",
        f"\nIndexes of the whole table after the run: {per_index}.",
    ])  # fmt: skip


def bench_ingestion() -> str:
    ids = seed_ingest_hosts(INGEST_HOSTS)
    lines = [
        f"core.sampler.store_sample (the worker's storing: one query reads the host's "
        f"{BACKENDS_PER_HOST} backends and which a job holds, one statement writes their "
        f"observations, the Host snapshot and heartbeat and the Sample, both prepared once "
        f"per connection) round-robin over "
        f"{len(ids):,} synthetic hosts for {INGEST_SECONDS:.0f} s each, storing a reading "
        "recorded once per host (4 of 8 backends active) and stamped when stored: no kernel "
        "read in the loop. The reading-included rows call take_sample, which also reads this VM's "
        "kernel each time, as the figures before did",
        "| writers | path | samples/s | hosts at 1 per 5 s | writer CPU ms a sample "
        "| PostgreSQL CPU ms a sample | samples/s the 2 CPUs would give |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    paths = [
        (_store_recorded, "recorded reading stored", INGEST_WRITERS),
        (_ingest, "read + stored (take_sample)", READING_WRITERS),
    ]
    for target, name, counts in paths:
        for writers in counts:
            rate, client, server = _rate(target, ids, writers)
            bound = os.cpu_count() * 1000 / (client + server)  # type: ignore[operator]
            lines.append(f"| {writers} | {name} | {rate:,.0f} | {rate * 5:,.0f} | {client:.2f} "
                         f"| {server:.2f} | {bound:,.0f} |")  # fmt: skip
            print(f"ingestion, {name}, {writers} writers: {rate:,.0f} samples/s", flush=True)
    reads = _kernel_reads_per_second()
    lines.append(f"\nThe kernel reads alone (read_host, no database) run {reads:,.0f} times "
                 "a second in one process. CPU ms are each writer's own and its PostgreSQL "
                 "backend's (/proc/<pid>/stat), per sample stored; the last column is "
                 "what this VM's CPUs would store with nothing else running.")  # fmt: skip
    lines.append("\n" + bench_sample_table_size())
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tables",
        default="1,2,3,4",
        help="which tables to measure, e.g. 3,4 (no worker for these; 3 starts gunicorn)",
    )
    tables = {t.strip() for t in parser.parse_args().tables.split(",")}
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = services_env()
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="swapadmin-bench-cp-") as tmp, \
            bench_database(env["DATABASE_URL"]) as db_url:  # fmt: skip
        logdir = Path(tmp)
        (logdir / "data").mkdir()
        env = {**env, "DATABASE_URL": db_url, "SWAPADMIN_DATA_DIR": str(logdir / "data"),
               "SWAPADMIN_SIGNING_KEY_FILE": signing_key_file(logdir)}  # fmt: skip
        setup_django(env)
        sections = []
        if tables & {"1", "2"}:
            with swap_root() as root, gunicorn(env, logdir) as url, \
                    celery_worker(env, root, logdir) as worker:  # fmt: skip
                from swapadmin.core.models import Host

                host = str(Host.objects.get(name=worker.name).uuid)
                with api_client(url) as api:
                    if "1" in tables:
                        title = "1. API request to an active area, against the bare commands"
                        sections.append((title, bench_request_to_active(api, host, root)))
                    if "2" in tables:
                        sections.append(("2. a change by hand to the API",
                                         bench_hand_change(api, host, root)))  # fmt: skip
        if "3" in tables:
            # As a server's start-up (swapadmin/wsgi.py): the in-process rows draw in a
            # process whose start-up is out of the collector's sight, as a server's is.
            from swapadmin.heap import freeze_start_up

            freeze_start_up()
            sections.append(("3. pages and API lists with a large fleet", bench_pages(env, logdir)))
        if "4" in tables:
            # The sampler's writers (a Celery worker) never freeze their start-up.
            gc.unfreeze()
            sections.append(("4. sample ingestion on PostgreSQL", bench_ingestion()))
    for title, body in sections:
        print(f"\n{title}\n{body}")


if __name__ == "__main__":
    main()
