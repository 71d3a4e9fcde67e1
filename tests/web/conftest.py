"""Rows for page tests: a backend on the test host, a snapshot, samples, a live job."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backends import kernel, tunables
from swapadmin.core.models import Backend, Host, Job, Sample

HTMX = {"HX-Request": "true"}


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    # The personas' passwords are hashed on creation; the real hasher's cost buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def as_user(client: Client) -> Any:
    def login(user: Any) -> Client:
        client.force_login(user)
        return client

    return login


# A snapshot shaped as core.sampler.take_sample writes it, built from the same dataclasses,
# so a change to their fields shows up here.
OBSERVED = {
    "meminfo": asdict(
        kernel.MemInfo(
            mem_total=8 << 30,
            mem_available=5 << 30,
            swap_total=2 << 30,
            swap_free=(2 << 30) - (512 << 20),
            swap_cached=16 << 20,
        )
    ),
    "rates": {"pswpin": 12.5, "pswpout": 40.0},
    "psi": asdict(kernel.Psi(3.25, 2.0, 1.0, 1000, 0.5, 0.2, 0.1, 100)),
    "tunables": asdict(
        tunables.Tunables(
            swappiness=60,
            page_cluster=3,
            zswap_enabled=True,
            zswap_compressor="lzo",
            zswap_max_pool_percent=20,
        )
    ),
    "unmanaged": [asdict(kernel.SwapArea("/dev/vdb2", "partition", 1 << 30, 100 << 20, -2))],
    "top": [asdict(kernel.ProcSwap(4242, "postgres", 300 << 20))],
}


@pytest.fixture
def observed_host(host_row: Host) -> Host:
    host_row.observed = OBSERVED
    host_row.observed_at = timezone.now()
    host_row.save()
    return host_row


@pytest.fixture
def backend(host_row: Host, swap_root: Path) -> Backend:
    return Backend.objects.create(
        host=host_row,
        kind="file",
        name="swap1",
        params={"path": str(swap_root / "swap1")},
        size_bytes=256 << 20,
        priority=10,
        observed_state=Backend.Observed.READY,
        header={
            "version": 1,
            "page_size": 4096,
            "last_page": 65535,
            "nr_badpages": 2,
            "badpages": [7, 9],
            "uuid": "0b1c2d3e-0000-4000-8000-000000000001",
            "label": "fastswap",
        },
        info={
            "kind": "file",
            "path": str(swap_root / "swap1"),
            "filesystem": "ext4",
            "exists": True,
            "extents": 3,
            "problems": [],
            "file_size_bytes": 256 << 20,
        },
    )


@pytest.fixture
def running_job(backend: Backend) -> Job:
    return Job.objects.create(
        kind=Job.Kind.SCAN,
        host=backend.host,
        backend=backend,
        backend_name=backend.name,
        state=Job.State.RUNNING,
        progress=42,
        progress_message="pattern 2 of 4",
        log="started scan\nwrote pattern 1\n",
        started_at=timezone.now(),
    )


def make_samples(host: Host, count: int, step: timedelta, resolution: str, **values: Any) -> None:
    now = timezone.now()
    Sample.objects.bulk_create(
        Sample(
            host=host,
            at=now - step * i,
            resolution=resolution,
            swap_total=2 << 30,
            swap_free=(2 << 30) - (i << 20),
            mem_available=4 << 30,
            pswpin_rate=i,
            pswpout_rate=2 * i,
            **values,
        )
        for i in range(count)
    )
