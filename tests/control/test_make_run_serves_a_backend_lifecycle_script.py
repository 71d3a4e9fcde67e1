"""Ordinary use of `make run`, no campaign: a script with an API token creates a file backend,
activates it and deletes it, five times over. Every answer is below 500, every job ends
succeeded, and no log of web, worker or beat says "database is locked".

Before SQLite took its write lock up front, one ``DELETE /api/v1/backends/<id>/`` in such a
script answered 500: the request's transaction read the backend, the worker's sampler wrote
meanwhile, and SQLite refused the request's write at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.host import active_swaps, needs_root

from .make_run import LOCKED, Run, make_run

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(600)]

ROUNDS = 5
SIZE = 16 << 20


def answered(r: httpx.Response, expected: int, seen: list[str]) -> dict[str, Any]:
    seen.append(f"{r.request.method} {r.request.url.path} -> {r.status_code}")
    assert r.status_code < 500, f"{seen[-1]}: {r.text[:2000]}"
    assert r.status_code == expected, f"{seen[-1]}: {r.text[:2000]}"
    return dict(r.json())


def finished(run: Run, api: httpx.Client, job: dict[str, Any], seen: list[str]) -> dict[str, Any]:
    """The job once it has ended, followed as a script would: GET jobs/{id}/ until then."""

    def ended() -> dict[str, Any] | None:
        now = answered(api.get(f"/jobs/{job['id']}/"), 200, seen)
        return now if now["state"] in ("succeeded", "failed", "cancelled") else None

    done = run.wait(ended, 120, f"{job['kind']} job {job['id']} to end")
    assert done["state"] == "succeeded", done
    return done


def test_create_activate_delete_five_times(scratch: Path) -> None:
    seen: list[str] = []
    with make_run(scratch / "run") as run, run.api(run.token()) as api:
        host = run.wait(
            lambda: (h := run.host_row(api)) and h["online"] and h, 90, "the host online"
        )
        for i in range(ROUNDS):
            path = run.swap_root / f"life-{i}"
            made = answered(
                api.post("/backends/", json={
                    "host": host["id"], "kind": "file", "name": f"life-{i}",
                    "size_bytes": SIZE, "params": {"path": str(path)},
                }),
                202, seen,
            )  # fmt: skip
            backend = finished(run, api, made, seen)["backend"]
            assert path.stat().st_size == SIZE

            activate = answered(api.post(f"/backends/{backend}/activate/", json={}), 202, seen)
            finished(run, api, activate, seen)
            assert str(path) in active_swaps()

            destroy = answered(api.delete(f"/backends/{backend}/"), 202, seen)
            finished(run, api, destroy, seen)
            assert not path.exists() and str(path) not in active_swaps()
        output = run.output()
    assert len(seen) >= ROUNDS * 6
    assert LOCKED not in output, run.tail()
