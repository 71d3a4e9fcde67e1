"""A name on a host is bytes: a swap file, a mount point, a loop device's backing file, a
process (which names itself, unprivileged) may carry bytes that are not UTF-8. Read as
strict UTF-8, one such name anywhere on the host made every read of /proc/swaps,
mountinfo, a loop device's sysfs name or the processes' status fail (UnicodeDecodeError,
an error of no kind): the sampler, every job and every proof that reads them. They are
read as names now: the very bytes come back for opening, and shown, they are escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import cgroups, devices, kernel, wipefs
from backends import store as store_mod
from backends.errors import BackendError, printable
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


@pytest.fixture
def odd(scratch: Path) -> Path:
    """A directory of the test's own whose name is not UTF-8 (its str holds a surrogate,
    which every os call turns back into the byte 0xff)."""
    raw = os.path.join(os.fsencode(scratch), b"odd-\xff")
    os.mkdir(raw, 0o700)
    return Path(os.fsdecode(raw))


def test_an_active_swap_file_so_named_is_read_with_its_very_bytes(odd: Path) -> None:
    area = odd / "area"
    run("fallocate", "-l", "16M", str(area))
    area.chmod(0o600)
    run("mkswap", "-q", str(area))
    run("swapon", str(area))
    try:
        found = [a for a in kernel.swap_areas() if a.path == str(area)]
        assert len(found) == 1
        assert os.fsencode(found[0].path).endswith(b"/odd-\xff/area")
        assert kernel.is_active(str(area))
        shown = kernel.printable(found[0].path)
        assert shown.endswith("/odd-\\xff/area") and shown.encode("utf-8")
    finally:
        run("swapoff", str(area), check=False)
    assert not kernel.is_active(str(area))


def test_a_mount_point_so_named_is_read_with_its_very_bytes(odd: Path) -> None:
    mnt = odd / "mnt"
    mnt.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=1m", "swapadmin-test", str(mnt))
    try:
        st = os.stat(mnt)
        found = [m for m in devices.mounts() if m.mount_point == str(mnt)]
        assert [m.devnum for m in found] == [(os.major(st.st_dev), os.minor(st.st_dev))]
        assert found[0].fstype == "tmpfs"
        assert kernel.filesystem_type(str(mnt)) == "tmpfs"
        assert cgroups.cgroup_mounts()  # read through that line without failing
    finally:
        run("umount", str(mnt), check=False)


def test_a_loop_device_over_a_file_so_named_is_told_by_its_file(odd: Path) -> None:
    disk = odd / "disk"
    run("fallocate", "-l", "16M", str(disk))
    dev = run("losetup", "--find", "--show", str(disk)).stdout.strip()
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ident = store_mod.device_identity(fd)
            st = os.stat(disk)
            assert ident["loop_backing"] == [st.st_dev, st.st_ino]
            assert "loop_over_device" not in ident  # a file, not a block device
            back = store_mod.open_loop_backing(fd)
            assert back is not None
            try:
                assert (os.fstat(back).st_dev, os.fstat(back).st_ino) == (st.st_dev, st.st_ino)
            finally:
                os.close(back)
        finally:
            os.close(fd)
    finally:
        run("losetup", "-d", dev, check=False)


#: Names a process may give itself (prctl PR_SET_NAME, at most 15 bytes): a byte that is
#: not UTF-8, and characters str.splitlines() takes for line ends, one making a line that
#: reads like the kernel's VmSwap (with a figure that is no number, and with a false one).
NAMES = {
    "not UTF-8": (b"odd\xffname", "odd\\xffname"),
    "a VT starting a VmSwap line": (b"\x0bVmSwap:", "VmSwap:"),
    "a separator starting one": (b"\x1cVmSwap:x", "VmSwap:x"),
    "U+2028 and a false figure": ("\u2028VmSwap:99999".encode(), "VmSwap:99999"),
}


@pytest.fixture(params=list(NAMES), ids=list(NAMES))
def odd_process(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    """A process of the test's own that named itself as any unprivileged process may; its
    pid and the name swapadmin should show."""
    name, shown = NAMES[request.param]
    code = (
        "import ctypes, sys\n"
        f"ctypes.CDLL(None).prctl(15, {name!r}, 0, 0, 0)\n"
        "print('named', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"named\n"
        yield child.pid, shown
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def test_a_process_so_named_is_read_and_shown_escaped(odd_process: tuple[int, str]) -> None:
    pid, shown = odd_process
    kernel.top_swap_processes(10)  # reads every process's status, this one included
    proc = kernel.process_swap(pid)
    assert proc is not None and (proc.pid, proc.name) == (pid, shown)
    # Its own VmSwap line, not the one its name forged (its figure may be any, under
    # memory pressure; never 99999 kB, which no idle interpreter holds in swap).
    assert proc.swap_bytes != 99999 * 1024
    assert cgroups._start_time(pid) is not None


def test_a_message_naming_one_is_printable_wherever_it_is_kept() -> None:
    name = os.fsdecode(b"/swap/odd-\xff")
    err = BackendError(f"{name} is mounted")
    assert err.message == str(err) == "/swap/odd-\\xff is mounted"
    assert err.message.encode("utf-8")  # what a job's error column must hold
    assert printable("/swap/plain") == "/swap/plain"
    assert printable("lone \ud800") == "lone \\ud800"  # no name decodes to it; still shown


def test_a_label_in_no_encoding_is_listed_escaped(scratch: Path) -> None:
    # mkswap -L writes the label's bytes as given (another locale's, a DOS code page's);
    # wipefs's JSON passes them through raw.
    area = scratch / "labelled"
    run("fallocate", "-l", "16M", str(area))
    subprocess.run(["mkswap", "-q", "-L", os.fsdecode(b"\xe9t\xe9"), str(area)], check=True)
    assert [(s.type, s.label) for s in wipefs.signatures(str(area))] == [("swap", "\\xe9t\\xe9")]
    fd = os.open(area, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert [(s.type, s.label) for s in wipefs.signatures(fd)] == [("swap", "\\xe9t\\xe9")]
    finally:
        os.close(fd)
