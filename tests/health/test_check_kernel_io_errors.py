"""Kernel I/O errors on the device under an area, read from /dev/kmsg. The failing disk is
real: a loop-backed swap file on an XFS filesystem that is then shut down, so every read
of the loop device ends in EIO and the kernel logs it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from backends import Policy
from swapadmin.core.models import Backend
from swapadmin.health import probes
from swapadmin.health.checks import run_backend_check
from tests.fixtures.host import mounted_image
from tests.fixtures.stores import provisioned, row_fields
from tests.fixtures.workers import wait_until

from .conftest import MiB, check_job, findings_by_check

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def loop_area_on_xfs(scratch: Path, host_row, monkeypatch):
    with mounted_image(scratch, "xfs") as mnt:
        root = mnt / "swap"
        root.mkdir(mode=0o700)
        monkeypatch.setenv("SWAPADMIN_SWAP_ROOTS", str(root))
        path = root / "area"
        row_uuid = uuid.uuid4()
        plugin = provisioned(
            "loop",
            {"path": str(path)},
            size=16 * MiB,
            policy=Policy.from_env(),
            owner=str(row_uuid),
            label="onxfs",
        )
        try:
            plugin.close()
            backend = Backend.objects.create(
                uuid=row_uuid,
                host=host_row,
                kind="loop",
                name="onxfs",
                params={"path": str(path)},
                size_bytes=16 * MiB,
                label="onxfs",
                **row_fields(plugin),
            )
            yield backend, mnt
        finally:
            plugin.close()
            # The filesystem may be shut down: detaching the loop device is all that is
            # left to release (mounted_image unmounts and detaches what remains).
            subprocess.run(["losetup", "-d", plugin.state["device"]], check=False)


def test_a_healthy_device_has_no_errors(loop_area_on_xfs):
    backend, _ = loop_area_on_xfs
    result = run_backend_check(check_job(backend))
    io = findings_by_check(result)["io_errors"]
    assert io["status"] == "ok"
    device = Path(backend.state["device"]).name
    assert device in io["value"]["devices"]
    # The loop device serves the file this backend's provision made and formatted.
    assert findings_by_check(result)["identity"]["status"] == "ok"
    assert result["status"] == "ok"


def test_it_reports_io_errors_of_a_dying_disk(loop_area_on_xfs):
    backend, mnt = loop_area_on_xfs
    device = backend.state["device"]
    subprocess.run(["xfs_io", "-x", "-c", "shutdown", str(mnt)], check=True)
    name = Path(device).name
    pattern = probes.device_pattern({name}, set())
    since = probes.boot_usec(backend.created_at)

    def logged() -> bool:
        # The kernel rate-limits its I/O error lines (a burst of 10 every 5 s for the whole
        # machine): after other tests' failing disks the first read may go unlogged, so the
        # read is made again until the kernel's line about this device is in the log.
        read = subprocess.run(
            ["dd", f"if={device}", "of=/dev/null", "bs=4096", "count=1", "iflag=direct"],
            capture_output=True,
            text=True,
        )
        assert read.returncode != 0 and "Input/output error" in read.stderr
        lines = probes.read_kmsg() or []
        # Only lines since this backend was made: the loop device's number was used before.
        return any(ln.usec >= since and probes.is_io_error(ln.text, pattern) for ln in lines)

    wait_until(logged, 30, f"the kernel to log an I/O error on {name}")

    result = run_backend_check(check_job(backend))

    found = findings_by_check(result)
    assert found["io_errors"]["status"] == "fail"
    assert found["io_errors"]["value"]["count"] >= 1
    assert Path(device).name in found["io_errors"]["message"]
    assert found["header"]["status"] == "fail"  # page 0 cannot be read either
    # Nothing can be read to prove whose the store is: never reported as proven.
    assert found.get("identity", {}).get("status") != "ok"
    assert result["status"] == "fail"


def test_old_errors_and_other_devices_do_not_count():
    log = [
        probes.LogLine(10, "I/O error, dev loop7, sector 0 op 0x0:(READ)"),
        probes.LogLine(10, "I/O error, dev loop70, sector 0 op 0x0:(READ)"),
        probes.LogLine(10, "Write-error on swap-device (7:7:1234)"),
        probes.LogLine(10, "loop7: detected capacity change from 0 to 16384"),
    ]
    pattern = probes.device_pattern({"loop7"}, {"7:7"})
    hits = [ln.text for ln in log if probes.is_io_error(ln.text, pattern)]
    assert hits == [log[0].text, log[2].text]
