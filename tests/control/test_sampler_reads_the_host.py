"""One sample: the Host's snapshot and heartbeat, a Sample row, and each backend's state
read from /proc/swaps, including an area swapon'd by hand."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.core.worker import register_host
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, row_fields

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def test_it_registers_the_host_from_its_kernel(swap_root):
    host = register_host()
    assert host.name == "testhost"
    assert host.kernel_release and host.page_size >= 4096 and host.mem_total_bytes > 0
    assert host.swap_roots == [str(swap_root)]
    assert host.online


def test_a_sample_sees_an_area_activated_by_hand(host_row, swap_root, policy):
    # A backend's own area (made as its provision makes it), activated outside swapadmin.
    path = swap_root / "hand"
    row_uuid = uuid.uuid4()
    with provisioned(
        "file", {"path": str(path)}, size=16 << 20, policy=policy, owner=str(row_uuid)
    ) as plugin:
        made = row_fields(plugin)
    backend = Backend.objects.create(
        uuid=row_uuid, host=host_row, kind="file", name="hand", params={"path": str(path)},
        size_bytes=16 << 20, observed_state=Backend.Observed.READY, **made,
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
