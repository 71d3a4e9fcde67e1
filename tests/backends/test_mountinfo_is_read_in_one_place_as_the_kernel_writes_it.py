"""/proc/self/mountinfo is parsed once (``kernel.parse_mountinfo``) for every reader: the
block kind's "is it mounted", a file's filesystem type, the cgroup hierarchies. Each used
to split the lines itself, with two ways of undoing the kernel's escapes; some passed over
a line they could not read, which would make a mounted device look unmounted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import cgroups, devices, kernel
from backends.errors import KernelError
from tests.fixtures.host import needs_root

# proc(5)'s example, with two optional fields, then a mount point holding a space, a tab,
# a backslash and U+2028 (escaped as the kernel escapes them, or passed through raw), and a
# source holding a space and a "#" (which the kernel escapes in a source, as \043).
SAMPLE = (
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n"
    "37 35 0:52 / /srv/a\\040b\\011c\\134d\u2028e rw - tmpfs my\\040tmp\\043x rw,size=4k\n"
    "38 35 0:53 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)


def test_a_text_is_read_field_by_field() -> None:
    found = kernel.parse_mountinfo(SAMPLE)
    assert [m.mount_point for m in found] == [
        "/mnt2",
        "/srv/a b\tc\\d\u2028e",
        "/sys/fs/cgroup/memory",
    ]
    first, second, third = found
    assert (first.devnum, first.root, first.fstype, first.source) == (
        (98, 0),
        "/mnt1",
        "ext3",
        "/dev/root",
    )
    assert first.super_options == ("rw", "errors=continue")
    assert (second.fstype, second.source) == ("tmpfs", "my tmp#x")
    assert [m.point for m in cgroups.parse_mountinfo(SAMPLE)] == [Path("/sys/fs/cgroup/memory")]


@pytest.mark.parametrize(
    "line",
    [
        "a line that is no mount",
        "39 35 x:y / /bad rw - tmpfs none rw",
        "40 35 0:54 / /short rw - tmpfs",
        "41 35 0:55 / /no-separator rw tmpfs none rw",
    ],
)
def test_a_line_not_as_the_kernel_writes_them_is_an_error(line: str) -> None:
    # Passed over, it would make a mounted device look unmounted to the block kind.
    with pytest.raises(KernelError, match="unexpected line in mountinfo"):
        kernel.parse_mountinfo(SAMPLE + line + "\n")


#: The kernel writes it as swapadmin\040test\0431\134x.
ODD_SOURCE = "swapadmin test#1\\x"


@pytest.fixture
def odd_mount(scratch: Path) -> Iterator[Path]:
    point = scratch / "mount point\u2028with\tbreaks"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", ODD_SOURCE, str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


@needs_root
def test_every_reader_sees_a_real_mount_the_same_way(odd_mount: Path) -> None:
    st = os.stat(odd_mount)
    want = (os.major(st.st_dev), os.minor(st.st_dev))
    mine = [m for m in kernel.mountinfo() if m.mount_point == str(odd_mount)]
    assert [(m.devnum, m.fstype, m.source, m.root) for m in mine] == [
        (want, "tmpfs", ODD_SOURCE, "/")
    ]
    assert kernel.filesystem_type(str(odd_mount / ".")) == "tmpfs"
    assert [m.mount_point for m in devices.mounts() if m.devnum == want] == [str(odd_mount)]
