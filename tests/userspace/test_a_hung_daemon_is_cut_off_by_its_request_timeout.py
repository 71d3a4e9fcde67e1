"""A uswapd that stops answering without being stopped (blocked in the kernel on its store,
starved: here frozen by a freezer cgroup, which /proc shows as D, not T) would make every
request to its mount wait for ever, and every job and the loop device with it: the look
at the run state that refuses a stopped daemon cannot see it. The fence is the request
timeout the daemon asks of the kernel in its INIT reply: a request left unanswered that
long makes the kernel abort the connection (it looks every 15 s), and the job that waited
ends with an error that names the timeout and the daemon. While the daemon still lives, a
write it had begun may yet land in the store: an enable or a release is refused, saying
so, and changes nothing. Once the daemon runs again it ends on its own (its /dev/fuse
says the connection is gone), and an enable serves the same store again, every page
intact."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from swapadmin_userspace import daemon as uswapd
from swapadmin_userspace.plugin import UserspaceBackend

from backends.base import PAGE_SIZE
from backends.errors import BackendError, BusyError, ValidationError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.stores import provisioned
from tests.fixtures.workers import wait_until
from tests.userspace.served import SIZE, ended, later, recorded, stats, within_watchdog

FREEZER = Path("/sys/fs/cgroup/freezer")
#: The shortest the kind takes. The kernel looks for expired requests every 15 s
#: (FUSE_TIMEOUT_TIMER_FREQ): an abort comes 15 to 30 s after the request, inside
#: within_watchdog's 60 s.
TIMEOUT = 15


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """Process ``pid`` in a freezer cgroup of the test's own, frozen; thawed, moved back
    and the cgroup removed afterwards, whatever happened."""
    if not (FREEZER / "tasks").exists():
        pytest.skip("no cgroup v1 freezer hierarchy at /sys/fs/cgroup/freezer")
    home = next(
        line.split(":", 2)[2]
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if "freezer" in line.split(":", 2)[1].split(",")
    )
    group = FREEZER / f"swapadmin-test-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        (group / "tasks").write_text(str(pid))
        (group / "freezer.state").write_text("FROZEN")
        try:
            wait_until(
                lambda: (group / "freezer.state").read_text().strip() == "FROZEN",
                30,
                "the daemon frozen",
            )
            yield
        finally:
            (group / "freezer.state").write_text("THAWED")
    finally:
        with contextlib.suppress(OSError):  # it may have ended since
            (FREEZER / home.lstrip("/") / "tasks").write_text(str(pid))
        group.rmdir()


@needs_root
def test_a_frozen_daemon_is_cut_off_and_its_store_served_again(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    params = {"path": str(swap_root / "store0"), "request_timeout": TIMEOUT}
    with provisioned("userspace", params, size=SIZE, policy=policy) as plugin:
        assert isinstance(plugin, UserspaceBackend)
    # Asked of the kernel, and said by the daemon itself.
    assert plugin.state["request_timeout"] == TIMEOUT
    assert stats(plugin)["request_timeout"] == TIMEOUT
    page = os.urandom(PAGE_SIZE)
    job = later(plugin)
    job.swap_out(5, page)
    job.close()
    d = recorded(plugin)
    store = Path(plugin.file_path).read_bytes()

    with frozen(d.pid):
        # Not stopped as /proc tells it: the look that refuses a stopped daemon lets the
        # job through, and only the timeout stands between it and waiting for ever.
        assert uswapd.run_state(d.pid) == "D"
        raised = within_watchdog(lambda: later(plugin).swap_in(5))
        assert isinstance(raised, BackendError), raised
        assert "the kernel aborted the FUSE connection" in raised.message
        assert f"request timeout ({TIMEOUT} s)" in raised.message
        assert f"uswapd pid {d.pid}" in raised.message
        # Cut off, but alive: nothing may serve its store or take its mount down yet.
        for act in (lambda: later(plugin).swapfile(True), lambda: later(plugin).swapfile(False)):
            refused = within_watchdog(act)
            assert isinstance(refused, BusyError), refused
            assert "the kernel aborted the FUSE connection" in refused.message
            assert f"uswapd pid {d.pid}" in refused.message and "has not ended" in refused.message
        assert uswapd.mount_at(str(plugin.mountpoint)) is not None
        assert plugin.device in attached_loops()
        assert d.alive()
    assert Path(plugin.file_path).read_bytes() == store

    # Thawed, it finds its connection gone and ends by itself.
    assert ended(d, 30), f"uswapd {d.describe()} did not end once its connection was gone"
    again = later(plugin)
    again.swapfile(True)
    new = recorded(again)
    assert new != d and new.alive()
    assert again.state["request_timeout"] == TIMEOUT
    job = later(again)
    assert job.swap_in(5) == page
    job.close()
    later(again).swapfile(False)
    assert not new.alive()


@pytest.mark.parametrize("seconds", [1, 14, 65536, -1])
def test_a_timeout_the_kernel_cannot_keep_is_refused_naming_the_field(
    swap_root: Path, policy: Policy, seconds: int
) -> None:
    params = {"path": str(swap_root / "store0"), "request_timeout": seconds}
    with pytest.raises(ValidationError) as refused:
        UserspaceBackend.clean_params(params, policy)
    assert refused.value.field == "request_timeout"
    assert not (swap_root / "store0").exists()


def test_no_timeout_and_one_from_15_s_are_taken(swap_root: Path, policy: Policy) -> None:
    for seconds in (None, 0, 15, 65535):
        params = {"path": str(swap_root / "store0"), "request_timeout": seconds}
        assert UserspaceBackend.clean_params(params, policy)["request_timeout"] == (seconds or 0)
