"""Load on the production shape on loopback: gunicorn (3 sync workers, as docker-compose.yml),
PostgreSQL, Redis and a real host worker sampling, under 50 dashboard clients polling the
overview's live partial as htmx does and 10 API clients with tokens, for 60 seconds.

The clients are threads of this process (httpx), each bounded by the deadline and by a
request count, so the run stops by itself. Any answer but 200 (a redirect to the login page
included) or a failed connection counts as an error. Latencies are measured by the client.

    .venv/bin/python bench/bench_control_plane_load.py [--hosts 50]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

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

SECONDS = 60.0
DASHBOARDS = 50
API_CLIENTS = 10
MAX_REQUESTS = 1000  # per client, a second bound besides the deadline
DASHBOARD_PAUSE = (1.0, 2.0)  # seconds between a dashboard's polls
API_PAUSE = (0.5, 1.0)
GUNICORN_WORKERS = 3


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(ms)
            if error:
                self.errors.append(error)


def timed_get(client: httpx.Client, url: str, tally: Tally, expect: str, **kw: object) -> None:
    t0 = time.perf_counter()
    try:
        r = client.get(url, **kw)  # type: ignore[arg-type]
        error = None
        if r.status_code != 200:
            error = f"{url}: HTTP {r.status_code}"
        elif expect not in r.text:
            error = f"{url}: answer without {expect!r}"
    except httpx.HTTPError as e:
        error = f"{url}: {type(e).__name__} {e}"
    tally.record((time.perf_counter() - t0) * 1000, error)


def dashboard(base: str, session: str, deadline: float, tally: Tally) -> None:
    """A browser on the overview: the page once, then the live partial every 1-2 s."""
    htmx = {"HX-Request": "true", "HX-Target": "live", "HX-Current-URL": f"{base}/"}
    with httpx.Client(base_url=base, cookies={"sessionid": session}, timeout=30) as c:
        timed_get(c, "/", tally, "<html")
        for _ in range(MAX_REQUESTS):
            time.sleep(random.uniform(*DASHBOARD_PAUSE))
            if time.monotonic() >= deadline:
                return
            timed_get(c, "/", tally, '<section id="live"', headers=htmx)


def api_user(base: str, token: str, urls: list[str], deadline: float, tally: Tally) -> None:
    """A script reading the fleet: hosts, backends, jobs, one host, in turn."""
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30) as c:
        for i in range(MAX_REQUESTS):
            if time.monotonic() >= deadline:
                return
            timed_get(c, urls[i % len(urls)], tally, '"')
            time.sleep(random.uniform(*API_PAUSE))


def credentials(count: int) -> tuple[list[str], str]:
    """``count`` logged-in sessions of a viewer (as many browsers), and an operator's token."""
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from swapadmin.accounts.models import ApiToken

    viewer, _ = User.objects.get_or_create(username="load-viewer")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    sessions = []
    for _ in range(count):
        c = Client()
        c.force_login(viewer)
        sessions.append(c.cookies["sessionid"].value)
    operator, _ = User.objects.get_or_create(username="load-operator")
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    return sessions, ApiToken.objects.create(operator, expiry=timedelta(days=1), name="bench")[1]


def run_load(base: str, host_uuid: str) -> dict[str, Tally]:
    sessions, token = credentials(DASHBOARDS)
    urls = ["/hosts/", "/backends/", "/jobs/", f"/hosts/{host_uuid}/"]
    tallies = {"dashboard": Tally(), "api": Tally()}
    start = time.monotonic()
    deadline = start + SECONDS
    threads = [
        threading.Thread(target=dashboard, args=(base, s, deadline, tallies["dashboard"]))
        for s in sessions
    ] + [
        threading.Thread(target=api_user, args=(base, token, urls, deadline, tallies["api"]))
        for _ in range(API_CLIENTS)
    ]
    for t in threads:
        t.daemon = True
        t.start()
        time.sleep(2.0 / len(threads))  # arrive over 2 s, not in one burst
    for t in threads:
        t.join(timeout=SECONDS + 60)
    return tallies


def report(tallies: dict[str, Tally], hosts: int, seconds: float) -> str:
    lines = [
        f"{DASHBOARDS} dashboard clients (overview page once, then its htmx partial every "
        f"{DASHBOARD_PAUSE[0]:.0f}-{DASHBOARD_PAUSE[1]:.0f} s) and {API_CLIENTS} API clients "
        f"(hosts/, backends/, jobs/, hosts/{{id}}/ in turn, {API_PAUSE[0]}-{API_PAUSE[1]} s "
        f"apart) for {seconds:.0f} s; gunicorn with {GUNICORN_WORKERS} sync workers, "
        f"PostgreSQL, Redis, one real host worker sampling; {hosts} hosts with 8 backends each",
        "| clients | requests | req/s | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, t in tallies.items():
        lat = t.latencies
        lines.append(
            f"| {name} | {len(lat)} | {len(lat) / seconds:.1f} | {len(t.errors)} "
            f"| {median(lat):.0f} | {percentile(lat, 95):.0f} | {percentile(lat, 99):.0f} "
            f"| {max(lat, default=0):.0f} |"
        )
    errors = [e for t in tallies.values() for e in t.errors]
    if errors:
        lines.append("\nfirst errors: " + "; ".join(errors[:5]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50, help="simulated hosts (default 50)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = services_env()
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="swapadmin-bench-load-") as tmp, \
            bench_database(env["DATABASE_URL"]) as db_url:  # fmt: skip
        logdir = Path(tmp)
        (logdir / "data").mkdir()
        env = {**env, "DATABASE_URL": db_url, "SWAPADMIN_DATA_DIR": str(logdir / "data"),
               "SWAPADMIN_SIGNING_KEY_FILE": signing_key_file(logdir)}  # fmt: skip
        setup_django(env)
        from bench.bench_control_plane import seed_fleet

        print(f"seeding {args.hosts} hosts: {seed_fleet(args.hosts):.0f} s", flush=True)
        with swap_root() as root, gunicorn(env, logdir, GUNICORN_WORKERS) as url, \
                celery_worker(env, root, logdir) as worker:  # fmt: skip
            from swapadmin.core.models import Host

            host_uuid = str(Host.objects.get(name=worker.name).uuid)
            t0 = time.monotonic()
            tallies = run_load(url, host_uuid)
            took = time.monotonic() - t0
    print("\nload\n" + report(tallies, args.hosts, took))


if __name__ == "__main__":
    main()
