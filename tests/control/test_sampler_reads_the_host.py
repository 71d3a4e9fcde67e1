"""One sample: the Host's snapshot and heartbeat, a Sample row, and each backend's state
read from /proc/swaps, including an area swapon'd by hand."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.core.worker import register_host
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def test_it_registers_the_host_from_its_kernel(swap_root):
    host = register_host()
    assert host.name == "testhost"
    assert host.kernel_release and host.page_size >= 4096 and host.mem_total_bytes > 0
    assert host.swap_roots == [str(swap_root)]
    assert host.online


def test_a_sample_sees_an_area_activated_by_hand(host_row, swap_root):
    path = swap_root / "hand"
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", str(path)], check=True, capture_output=True)
    backend = Backend.objects.create(
        host=host_row, kind="file", name="hand", params={"path": str(path)},
        size_bytes=16 << 20, observed_state=Backend.Observed.READY,
    )  # fmt: skip
    previous = Reading()
    take_sample(host_row, previous)
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY

    subprocess.run(["swapon", "-p", "9", str(path)], check=True)
    sample = take_sample(host_row, previous)
    backend.refresh_from_db()
    assert (backend.observed_state, backend.active_priority) == ("active", 9)
    assert str(backend.uuid) in sample.backends
    host = Host.objects.get(pk=host_row.pk)
    assert host.observed["meminfo"]["mem_total"] > 0
    assert str(path) not in [a["path"] for a in host.observed["unmanaged"]]
    assert str(path) in [a["path"] for a in host.observed["areas"]]
    assert sample.swap_total >= 15 << 20
    assert Sample.objects.filter(host=host_row).count() == 2

    subprocess.run(["swapoff", str(path)], check=True)
    take_sample(host_row, previous)
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY
