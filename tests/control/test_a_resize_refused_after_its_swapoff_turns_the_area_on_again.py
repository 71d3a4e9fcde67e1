"""A resize of an active area swaps it off first. When the resize is then refused (the
room on the filesystem taken meanwhile) or cancelled, the area is as it was, header and
all: it goes on again rather than staying off behind a failed job, which left a host short
of the swap it counted on.

A growth that cannot fit, or a size refused, is refused before the swapoff, the area never
off: a swapoff pushes every page in use back into RAM, a risk for nothing (review 214/6).
Those that reach the swapon again here take the room after the swapoff, as another writer
on the filesystem would.

The same for one of the dynamic swap policy's files that a person grows: that growth keeps
the policy's room (``SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT``), not the 1% a person's own
file keeps (review 202/7)."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError

from backends import KernelError, Policy, header
from swapadmin.core import dynamic, handlers
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from swapadmin.core.plugins import build_plugin
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import swapped_on_by_hand_before, theirs_in_its_place, then
from tests.fixtures.host import active_swaps, mounted_image, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


@pytest.fixture
def small_root(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        monkeypatch.setenv("SWAPADMIN_SWAP_ROOTS", str(mnt))
        yield mnt


def _active_file(host_row, path: Path, **kw) -> Backend:
    backend = Backend.objects.create(
        host=host_row, kind="file", name=path.name, params={"path": str(path)},
        size_bytes=8 * MiB, **kw,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    return backend


def _uuid(backend: Backend) -> str:
    with build_plugin(backend, Policy.from_env()) as plugin:
        return str(header.read_header(plugin).uuid)


def _between_the_reserves(mnt: Path, start: int) -> int:
    """A size for a file now ``start`` bytes long whose growth fits with 1% of the 64 MiB
    filesystem left free but not with 10%: 3 MiB short of all that is free."""
    st = os.statvfs(mnt)
    return start + (st.f_bavail * st.f_frsize - 3 * MiB) // MiB * MiB


def _refused_while_on(backend: Backend, path: Path, size: int, before: str, said: str) -> Job:
    """The resize to ``size`` is refused (``said``) with the area on all along: never
    swapped off, never touched."""
    job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=size))
    assert job.state == Job.State.FAILED, job.log
    assert said in job.error, job.error
    assert "swapoff" not in job.log, job.log
    assert str(path) in active_swaps()
    backend.refresh_from_db()
    assert observe_backend(backend) == Backend.Observed.ACTIVE
    assert backend.size_bytes == 8 * MiB and path.stat().st_size == 8 * MiB
    assert _uuid(backend) == before
    return job


def _room_taken_after_the_swapoff(m: pytest.MonkeyPatch, mnt: Path) -> None:
    """The resize's swapoff is followed by another writer that takes all of ``mnt``'s room
    but 2 MiB: a growth the check before the swapoff let through finds no room after it."""
    swapoff = handlers._swapoff

    def room_taken(ctx, plugin, **kw) -> None:  # type: ignore[no-untyped-def]
        swapoff(ctx, plugin, **kw)
        st = os.statvfs(mnt)
        fd = os.open(mnt / "another-writer", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - 2 * MiB)
        finally:
            os.close(fd)

    m.setattr(handlers, "_swapoff", room_taken)


def test_a_growth_with_no_room_is_refused_before_the_swapoff(host_row, small_root: Path) -> None:
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    try:
        _refused_while_on(backend, path, 512 * MiB, _uuid(backend), "not enough free space")
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
    assert str(path) not in active_swaps() and not path.exists()


def test_a_size_refused_is_refused_before_the_swapoff(host_row, small_root: Path) -> None:
    """A job's size is the worker's to check again (the request side refuses it first)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    try:
        _refused_while_on(backend, path, 5 * 4096, _uuid(backend), "size must be at least 10 pages")
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_room_taken_after_the_swapoff_leaves_the_area_on_as_it_was(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    try:
        before = _uuid(backend)
        with monkeypatch.context() as m:
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "not enough free space" in job.error, job.error
        assert f"the resize changed nothing: swapon {path} again as it was" in job.log, job.log
        assert str(path) in active_swaps()
        backend.refresh_from_db()
        assert observe_backend(backend) == Backend.Observed.ACTIVE
        assert backend.size_bytes == 8 * MiB and path.stat().st_size == 8 * MiB
        assert _uuid(backend) == before
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_persons_growth_of_a_policy_file_keeps_the_policys_room(
    host_row, small_root: Path, settings
) -> None:
    settings.SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT = 10.0
    path = small_root / "dyn-1"
    policy_file = _active_file(host_row, path, dynamic_policy=dynamic.policy_for(host_row))
    person = _active_file(host_row, small_root / "mine")
    try:
        size = _between_the_reserves(small_root, 8 * MiB)
        job = _refused_while_on(
            policy_file, path, size, _uuid(policy_file), "not enough free space"
        )
        assert "(10% of the filesystem, kept free beside the dynamic swap policy" in job.error

        # The same growth of a person's own file keeps 1%: it fits.
        grown = run(job_for(person, Job.Kind.RESIZE, size_bytes=size))
        assert grown.state == Job.State.SUCCEEDED, grown.error
        assert (small_root / "mine").stat().st_size == size
    finally:
        for backend in (policy_file, person):
            gone = run(job_for(backend, Job.Kind.DESTROY))
            assert gone.state == Job.State.SUCCEEDED, gone.error
    assert not {str(path), str(small_root / "mine")} & set(active_swaps())


def test_a_resize_cancelled_after_its_swapoff_turns_the_area_on_again(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel asked while the swapoff ran is seen before the file is touched."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    swapoff = handlers._swapoff

    def cancel_asked_meanwhile(ctx, plugin, **kw) -> None:
        swapoff(ctx, plugin, **kw)
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)

    try:
        before = _uuid(backend)
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", cancel_asked_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.CANCELLED, job.log
        assert f"the resize changed nothing: swapon {path} again" in job.log, job.log
        assert str(path) in active_swaps()
        assert path.stat().st_size == 8 * MiB and _uuid(backend) == before
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_swapon_again_that_is_refused_is_said_in_the_jobs_error(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The area cannot go on again (the kernel refuses it, here for the test): the job's
    error says it stays off, and the job is not tried again with the area off."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)

    def refused(ctx, plugin) -> None:
        raise KernelError("swapon refused for the test", retryable=True)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", refused)
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "not enough free space" in job.error, job.error
        assert f"{path} stays off, as swapon again was refused: swapon refused for the test" in (
            job.error
        ), job.error
        assert str(path) not in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_job_failed_by_the_sweep_meanwhile_leaves_the_area_off(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep failed the job while its swapoff ran: the backend may be the next job's by
    now, so this one touches the host no more."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    swapoff = handlers._swapoff

    def failed_by_the_sweep_meanwhile(ctx, plugin, **kw) -> None:
        swapoff(ctx, plugin, **kw)
        Job.objects.filter(pk=ctx.job.pk).update(state=Job.State.FAILED)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", failed_by_the_sweep_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert "the area is left off: the job was failed meanwhile" in job.log, job.log
        assert str(path) not in active_swaps()
        assert path.stat().st_size == 8 * MiB
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_area_swapped_on_meanwhile_is_not_said_to_stay_off(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swapped the area on by hand between the resize's swapoff and its resize: the
    kind refuses an active area, and the job says so and leaves it on, not that it "stays
    off" (review 214/5)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    swapoff = handlers._swapoff

    def swapped_on_by_hand_meanwhile(ctx, plugin, **kw) -> None:
        swapoff(ctx, plugin, **kw)
        subprocess.run(["swapon", str(path)], check=True)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", swapped_on_by_hand_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "stays off" not in job.error, job.error
        assert f"{path} is on again already: something swapped it on meanwhile" in job.log
        assert str(path) in active_swaps()
        assert path.stat().st_size == 8 * MiB
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_swapon_again_that_could_not_be_tried_is_not_said_refused(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is away when the area would go on again: the error says the swapon
    could not be tried, not that it was refused (review 214/7)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)

    def away(ctx, **kw):  # type: ignore[no-untyped-def]
        # The runner attached the job's plugin before the handler, through its own import:
        # this is only the swapon again's.
        raise OperationalError("the database went away for the test")

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "attach_plugin", away)
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert (
            f"{path} stays off, as swapon again could not be tried: OperationalError: "
            "the database went away for the test"
        ) in job.error, job.error
        assert str(path) not in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_area_swapped_on_while_the_swapon_again_could_not_be_tried_is_said_on(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swaps the area on by hand while the swapon again fails before its proof: the
    job says the area is on, not that it stays off (review 226/5)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)

    def swapped_on_then_away(ctx, **kw):  # type: ignore[no-untyped-def]
        sh("swapon", str(path))
        raise OperationalError("the database went away for the test")

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "attach_plugin", swapped_on_then_away)
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert (
            "; swapon again could not be tried: OperationalError: the database went away for "
            f"the test; {path} is on: something swapped it on meanwhile, and it is left so"
        ) in job.error, job.error
        assert "stays off" not in job.error, job.error
        assert str(path) in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_file_another_writer_holds_stays_off(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer took the file's lock between the swapoff and the resize (as another
    swapadmin job writing it would): the resize is refused, and the area is not swapped on
    again under a header whose pages that writer may be changing (review 219/1)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    swapoff = handlers._swapoff
    held: list[int] = []

    def another_writer_meanwhile(ctx, plugin, **kw) -> None:
        swapoff(ctx, plugin, **kw)
        fd = os.open(path, os.O_RDONLY)
        held.append(fd)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", another_writer_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "being written by another swapadmin job" in job.error, job.error
        # Said as it is: the resize changed nothing, another writer holds it (review 220/3).
        assert f"{path} stays off: another writer holds its store" in job.error, job.error
        assert "may have changed" not in job.error, job.error
        assert str(path) not in active_swaps()
    finally:
        for fd in held:
            os.close(fd)
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_read_that_fails_on_the_way_back_is_said_in_the_jobs_error(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read fails on the way to the swapon again (the header's, with EIO here for the
    test; a zram sysfs file or a third party's kind in life): the job's error gives the
    resize's words and that one, not an internal error that loses both (review 220/1)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)

    def unreadable(plugin) -> None:  # type: ignore[no-untyped-def]
        raise OSError(errno.EIO, "Input/output error")

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_header_or_none", unreadable)
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.startswith("not enough free space"), job.error
        assert (
            f"{path} stays off, as swapon again failed: OSError: [Errno 5] Input/output error"
        ) in job.error, job.error
        assert str(path) not in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_area_swapped_on_just_before_the_swapon_again_is_left_on(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swaps the area on between the job's look and its swapon again: the kernel
    refuses the second swapon, and the job says the area is on, not that its swapon again
    was refused and it stays off (review 220/4)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", swapped_on_by_hand_before(handlers._swapon, path))
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "not enough free space" in job.error, job.error
        assert "stays off" not in job.error, job.error
        assert f"{path} is on again already: something swapped it on meanwhile" in job.log
        assert str(path) in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


class _Wordless(KernelError):
    """A third party's error whose words raise, once made."""

    made = False

    @property
    def message(self) -> str:  # type: ignore[override]
        if self.made:
            raise RuntimeError("words that raise")
        return "unsaid"

    @message.setter
    def message(self, value: str) -> None:
        pass


def _wordless() -> _Wordless:
    error = _Wordless("unsaid", errno=errno.EIO)
    error.made = True
    return error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.EIO, "Input/output error"), "OSError: [Errno 5] Input/output error"),
        # As every kind of swapadmin's says a read that failed (225/3).
        (KernelError("cannot read page 0: Input/output error", errno=errno.EIO),
         "cannot read page 0: Input/output error"),
        (_wordless(), "_Wordless"),  # said all the same (225/2)
    ],
)  # fmt: skip
def test_an_area_on_whose_proof_cannot_be_read_is_said_so(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, said: str
) -> None:
    """Someone swaps the area on just before the swapon again, and its proof then fails to
    read (EIO, for the test): the job says whether this backend's area is back on cannot be
    told, not that it is not back on (review 224/5)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    by_hand_first = swapped_on_by_hand_before(handlers._swapon, path)

    def unreadable() -> None:
        raise error

    def swapped_on_then_unreadable(ctx, plugin) -> None:  # type: ignore[no-untyped-def]
        try:
            by_hand_first(ctx, plugin)
        finally:
            plugin.verify = unreadable

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", swapped_on_then_unreadable)
            _room_taken_after_the_swapoff(m, small_root)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.startswith("not enough free space"), job.error
        assert (
            "; whether this backend's area is back on cannot be told: something is swapped on "
            f"at {path} meanwhile, and its proof could not be read ({said})"
        ) in job.error, job.error
        assert str(path) in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_area_not_proven_ours_swapped_on_meanwhile_is_said_in_the_jobs_error(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the swapoff and the resize someone moved the file aside and swapped on a
    swap file of their own at its path: it is left on, and the job's error says that this
    backend's area is not back on, since what is on does not prove to be its own (reviews
    221/4, 222/1). Before, the job said only the resize's refusal."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    try:
        with theirs_in_its_place(path) as put, monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", then(handlers._swapoff, put))
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
            assert job.state == Job.State.FAILED, job.log
            assert (
                f"; this backend's area is not back on: something is swapped on at {path} "
                "meanwhile, not proven this backend's"
            ) in job.error, job.error
            assert "stays off" not in job.error, job.error
            assert str(path) in active_swaps()  # someone's, left as it is
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.mark.usefixtures("zram_cleanup")
def test_a_size_refused_leaves_a_zram_area_on_all_along(host_row) -> None:
    """Any kind's size is checked before the swapoff, not only a file's (review 222/4)."""
    backend = _active_zram(host_row)
    device = backend.state["device"]
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=5 * 4096))
        assert job.state == Job.State.FAILED, job.log
        assert "size must be at least 10 pages" in job.error, job.error
        assert "swapoff" not in job.log, job.log
        assert device in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_failure_before_the_resize_itself_turns_the_area_on_again(
    host_row, small_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's own step between the swapoff and the kind's resize fails (the plugin's
    descriptor would not close: EIO here, once, for the test): nothing of the store was
    changed, so the area goes on again, not "the resize may have changed its store"
    (review 223/4)."""
    path = small_root / "swap0"
    backend = _active_file(host_row, path)
    swapoff = handlers._swapoff

    def close_fails_once(ctx, plugin, **kw) -> None:  # type: ignore[no-untyped-def]
        swapoff(ctx, plugin, **kw)
        close = plugin.close

        def failing() -> None:
            plugin.close = close  # once
            raise OSError(errno.EIO, "Input/output error")

        plugin.close = failing

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", close_fails_once)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error == "OSError: Input/output error", job.error
        assert f"the resize changed nothing: swapon {path} again as it was" in job.log, job.log
        assert str(path) in active_swaps()
        assert path.stat().st_size == 8 * MiB
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
