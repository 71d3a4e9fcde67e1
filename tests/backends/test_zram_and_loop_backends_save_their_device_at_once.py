"""A zram device added or a loop device attached exists on the host before anything else
knows of it: only the backend's state can find it again. So the plugin hands its state to
``on_state`` (the control plane saves it on the row) the moment the device exists: a zram
device right after ``hot_add``, before it is even configured; a loop device right after it
is attached. A process killed just then leaks nothing: a plugin built from the saved state
(destroy's) removes the device."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.by_hand import zram_devices
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
#: A disksize no other test uses: a device of this size that appears is this test's.
ZRAM_SIZE = 16 * MiB + 11 * 4096
REPO = Path(__file__).resolve().parents[2]

KILLED_AT_ON_STATE = """
import json, os, signal, sys
from pathlib import Path
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.policy import Policy

kind, root, saved, size, owner = sys.argv[1:6]
cls = {"zram": ZramBackend, "loop": LoopBackend}[kind]
params = {"path": str(Path(root) / "l0")} if kind == "loop" else {}
backend = cls(params, size_bytes=int(size), policy=Policy(swap_roots=(root,)),
              provisioning=True, owner=owner)

def on_state(state):
    Path(saved).write_text(json.dumps(state))
    os.kill(os.getpid(), signal.SIGKILL)

backend.on_state = on_state
backend.swapfile(True)
"""


def _killed_at_on_state(kind: str, root: Path, saved: Path, size: int, owner: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AT_ON_STATE, kind, str(root), str(saved), str(size), owner],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert saved.exists(), f"the plugin never reported its state: {done.returncode} {done.stderr}"
    assert done.returncode < 0, done.stderr
    return json.loads(saved.read_text())


def test_a_zram_device_is_reported_as_soon_as_it_is_added(policy: Policy) -> None:
    with zram_devices(fallback_size=ZRAM_SIZE) as zram:
        seen: list[tuple[dict, str, str]] = []
        backend = ZramBackend(
            {}, size_bytes=ZRAM_SIZE, policy=policy, provisioning=True, owner=str(uuid.uuid4())
        )

        def on_state(state: dict) -> None:
            zram.note(state)
            name = Path(state["device"]).name
            disksize = Path(f"/sys/block/{name}/disksize").read_text().strip()
            seen.append((state, Path(f"/sys/block/{name}/diskseq").read_text().strip(), disksize))

        backend.on_state = on_state
        backend.swapfile(True)
        backend.close()
        state, diskseq, disksize = seen[0]
        assert state["device"] == backend.state["device"]
        assert state["store"]["diskseq"] == diskseq and state["store"]["devnum"]
        assert disksize == "0"  # reported before it was configured
        backend.swapfile(False)


def test_a_zram_device_added_by_a_killed_process_is_removed_by_destroy(
    policy: Policy, scratch: Path
) -> None:
    owner = str(uuid.uuid4())
    with zram_devices(fallback_size=ZRAM_SIZE) as zram:
        state = _killed_at_on_state(
            "zram", policy.swap_roots[0], scratch / "state", ZRAM_SIZE, owner
        )
        zram.note(state)
        name = Path(state["device"]).name
        assert Path(f"/sys/block/{name}/diskseq").read_text().strip() == state["store"]["diskseq"]

        destroy = ZramBackend({}, size_bytes=ZRAM_SIZE, policy=policy, state=state, owner=owner)
        destroy.swapfile(False)
        assert not Path(f"/sys/block/{name}").exists() or (
            Path(f"/sys/block/{name}/diskseq").read_text().strip() != state["store"]["diskseq"]
        )


def test_a_loop_device_is_reported_while_attached(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "l0"
    seen: list[tuple[dict, str | None]] = []
    backend = LoopBackend(
        {"path": str(path)}, size_bytes=16 * MiB, policy=policy, provisioning=True,
        owner=str(uuid.uuid4()),
    )  # fmt: skip
    backend.on_state = lambda state: seen.append((state, attached_loops().get(state["device"])))
    try:
        backend.swapfile(True)
        backend.close()
        assert seen and seen[0][0]["device"] == backend.state["device"]
        assert seen[0][1] == str(path)
    finally:
        backend.swapfile(False)
    assert str(path) not in attached_loops().values()


def test_a_loop_device_attached_by_a_killed_process_is_detached_by_destroy(
    swap_root: Path, policy: Policy, scratch: Path
) -> None:
    owner = str(uuid.uuid4())
    path = swap_root / "l0"
    state = _killed_at_on_state("loop", swap_root, scratch / "state", 16 * MiB, owner)
    dev = state["device"]
    assert attached_loops().get(dev) == str(path)

    destroy = LoopBackend(
        {"path": str(path)}, size_bytes=16 * MiB, policy=policy, state=state, owner=owner
    )
    destroy.swapfile(False)
    assert attached_loops().get(dev) != str(path)
    assert destroy.remove() is True and not path.exists()
