"""An area /proc/swaps shows as "(deleted)" gets a reason on the host page, not an Adopt
button: discover passes over it (the path it had may name another file or device by now),
so the button's job could only refuse (review 148/4).

Real: a loop device swapped on through a device node of the test's own, which is then
removed (an active swap file cannot be unlinked, a node of its device can), so the kernel
shows the area "(deleted)"; the loop device fixture swaps it off through /dev/loopN.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Host
from swapadmin.core.sampler import Reading, take_sample
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def test_the_deleted_area_says_why_it_cannot_be_adopted(
    host_row: Host, loop_device: str, scratch: Path
) -> None:
    subprocess.run(["mkswap", "-q", loop_device], check=True)
    node = scratch / "swapnode"
    os.mknod(node, 0o600 | stat.S_IFBLK, os.stat(loop_device).st_rdev)
    subprocess.run(["swapon", str(node)], check=True)
    node.unlink()
    [area] = [a for a in kernel.swap_areas() if a.path == str(node)]
    assert area.deleted

    take_sample(host_row, Reading())
    unmanaged = {a["path"]: a for a in Host.objects.get(pk=host_row.pk).observed["unmanaged"]}
    assert unmanaged[str(node)]["unadoptable"] == (
        "the file or device node it was swapped on from has been deleted: nothing is "
        "left at its path to adopt"
    )
