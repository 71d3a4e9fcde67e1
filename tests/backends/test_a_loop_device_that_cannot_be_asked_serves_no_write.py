"""A loop device the worker cannot ask is never taken to serve nothing.

Before a file's bytes are written, every loop device attached to that file is looked for:
through one, the file may be swapped on or mounted under another name. A worker denied
the loop devices (a device cgroup, systemd's DevicePolicy=, an LSM) could not open them
and took each for one serving nothing, so a resize, a relabel or a removal went ahead on
a file a loop device might be swapping on. The same denial made a partition of a loop
device look like a plain disk, keyed by its own number, hiding the file it writes to.

The denial here is real: the question is asked from a process in a v1 devices cgroup that
denies the loop major (7), over loop devices this test attaches.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import store as store_mod
from tests.fixtures.host import needs_root, run

pytestmark = needs_root

DEVICES = Path("/sys/fs/cgroup/devices")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_loop_devices() -> Iterator[Path]:
    """A devices cgroup whose processes may not open any loop device (block major 7)."""
    if not (DEVICES / "devices.deny").exists():
        pytest.skip("no cgroup v1 devices hierarchy at /sys/fs/cgroup/devices")
    cg = DEVICES / f"swapadmin-test-{uuid.uuid4().hex[:8]}"
    cg.mkdir()
    try:
        (cg / "devices.deny").write_text("b 7:* rwm\n")
        yield cg
    finally:
        cg.rmdir()  # its only process has exited: subprocess.run waited for it


def ask_in(cgroup: Path, body: str) -> dict[str, object]:
    """Run ``body`` (which sets ``out``) in a child process placed in ``cgroup`` first."""
    code = (
        "import json, os, sys\n"
        f"open({str(cgroup / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
        "from backends import store as store_mod\n"
        "from backends.errors import BackendError\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "except BackendError as e:\n"
        "    out = {'error': e.message}\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_loops_serving_a_file_are_not_none_when_they_cannot_be_asked(
    loop_device: str, scratch: Path, no_loop_devices: Path
) -> None:
    backing = scratch / "disk.img"
    body = (
        f"fd = os.open({str(backing)!r}, os.O_RDONLY)\n"
        "out = {'serving': store_mod.loops_serving(os.fstat(fd))}\n"
    )
    assert store_mod.loops_serving(backing.stat()) == [loop_device]  # asked freely
    got = ask_in(no_loop_devices, body)
    assert "serving" not in got, got
    assert str(got["error"]).startswith(
        "cannot ask /dev/loop"
    ) and "(Operation not permitted), so whether it serves this store" in str(got["error"])


def test_the_file_kind_refuses_to_write_through_an_unaskable_loop_device(
    loop_device: str, scratch: Path, no_loop_devices: Path
) -> None:
    backing = scratch / "disk.img"
    body = (
        "from backends.plugins.file import FileBackend\n"
        f"fd = os.open({str(backing)!r}, os.O_RDONLY)\n"
        f"FileBackend._check_no_loop(fd, {str(backing)!r}, None)\n"
        "out = {'passed': True}\n"
    )
    got = ask_in(no_loop_devices, body)
    assert "cannot ask /dev/loop" in str(got.get("error")), got


def test_a_loop_partition_is_not_keyed_as_a_plain_disk_when_its_disk_cannot_be_asked(
    loop_device: str, no_loop_devices: Path
) -> None:
    run("sfdisk", "-q", loop_device, input="label: dos\n2048,,S\n")
    run("partx", "-a", loop_device)
    part = f"{loop_device}p1"
    fd = store_mod.os.open(part, store_mod.os.O_RDONLY)
    try:
        ident = store_mod.device_identity(fd)
    finally:
        store_mod.os.close(fd)
    assert ident["key"].startswith("file:"), ident  # asked freely: the backing file's bytes
    body = f"fd = os.open({part!r}, os.O_RDONLY)\nout = store_mod.device_identity(fd)\n"
    got = ask_in(no_loop_devices, body)
    assert "key" not in got, got
    assert "cannot tell which block device is open" in str(got["error"]), got
