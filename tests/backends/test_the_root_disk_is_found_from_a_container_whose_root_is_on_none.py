"""The disk holding the host's ``/`` is refused to every kind, forced or not. A worker in a
container sees its own ``/`` on an overlay, on no block device, and found no root disk at
all; with the host's processes in view (docker-compose gives the worker ``pid: host``) it
now also asks init's mounts. The container is made for real: a private mount namespace
with a tmpfs mounted over ``/``, which dies with its one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backends import devices
from tests.fixtures.host import needs_root

pytestmark = needs_root

REPO = Path(__file__).resolve().parents[2]
ASK = (
    "import json; from backends import devices, kernel; "
    "print(json.dumps({'root': [m.fstype for m in kernel.mountinfo() if m.mount_point == '/'],"
    " 'disks': sorted(devices.root_devices())}))"
)


def test_a_worker_whose_root_is_on_no_block_device_still_finds_the_host_s() -> None:
    host = sorted(devices.root_devices())
    if not host:
        pytest.skip("this machine's own / is on no block device: nothing to find")
    done = subprocess.run(
        [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs swapadmin-test / && exec "$0" -c "$1"', sys.executable, ASK,
        ],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen["root"][-1] == "tmpfs"  # its own / is on no block device
    assert [tuple(d) for d in seen["disks"]] == host
