"""`make run` with no configuration at all: SQLite and kombu's filesystem broker under its own
data directory. It prints the login once, serves /healthz and the login, runs a real job on
this host through its worker, and stops everything on SIGTERM."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.control.make_run import free_port, processes_with
from tests.fixtures.host import needs_root
from tests.fixtures.signing import KEY_ENV
from tests.fixtures.workers import wait_until

pytestmark = [needs_root, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]

JOB_SCRIPT = textwrap.dedent(
    """
    import json, os, time
    from swapadmin.core import services
    from swapadmin.core.models import Host, Job
    from swapadmin.core.services import Actor
    deadline = time.monotonic() + 60
    while not Host.objects.filter(name=os.environ["SWAPADMIN_HOST"]).exists():
        assert time.monotonic() < deadline, "the worker never registered its host"
        time.sleep(0.2)
    host = Host.objects.get(name=os.environ["SWAPADMIN_HOST"])
    job = services.create_backend(
        host=host, kind="file", name="smoke", size_bytes=16 << 20, actor=Actor.system(),
        params={"path": os.environ["SWAPADMIN_SWAP_ROOTS"] + "/smoke"},
    )
    while not Job.objects.get(pk=job.pk).finished:
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.2)
    job = Job.objects.get(pk=job.pk)
    print("RESULT " + json.dumps({"state": job.state, "error": job.error, "worker": job.worker}))
    """
)


def wait_http(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def log_in(base: str, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "admin/login/", timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode(
        {"username": "admin", "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    ).encode()
    req = urllib.request.Request(base + "admin/login/?next=/admin/", data=data)
    req.add_header("Referer", base + "admin/login/")
    with opener.open(req, timeout=10) as r:
        body = r.read().decode()
        assert r.url.endswith("/admin/"), r.url
        assert "Log out" in body or "logout" in body
        return int(r.status)


def test_make_run_with_no_configuration(scratch):
    swap = scratch / "swap"
    swap.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("SWAPADMIN_ADMIN_PASSWORD", None)
    for name in KEY_ENV:  # make run signs with the key it makes in its data directory
        env.pop(name, None)
    env.update(
        SWAPADMIN_DATA_DIR=str(scratch / "data"),
        SWAPADMIN_HOST=f"embedded-{port}",
        SWAPADMIN_SWAP_ROOTS=str(swap),
        SWAPADMIN_FSTAB=str(scratch / "fstab"),
        SWAPADMIN_SAMPLE_SECONDS="1",
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    out_path = scratch / "runall.log"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runall"], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/"
        assert wait_http(base + "healthz") == "ok\n"
        output = out_path.read_text()
        assert base in output
        password = re.search(r"password:\s+(\S+)", output)
        assert password, output
        assert log_in(base, password.group(1)) == 200

        job = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", JOB_SCRIPT], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        line = next((ln for ln in job.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, job.stdout + job.stderr + out_path.read_text()[-3000:]
        result = json.loads(line.removeprefix("RESULT "))
        assert result["state"] == "succeeded", result
        assert (swap / "smoke").stat().st_size == 16 << 20
        assert (scratch / "data" / "swapadmin.sqlite3").exists()
        assert any((scratch / "data" / "broker").iterdir())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0, out_path.read_text()[-3000:]
    # Every child went with it.
    marker = f"SWAPADMIN_HOST={env['SWAPADMIN_HOST']}"
    wait_until(lambda: processes_with(marker) == [], 10, f"runall's children to exit: {marker}")
    # The password is printed once: a second start says nothing about it.
    again = subprocess.run(
        [sys.executable, "manage.py", "ensureadmin"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and "password" not in again.stdout
