"""A swap line of fstab whose ``UUID=`` was copied from a filesystem's line (a sysadmin's
slip) names that filesystem: findfs finds it, swapon would refuse it at boot. A real
discover job skips it with the reason, and no backend is made of the filesystem's device
(here a zram device of this test's own holding ext4, which discover took as an adopted
zram backend before); the device's bytes and the fstab are left as they were."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.by_hand import zram_devices
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: A disksize no other test gives a zram device.
SIZE = 23 << 20


def test_a_uuid_of_a_filesystem_in_a_swap_line_is_skipped(worker, alice):
    with zram_devices(fallback_size=SIZE) as devices:
        z = devices.hot_add(SIZE)
        subprocess.run(["mkfs.ext4", "-q", z.dev], check=True)
        fs_uuid = subprocess.run(
            ["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", z.dev],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        spec = f"UUID={fs_uuid}"
        with worker.fstab.open("a") as f:
            f.write(f"{spec} none swap sw 0 0\n")
        fstab_before, bytes_before = worker.fstab.read_bytes(), z.digest()

        job = services.request_host_job(
            worker.host, Job.Kind.DISCOVER, Actor(alice, Job.Via.API), {"paths": [spec]}
        )
        job = wait_for_job(job, 60, worker=worker)

        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.result["adopted"] == [], job.result
        [skipped] = job.result["skipped"]
        assert skipped["path"] == spec
        assert "not a swap area" in skipped["reason"] and "ext4" in skipped["reason"]
        assert z.dev in skipped["reason"]
        assert not Backend.objects.filter(host=worker.host, kind="zram", adopted=True).exists()
        assert worker.fstab.read_bytes() == fstab_before
        assert z.digest() == bytes_before
