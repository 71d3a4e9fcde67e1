"""A process whose /proc entries cannot be read is not a process that holds nothing.

The user-space kind finds the uswapd serving a store by reading /proc: which binary each
process runs, which files it holds. Any error there read as "not a uswapd" or "holds
nothing" (audit 149/13), so where /proc says "permission denied" (an LSM, a worker without
CAP_SYS_PTRACE, another pid namespace's rules), a store a live uswapd serves would look
unserved: served a second time, or removed under the daemon. Only an entry gone (ENOENT,
ESRCH: the process or descriptor ended) is passed over now.

Real: a process of another user, and a check run by root without CAP_SYS_PTRACE (util-linux
setpriv), for which the kernel denies that process's exe link and descriptors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until

NOBODY = 65534

CHECK = """
import sys
from backends.errors import KernelError
from swapadmin_userspace.daemon import Daemon
d = Daemon.of(int(sys.argv[1]))
assert d is not None
for ask in (d.is_uswapd, lambda: list(d.held_files())):
    try:
        print("answered", ask())
    except KernelError as e:
        print("refused", e)
"""


@pytest.fixture
def others_process() -> Iterator[int]:
    """A process of the user nobody, once it runs its own program (setpriv has exec'd)."""
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        + ["sleep", "infinity"]
    )
    try:

        def running_sleep() -> bool:
            try:
                return os.path.basename(os.readlink(f"/proc/{proc.pid}/exe")) == "sleep"
            except OSError:
                return False

        wait_until(running_sleep, message="setpriv to start sleep as nobody")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@needs_root
def test_what_cannot_be_read_is_refused_not_taken_for_nothing(others_process: int) -> None:
    done = subprocess.run(
        ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"]
        + [sys.executable, "-c", CHECK, str(others_process)],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = others_process
    said = done.stdout.splitlines()
    assert len(said) == 2, done.stderr
    assert said[0] == f"refused cannot tell which program process {pid} runs: Permission denied"
    assert said[1].startswith(f"refused cannot tell what uswapd pid {pid} (started at tick ")
    assert said[1].endswith(f"holds in /proc/{pid}/fd/0: Permission denied")


@needs_root
def test_with_the_right_to_look_the_same_process_answers(others_process: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(others_process)],
        capture_output=True,
        text=True,
        check=True,
    )
    said = done.stdout.splitlines()
    assert said[0] == "answered False"  # sleep, not uswapd
    assert said[1].startswith("answered [('/proc/")


@needs_root
def test_a_sweep_over_every_process_passes_over_one_that_hides_its_binary() -> None:
    """PID 1 here will not show even root its binary (not dumpable); a sweep for the uswapd
    holding a store must still answer. swapadmin's own uswapd processes never hide theirs."""
    from swapadmin_userspace import daemon

    hidden = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            os.readlink(f"/proc/{pid}/exe")
        except PermissionError:
            hidden.append(pid)
        except OSError:
            pass
    if not hidden:
        pytest.skip("no process here hides its binary from root")
    st = os.stat("/proc/self/exe")
    assert daemon.holding((st.st_dev, st.st_ino)) == []


@needs_root
def test_a_process_named_uswapd_that_hides_its_binary_stops_the_sweep(
    scratch: Path,
) -> None:
    """Under an LSM that denies the worker ptrace reads, every process hides its binary,
    uswapd included: one named uswapd that cannot be looked at is an error, not passed
    over, or the store it serves would look unserved."""
    fake = scratch / "uswapd"  # a sleep by that name: its command name is "uswapd"
    shutil.copy("/bin/sleep", fake)
    scratch.chmod(0o755)
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        + [str(fake), "infinity"]
    )
    try:
        wait_until(
            lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == "uswapd",
            message="the process named uswapd to start",
        )
        sweep = (
            "from swapadmin_userspace import daemon\n"
            "from backends.errors import KernelError\n"
            "try:\n    print('answered', daemon.holding((0, 1)))\n"
            "except KernelError as e:\n    print('refused', e)\n"
        )
        done = subprocess.run(
            ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"]
            + [sys.executable, "-c", sweep],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == (
            f"refused cannot tell which program process {proc.pid} runs: Permission denied"
        ), done.stderr
    finally:
        proc.kill()
        proc.wait()
