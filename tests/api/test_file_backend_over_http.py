"""A script's view: a file backend created, activated, deactivated and destroyed purely over
HTTP with a token, against gunicorn on loopback and a real worker, with /proc/swaps checked
at every step. Everything lives under the test's swap root; the fixtures take it down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User

from tests.fixtures.host import active_swaps, needs_root
from tests.fixtures.tokens import token_for
from tests.fixtures.workers import WorkerProcess

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def swaps() -> dict[str, int]:
    """Path -> priority for every area in /proc/swaps."""
    with open("/proc/swaps") as f:
        rows = [line.split() for line in f.readlines()[1:] if line.strip()]
    return {r[0].replace("\\040", " "): int(r[4]) for r in rows}


class Script:
    """What an automation script does: send, then follow the job's url until it is done."""

    def __init__(self, base: str, token: str, worker: WorkerProcess) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.worker = worker

    def call(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        r = self.http.request(method, f"{self.base}{path}", timeout=30, **kw)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def follow(self, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while job["state"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{job}\n--- worker log ---\n{self.worker.log()[-3000:]}")
            time.sleep(0.2)
            r = self.http.get(job["url"], timeout=30)
            assert r.status_code == 200
            job = r.json()
        assert job["state"] == "succeeded", (job["error"], job["log"])
        return job


def test_a_script_drives_a_file_backend_through_its_life(
    api_server: str, worker: WorkerProcess, alice: User, swap_root: Path
) -> None:
    script = Script(api_server, token_for(alice), worker)
    host = script.call("GET", f"/api/v1/hosts/?name={worker.name}", 200)["results"][0]
    assert host["online"] is True
    path = swap_root / "http0"

    created = script.call("POST", "/api/v1/backends/", 202, json={
        "host": host["id"], "kind": "file", "name": "http0", "size_bytes": 16 * MiB,
        "priority": 17, "label": "over-http", "params": {"path": str(path)},
    })  # fmt: skip
    assert created["kind"] == "provision"
    script.follow(created)
    backend_url = f"/api/v1/backends/{created['backend']}/"
    backend = script.call("GET", backend_url, 200)
    assert backend["observed_state"] == "ready"
    assert path.stat().st_size == 16 * MiB
    assert str(path) not in swaps()

    script.follow(script.call("POST", f"{backend_url}activate/", 202))
    assert swaps().get(str(path)) == 17
    backend = script.call("GET", backend_url, 200)
    assert (backend["observed_state"], backend["active_priority"]) == ("active", 17)

    script.follow(script.call("POST", f"{backend_url}deactivate/", 202))
    assert str(path) not in swaps()
    assert script.call("GET", backend_url, 200)["observed_state"] == "ready"

    destroyed = script.follow(script.call("DELETE", backend_url, 202))
    assert destroyed["result"]["removed"] is True
    assert not path.exists()
    assert str(path) not in active_swaps()
    script.call("GET", backend_url, 404)

    trail = script.call("GET", "/api/v1/audit/?actor=alice&ordering=at", 200)["results"]
    assert [e["action"] for e in trail] == ["create", "activate", "deactivate", "destroy"]
