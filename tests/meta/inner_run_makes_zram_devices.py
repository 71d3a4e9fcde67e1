"""Run only by test_a_test_run_takes_down_only_the_zram_devices_its_processes_made.py, in a
pytest of its own (not named test_*, so no other run collects it). Each device is written
to INNER_RUN_OUT as "device diskseq", for the outer test to look at and take down.

- ``test_a_strangers_device_outlives_every_take_down``: a process that is not of this run
  (it notes the device in the ledger OUTER_ZRAM_LEDGER names, as another test run's would,
  or nowhere, as a distribution's zram-generator) adds a device of the size this test's
  own devices have, and swaps on it, while the test holds a scratch directory, the zram
  clean-up and a ``zram_devices`` with that fallback size: every take-down runs past it.
- ``test_leaves_its_own_devices_behind``: one device the test adds itself and one a process
  it starts adds, both noted (the process inherits the ledger's variable); both left.
- ``test_leaves_a_device_it_cannot_take_down``: a device of its own, noted, held by a loop
  device over it (written to "holder" as a ``host.LoopMade``), so that the run's end cannot
  remove it; the run's base is written to "base".
- ``test_leaves_a_mount_it_cannot_take_down``: a tmpfs mounted in the run's base (written
  to "mount"), with a file on it, that the run's end cannot unmount (the outer test's
  ``umount`` fails); the base is written to "base"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.plugins import zram
from tests.fixtures import host
from tests.fixtures.by_hand import zram_devices
from tests.fixtures.host import attach_loop, hot_add_zram, run, zram_diskseq

SIZE = 12 << 20

#: A child process adding a device as the zram kind does: noted only where its environment
#: names a ledger.
CHILD = """
from pathlib import Path
from backends.plugins import zram
name = f"zram{int((zram.ZRAM_CONTROL / 'hot_add').read_text())}"
zram.note_added(name, Path(f"/sys/block/{name}/diskseq").read_text().strip())
print(f"/dev/{name}")
"""


def _child(env: dict[str, str]) -> str:
    repo = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _write(name: str, dev: str) -> None:
    out = Path(os.environ["INNER_RUN_OUT"])
    (out / name).write_text(f"{dev} {zram_diskseq(Path(dev).name)}")


@pytest.mark.usefixtures("scratch", "zram_cleanup")
def test_a_strangers_device_outlives_every_take_down() -> None:
    with zram_devices(fallback_size=SIZE) as devices:
        own = devices.hot_add(SIZE)
        _write("own_a", own.dev)
        env = {k: v for k, v in os.environ.items() if k != zram.LEDGER_ENV}
        if os.environ.get("OUTER_ZRAM_LEDGER"):
            env[zram.LEDGER_ENV] = os.environ["OUTER_ZRAM_LEDGER"]
        stranger = _child(env)
        _write("stranger", stranger)
        (Path("/sys/block") / Path(stranger).name / "disksize").write_text(str(SIZE))
        run("mkswap", "-q", stranger)
        run("swapon", stranger)


def test_leaves_its_own_devices_behind() -> None:
    _write("own_b", hot_add_zram())
    _write("child", _child(dict(os.environ)))


def test_leaves_a_device_it_cannot_take_down() -> None:
    # The run's end then gives up at once on the busy device (patience that is never
    # handed back: the run ends with this test).
    host.ZRAM_TAKE_DOWN_SECONDS = 0.0
    pytest.MonkeyPatch().setattr(zram, "HOT_REMOVE_WAIT", 0.0)
    out = Path(os.environ["INNER_RUN_OUT"])
    (out / "base").write_text(str(host.TEST_BASE))
    dev = hot_add_zram()
    _write("held", dev)
    (Path("/sys/block") / Path(dev).name / "disksize").write_text(str(SIZE))
    # Recorded as made (device, file, disk sequence number), for the outer test to detach
    # only while it is still this binding.
    (out / "holder").write_text(str(attach_loop(Path(dev))))


def test_leaves_a_mount_it_cannot_take_down() -> None:
    # The outer test puts an umount that fails first on this run's PATH.
    out = Path(os.environ["INNER_RUN_OUT"])
    (out / "base").write_text(str(host.TEST_BASE))
    mnt = host.TEST_BASE / "mnt"
    mnt.mkdir()
    run("/usr/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt))
    (out / "mount").write_text(str(mnt))
    (mnt / "still-here").write_text("")
