"""A small site against `make run` (``manage.py runall``), on its embedded default (SQLite and
kombu's filesystem broker) and on PostgreSQL and Redis, one after the other:

- a schemathesis campaign over every API operation with an admin token (EXAMPLES generated
  requests an operation, derandomized, so both stacks get the same requests);
- DASHBOARDS logged-in browsers polling the live htmx partial of the overview (half of them)
  or of the host page (the other half) every second, as the pages do;
- JOB_LOOPS scripts running real jobs on the host's worker at the same time: a file backend
  created (provisioned), scanned, activated, deactivated and destroyed, over and over.

The dashboards and the job scripts stop when the campaign does (a job script finishes its
cycle first). Reported for each stack: requests, 5xx answers, failed connections, p50/p95/max
latency per kind of client, jobs started and ended (and how), how long a job took from its
202 to its end, "database is locked" lines in every log (web, worker, beat: runall's output
holds them all), and children runall had to start again.

Every process is runall's child in its own process group and stopped with it; the stacks use
a data directory, swap root, fstab and sysctl file of their own under /var/tmp, a database of
their own on the PostgreSQL of scripts/services.sh, and an empty Redis database number of
that Redis (emptied again at the end). The campaign's generated ids never name the real
host or its backends, so it cannot touch this machine's swap or tunables.

    .venv/bin/python bench/bench_embedded_load.py [--examples 100] [--stacks sqlite,postgres]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.load_stack import (  # noqa: E402
    REPO,
    free_port,
    machine,
    median,
    percentile,
    services_env,
    signing_key_file,
    swap_root,
)

EXAMPLES = 100  # generated requests an operation (28 operations)
DASHBOARDS = 20
POLL_SECONDS = 1.0  # the pages' htmx poll (STATE_POLL)
JOB_LOOPS = 2
BACKEND_BYTES = 32 << 20
JOB_TIMEOUT = 300.0  # a job not ended by then counts as not ended
REDIS_DB = 11  # of the services' Redis; must be empty at start (test runs never claim it)
LOCKED = "database is locked"
PASSWORD = "bench-embedded-admin"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    codes: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # no answer at all
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, what: str, ms: float | None, code: int | None, detail: str = "") -> None:
        with self.lock:
            if code is None:
                self.failures.append(f"{what}: {detail}")
                return
            self.latencies.append(ms or 0.0)
            self.codes[code] += 1
            if code >= 500:
                self.server_errors.append(f"{what} -> {code} {detail[:200]}")


@dataclass
class Jobs:
    started: int = 0
    ended: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Stack:
    name: str
    base: str
    token: str
    host_id: str
    log: Path


def timed(client: httpx.Client, tally: Tally, method: str, url: str, **kw: Any) -> Any:
    t0 = time.perf_counter()
    try:
        r = client.request(method, url, **kw)
    except httpx.HTTPError as e:
        tally.record(f"{method} {url}", None, None, f"{type(e).__name__} {e}")
        return None
    tally.record(f"{method} {url}", (time.perf_counter() - t0) * 1000, r.status_code, r.text)
    return r


# ---- the stack ----


def processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (runall's children carry its env)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (d / "environ").read_bytes().split(b"\0"):
                    found.append(int(d.name))
    return found


def wait(predicate: Any, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            value = predicate()
            if value:
                return value
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"no {what} (runall {'exited' if proc.poll() is not None else 'runs'})"
            )
        time.sleep(0.2)


@contextlib.contextmanager
def make_run(name: str, where: Path, root: Path, extra: dict[str, str]) -> Iterator[Stack]:
    """`make run` with ``extra`` in its environment, until its host is online."""
    port = free_port()
    host = f"bench-{name}-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        SWAPADMIN_DATA_DIR=str(where / "data"),
        SWAPADMIN_HOST=host,
        SWAPADMIN_SWAP_ROOTS=str(root),
        SWAPADMIN_FSTAB=str(where / "fstab"),
        SWAPADMIN_SYSCTL_FILE=str(where / "90-swapadmin.conf"),
        SWAPADMIN_ADMIN_PASSWORD=PASSWORD,
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    (where / "fstab").write_text("# bench fstab\n")
    if "DATABASE_URL" in extra:
        env["SWAPADMIN_SIGNING_KEY_FILE"] = signing_key_file(where)
    log = where / "runall.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runall"], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 120, "web", proc)
        made = subprocess.run(
            [sys.executable, "manage.py", "create-token", "admin", "--days", "1"], cwd=REPO,
            env=env, capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        token = made.strip()
        assert token, made
        headers = {"Authorization": f"Token {token}"}

        def online() -> str | None:
            hosts = httpx.get(f"{base}/api/v1/hosts/", headers=headers, timeout=10).json()
            return next(
                (h["id"] for h in hosts["results"] if h["name"] == host and h["online"]), None
            )

        host_id = wait(online, 120, "host online", proc)
        yield Stack(name, base, token, host_id, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for pid in processes_with(f"SWAPADMIN_HOST={host}"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# ---- the clients ----


def campaign(stack: Stack, examples: int, tally: Tally) -> int:
    """schemathesis over every operation; returns the number of operations run."""
    import schemathesis
    from hypothesis import HealthCheck, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.runner import events

    headers = {"Authorization": f"Token {stack.token}"}
    schema = schemathesis.from_uri(
        f"{stack.base}/api/schema/", base_url=stack.base, headers=headers
    )
    runner = schemathesis.runner.from_schema(
        schema,
        checks=(not_a_server_error,),
        headers=headers,
        generation_config=schemathesis.GenerationConfig(with_security_parameters=False),
        hypothesis_settings=settings(
            max_examples=examples, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        ),
        request_timeout=60_000,
        store_interactions=True,
    )  # fmt: skip
    operations = 0
    for event in runner.execute():
        if isinstance(event, events.AfterExecution):
            operations += 1
            for i in event.result.interactions:
                what = f"{i.request.method} {i.request.uri}"
                if i.response is None:
                    tally.record(what, None, None, "no response")
                else:
                    body = i.response.body or ""
                    tally.record(what, i.response.elapsed * 1000, i.response.status_code, body)
            for error in event.result.errors:
                tally.record(event.result.verbose_name, None, None, str(error.exception))
        elif isinstance(event, events.InternalError):
            tally.record("schemathesis", None, None, f"{event.message}: {event.exception}")
    return operations


def dashboard(stack: Stack, i: int, done: threading.Event, tally: Tally) -> None:
    """A logged-in browser on the overview (even i) or the host page (odd i): the page once,
    then its live partial every second, as htmx polls it."""
    url = "/" if i % 2 == 0 else f"/hosts/{stack.host_id}/"
    live = {"HX-Request": "true", "HX-Target": "live", "HX-Current-URL": stack.base + url}
    with httpx.Client(base_url=stack.base, timeout=60) as c:
        c.get("/login/")
        r = c.post(
            "/login/",
            data={"username": "admin", "password": PASSWORD,
                  "csrfmiddlewaretoken": c.cookies["csrftoken"]},
            headers={"Referer": f"{stack.base}/login/"},
        )  # fmt: skip
        assert r.status_code == 302, (r.status_code, r.text[:300])
        timed(c, tally, "GET", url)
        time.sleep(random.uniform(0, POLL_SECONDS))
        while not done.wait(POLL_SECONDS):
            timed(c, tally, "GET", url, headers=live)


def job_loop(stack: Stack, n: int, root: Path, done: threading.Event, tally: Tally,
             jobs: Jobs) -> None:  # fmt: skip
    """A script: create, scan, activate, deactivate, destroy a file backend, until done."""
    headers = {"Authorization": f"Token {stack.token}"}
    with httpx.Client(base_url=f"{stack.base}/api/v1", headers=headers, timeout=60) as c:

        def run(method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
            r = timed(c, tally, method, url, json=body)
            if r is None or r.status_code != 202:
                with jobs.lock:
                    jobs.failed.append(f"{method} {url} -> {r.status_code if r else 'no answer'}")
                return None
            job = r.json()
            with jobs.lock:
                jobs.started += 1
            t0 = time.monotonic()
            while time.monotonic() - t0 < JOB_TIMEOUT:
                time.sleep(0.5)
                now = timed(c, tally, "GET", f"/jobs/{job['id']}/")
                if now is not None and now.status_code == 200 and now.json()["finished_at"]:
                    state = now.json()["state"]
                    with jobs.lock:
                        jobs.ended[state] += 1
                        jobs.seconds.append(time.monotonic() - t0)
                        if state != "succeeded":
                            jobs.failed.append(f"{job['kind']}: {state}: {now.json()['error']}")
                    return dict(now.json())
            with jobs.lock:
                jobs.failed.append(f"{job['kind']} {job['id']}: not ended in {JOB_TIMEOUT:.0f} s")
            return None

        cycle = 0
        while not done.is_set():
            name = f"loop{n}-{cycle}"
            made = run("POST", "/backends/", {
                "host": stack.host_id, "kind": "file", "name": name,
                "size_bytes": BACKEND_BYTES, "params": {"path": str(root / name)},
            })  # fmt: skip
            if made is None or made["state"] != "succeeded":
                return
            b = made["backend"]
            for step in ("scan", "activate", "deactivate"):
                body = {"patterns": 1} if step == "scan" else {}
                if run("POST", f"/backends/{b}/{step}/", body) is None:
                    return
            if run("DELETE", f"/backends/{b}/", None) is None:
                return
            cycle += 1


def measure(stack: Stack, examples: int, root: Path) -> dict[str, Any]:
    tallies = {"campaign": Tally(), "dashboards": Tally(), "job scripts": Tally()}
    jobs = Jobs()
    done = threading.Event()
    threads = [
        threading.Thread(target=dashboard, args=(stack, i, done, tallies["dashboards"]))
        for i in range(DASHBOARDS)
    ] + [
        threading.Thread(target=job_loop, args=(stack, n, root, done, tallies["job scripts"], jobs))
        for n in range(JOB_LOOPS)
    ]
    for t in threads:
        t.daemon = True
        t.start()
    t0 = time.monotonic()
    try:
        operations = campaign(stack, examples, tallies["campaign"])
    finally:
        took = time.monotonic() - t0
        done.set()
        for t in threads:
            t.join(timeout=JOB_TIMEOUT + 60)
    log = stack.log.read_text(errors="replace")
    return {
        "tallies": tallies,
        "jobs": jobs,
        "seconds": took,
        "operations": operations,
        "locked": log.count(LOCKED),
        "restarts": log.count(" started again (pid "),
        "tracebacks": log.count("Traceback (most recent call last)"),
    }


# ---- the report ----


def report(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = [
        "| | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("campaign length, s", [f"{r['seconds']:.0f}" for r in results.values()])
    for kind in ("campaign", "dashboards", "job scripts"):
        ts = [r["tallies"][kind] for r in results.values()]
        row(f"{kind}: requests", [str(len(t.latencies) + len(t.failures)) for t in ts])
        row(f"{kind}: 5xx", [str(len(t.server_errors)) for t in ts])
        row(f"{kind}: no answer", [str(len(t.failures)) for t in ts])
        row(f"{kind}: p50 / p95 / max ms", [
            f"{median(t.latencies):.0f} / {percentile(t.latencies, 95):.0f} / "
            f"{max(t.latencies, default=0):.0f}" for t in ts
        ])  # fmt: skip
    js = [r["jobs"] for r in results.values()]
    row("jobs started / ended", [f"{j.started} / {sum(j.ended.values())}" for j in js])
    row("jobs succeeded / failed", [
        f"{j.ended['succeeded']} / {sum(j.ended.values()) - j.ended['succeeded']}" for j in js
    ])  # fmt: skip
    row("job, 202 to its end: p50 / p95 s", [
        f"{median(j.seconds):.1f} / {percentile(j.seconds, 95):.1f}" for j in js
    ])  # fmt: skip
    row('"database is locked" in the logs', [str(r["locked"]) for r in results.values()])
    row("tracebacks in the logs", [str(r["tracebacks"]) for r in results.values()])
    row("children runall started again", [str(r["restarts"]) for r in results.values()])
    for name, r in results.items():
        problems = [e for t in r["tallies"].values() for e in t.server_errors + t.failures]
        problems += r["jobs"].failed
        if problems:
            lines.append(f"\n{name}, first problems: " + "; ".join(problems[:8]))
        codes: collections.Counter[int] = collections.Counter()
        for t in r["tallies"].values():
            codes.update(t.codes)
        lines.append(f"\n{name}, answers by status: " + ", ".join(
            f"{c}: {n}" for c, n in sorted(codes.items())
        ))  # fmt: skip
    return "\n".join(lines)


@contextlib.contextmanager
def own_database(admin_url: str) -> Iterator[str]:
    """A PostgreSQL database named for this run (runall migrates it), dropped afterwards."""
    import psycopg

    name = f"swapadmin_bench_embedded_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@contextlib.contextmanager
def redis_db(url: str) -> Iterator[str]:
    """An empty database number of the services' Redis, emptied again afterwards."""
    import redis

    ours = re.sub(r"/\d+$", f"/{REDIS_DB}", url)
    client = redis.Redis.from_url(ours, socket_timeout=5)
    if client.dbsize():
        raise RuntimeError(f"{ours} is not empty: it may be someone else's; choose another")
    try:
        yield ours
    finally:
        client.flushdb()


def enter_stack(name: str, es: contextlib.ExitStack) -> tuple[Stack, Path, Path]:
    """`make run` as stack ``name`` (sqlite, or postgres with a database and a Redis number
    of its own), with its data directory and swap root under /var/tmp, all undone by
    ``es``: (the running stack, its swap root, its directory)."""
    where = Path(es.enter_context(
        tempfile.TemporaryDirectory(prefix=f"swapadmin-bench-{name}-", dir="/var/tmp")
    ))  # fmt: skip
    root = es.enter_context(swap_root())
    extra: dict[str, str] = {}
    if name == "postgres":
        services = services_env()
        extra["DATABASE_URL"] = es.enter_context(own_database(services["DATABASE_URL"]))
        extra["REDIS_URL"] = es.enter_context(redis_db(services["REDIS_URL"]))
    elif name != "sqlite":
        raise SystemExit(f"unknown stack {name!r}: sqlite or postgres")
    return es.enter_context(make_run(name, where, root, extra)), root, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--stacks", default="sqlite,postgres")
    parser.add_argument("--logs", type=Path, help="copy each stack's runall log here")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"{args.examples} generated requests an operation, {DASHBOARDS} dashboards polling "
        f"every {POLL_SECONDS:.0f} s, {JOB_LOOPS} job scripts (file backend of "
        f"{BACKEND_BYTES >> 20} MiB: create, scan, activate, deactivate, destroy)",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for name in args.stacks.split(","):
        label = {"sqlite": "SQLite + filesystem broker", "postgres": "PostgreSQL + Redis"}
        print(f"\n== {label.get(name, name)}", flush=True)
        with contextlib.ExitStack() as stack:
            run, root, where = enter_stack(name, stack)
            try:
                results[label[name]] = measure(run, args.examples, root)
            finally:
                if args.logs:
                    args.logs.mkdir(parents=True, exist_ok=True)
                    with contextlib.suppress(OSError):
                        shutil.copy(where / "runall.log", args.logs / f"runall-{name}.log")
            print(f"done in {results[label[name]]['seconds']:.0f} s", flush=True)
    print("\n" + report(results))


if __name__ == "__main__":
    main()
