"""A provision makes its swap file unnamed (O_TMPFILE), marks, allocates and checks it, and
gives it its name only then. A process killed before that (here: SIGKILL in the control
plane's store claim, the last step before the name) leaves nothing at the path and nothing
else in the directory (the unnamed file dies with the process); a provision run again
makes the file from scratch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from backends import header
from backends.plugins.file import MARK_NAME, FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 64 * MiB
REPO = Path(__file__).resolve().parents[2]

KILLED_AT_THE_CLAIM = """
import json, os, signal, sys
from backends.plugins.file import FileBackend
from backends.policy import Policy

root, path, size, owner = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
backend = FileBackend(
    {"path": path}, size_bytes=size, policy=Policy(swap_roots=(root,)), provisioning=True,
    owner=owner,
)

def claim(store):
    st = os.fstat(store.fd)
    print(json.dumps({
        "named": os.path.lexists(path), "links": st.st_nlink, "size": st.st_size,
        "mark": os.getxattr(store.fd, "trusted.swapadmin").decode(),
    }), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

backend.on_store = claim
backend.swapfile(True)
print(json.dumps({"finished": True}), flush=True)
"""


def test_a_provision_killed_before_the_name_leaves_nothing(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "s0"
    owner = str(uuid.uuid4())
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_CLAIM, str(swap_root), str(path), str(SIZE), owner],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, (done.stdout, done.stderr)
    seen = json.loads(done.stdout.splitlines()[0])
    # At the claim the file was complete, marked, and had no name at all.
    assert seen == {
        "named": False, "links": 0, "size": SIZE, "mark": f"swapadmin:made:{owner}",
    }  # fmt: skip
    assert not os.path.lexists(path)
    assert os.listdir(swap_root) == []

    with FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner
    ) as again:
        again.swapfile(True)
        hdr = header.mkswap(again, label="again")
    assert path.stat().st_size == SIZE and path.stat().st_nlink == 1
    assert os.getxattr(path, MARK_NAME) == f"swapadmin:made:{owner}".encode()
    with open(path, "rb") as f:
        assert header.parse_header(f.read(4096)).uuid == hdr.uuid
