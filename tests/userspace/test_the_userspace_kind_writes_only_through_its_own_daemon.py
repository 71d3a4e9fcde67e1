"""A write of the user-space kind lands only where it is proven, on the descriptor it goes
through, when that descriptor is opened just before the first write: the loop device serves
the area file of this backend's FUSE mount, served by the recorded daemon (pid and start
time), which holds this backend's store. A loop device re-pointed at another file, a state
naming another loop device, another mount over the mount point, or a recorded daemon that is
another process: each write refuses with NotOursError and nothing is written anywhere. While
a proven descriptor is open, its loop device cannot be re-pointed at all. A recorded pid
that another process holds now is never signalled, by a write, a release or a restart."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from swapadmin_userspace import daemon
from swapadmin_userspace.daemon import Daemon
from swapadmin_userspace.plugin import UserspaceBackend

from backends.base import PAGE_SIZE
from backends.errors import NotOursError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.userspace.served import (
    SIZE,
    daemons_under,
    later,
    made,
    recorded,
    stats,
)


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def decoy(scratch: Path) -> Path:
    """A file of the test's own, of the store's size, that no write may reach."""
    path = scratch / "decoy"
    path.write_bytes(b"decoy!!!" * (SIZE // 8))
    return path


def refused_and_nothing_written(job: UserspaceBackend, *untouched: Path, match: str) -> None:
    before = {p: digest(p) for p in (Path(job.file_path), *untouched)}
    writes = stats(job)["writes"]
    with pytest.raises(NotOursError, match=match):
        job.swap_out(7, b"\xa5" * PAGE_SIZE)
    assert {p: digest(p) for p in before} == before
    assert stats(job)["writes"] == writes


@needs_root
def test_a_loop_device_re_pointed_at_another_file_is_refused(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    dev = plugin.device
    assert dev is not None
    other = decoy(scratch)
    # The device number the state names now serves the test's own file.
    run("losetup", "-d", dev)
    run("losetup", "--direct-io=on", dev, str(other))
    try:
        job = later(plugin)
        refused_and_nothing_written(job, other, match=f"the loop device now at {dev} is not")
        job.close()
        # Releasing leaves that device alone: it is not this backend's any more.
        job.swapfile(False)
        assert attached_loops()[dev] == str(other)
    finally:
        if attached_loops().get(dev) == str(other):
            run("losetup", "-d", dev, check=False)


@needs_root
def test_a_proven_descriptor_cannot_be_re_pointed_while_it_is_open(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    dev = plugin.device
    assert dev is not None
    other = decoy(scratch)
    job = later(plugin)
    first, second = b"\x11" * PAGE_SIZE, b"\x22" * PAGE_SIZE
    job.swap_out(7, first)  # opens the loop device and proves it
    try:
        run("losetup", "-d", dev)  # the kernel only marks it: it is detached at our close
        taken = run("losetup", dev, str(other), check=False)
        assert taken.returncode != 0
        job.swap_out(8, second)
        store = Path(job.file_path).read_bytes()
        assert store[7 * PAGE_SIZE : 9 * PAGE_SIZE] == first + second
        assert other.read_bytes() == b"decoy!!!" * (SIZE // 8)
    finally:
        job.close()  # and with it, the loop device is detached
    assert dev not in attached_loops()
    later(plugin).swapfile(False)


@needs_root
def test_a_state_naming_another_loop_device_is_refused(
    swap_root: Path, policy: Policy, uswap_dir: Path, loop_device: str
) -> None:
    plugin = made(swap_root, policy)
    job = later(plugin, state={**plugin.state, "device": loop_device})
    refused_and_nothing_written(
        job,
        Path(attached_loops()[loop_device]),
        match=f"the loop device now at {loop_device} is not this backend's",
    )
    job.close()
    later(plugin).swapfile(False)


@needs_root
def test_another_mount_over_the_mount_point_is_refused(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp = plugin.mountpoint
    assert mp is not None
    served_stats = stats(plugin)
    run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "cover", mp)
    try:
        # Made to look the part: an area of the size, stats naming the real daemon.
        area = Path(mp, "area")
        area.write_bytes(bytes(SIZE))
        Path(mp, "stats").write_text("".join(f"{k} {v}\n" for k, v in served_stats.items()))
        job = later(plugin)
        before = digest(plugin.file_path), digest(area)
        with pytest.raises(NotOursError, match=f"{mp} is not this backend's FUSE mount"):
            job.swap_out(7, b"\xa5" * PAGE_SIZE)
        assert (digest(plugin.file_path), digest(area)) == before
        job.close()
    finally:
        run("umount", mp)
    later(plugin).swapfile(False)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[str]]:
    """A process that notes every catchable signal it gets on its stdout, and ends when its
    stdin closes."""
    code = (
        "import signal, sys\n"
        "def note(n, _):\n"
        "    sys.stdout.write(f'signal {n}\\n'); sys.stdout.flush()\n"
        "for s in signal.valid_signals():\n"
        "    if s not in (signal.SIGKILL, signal.SIGSTOP):\n"
        "        try: signal.signal(s, note)\n"
        "        except (OSError, ValueError): pass\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def never_signalled(proc: subprocess.Popen[str]) -> None:
    assert proc.poll() is None, "the bystander was killed"
    state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state not in ("T", "t"), "the bystander was stopped"
    out, _ = proc.communicate(input="", timeout=30)
    assert out == "", f"the bystander was signalled: {out!r}"


@needs_root
def test_a_recorded_pid_that_another_process_holds_is_never_signalled(
    swap_root: Path,
    policy: Policy,
    uswap_dir: Path,
    bystander: subprocess.Popen[str],
) -> None:
    plugin = made(swap_root, policy)
    real = recorded(plugin)
    other = Daemon.of(bystander.pid)
    assert other is not None
    # Its number, with the start time of the daemon recorded: as a pid reused after a crash.
    impostor = {**plugin.state, "daemon": {**real.to_state(), "pid": bystander.pid}}
    assert Daemon.from_state(impostor["daemon"]) != other

    job = later(plugin, state=impostor)
    ours = f"not by this backend's daemon, uswapd pid {bystander.pid} "
    with pytest.raises(NotOursError, match=ours):
        job.swap_out(7, b"\xa5" * PAGE_SIZE)
    job.close()
    # The release ends the daemon proven to serve this store, and nothing else.
    job.swapfile(False)
    assert not real.alive() and daemons_under(uswap_dir) == []
    assert daemon.mount_at(str(plugin.mountpoint)) is None

    # After a "reboot" (nothing mounted), a start with the same stale record.
    stale = {"store": plugin.record, "daemon": impostor["daemon"], "mountpoint": plugin.mountpoint}
    again = later(plugin, state=stale)
    again.swapfile(True)
    served = recorded(again)
    assert served.alive() and served.pid != bystander.pid

    # A record naming the bystander exactly (pid, start time, boot), as a row written by
    # hand could: it serves nothing, so writes are refused, and it is no uswapd holding the
    # store, so the release leaves it be.
    forged = later(again, state={**again.state, "daemon": other.to_state()})
    ours = f"not by this backend's daemon, uswapd pid {other.pid} "
    with pytest.raises(NotOursError, match=ours):
        forged.swap_out(7, b"\xa5" * PAGE_SIZE)
    forged.close()
    forged.swapfile(False)
    assert not served.alive() and daemons_under(uswap_dir) == []
    # SIGKILL and SIGSTOP cannot be noted: they would show as its death or its stop.
    never_signalled(bystander)
