"""A backend whose swap root is on a filesystem the worker's fstab mounts, while nothing is
mounted there, through real jobs and the worker's look (review 168/8): a new backend's
provision fails and makes nothing beneath the mount point; a provisioned backend's look
does not say its file is gone, nor does the next sample or the health check, and its
destroy fails, keeping the backend, where before it found no file and deleted the row,
leaving the file on the disk. Mounted again, the
destroy removes the file. The library's own cases are in
``tests/backends/test_no_file_is_made_or_looked_for_beneath_an_unmounted_filesystem.py``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from backends import BackendError, Policy
from backends.registry import Registry
from swapadmin.core import handlers
from swapadmin.core.context import JobContext
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import read_observation, write_observation
from swapadmin.core.plugins import build_plugin
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.health.probes import check_store, target_for
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.host import run as sh
from tests.fixtures.plain_kind import PlainFile

# The module, not the function that backends exports under the same name.
registry_module = importlib.import_module("backends.registry")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

REFUSED = "is where {table} mounts LABEL=swapdata, but nothing is mounted there"


def test_a_backend_on_an_unmounted_filesystem_is_neither_made_nor_forgotten(
    host_row, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mounted_image(scratch, "ext4", size_mb=48) as mnt:
        table = scratch / "fstab"
        table.write_text(f"LABEL=swapdata {mnt} ext4 defaults,nofail 0 2\n")
        monkeypatch.setenv("SWAPADMIN_SWAP_ROOTS", str(mnt / "swap"))
        monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(table))
        refused = REFUSED.format(table=table)

        made = backend_on(host_row, mnt / "swap" / "s")
        job = run(job_for(made, Job.Kind.PROVISION))
        assert job.state == Job.State.SUCCEEDED, job.error
        sh("umount", str(mnt))

        new = backend_on(host_row, mnt / "swap" / "t")
        job = run(job_for(new, Job.Kind.PROVISION))
        assert job.state == Job.State.FAILED and refused in job.error, job.error
        assert os.listdir(mnt) == []

        made.refresh_from_db()
        look = read_observation(made)
        assert look["observed_state"] == Backend.Observed.ERROR, look  # before: ABSENT
        assert refused in look["observed_error"], look
        assert refused in look["info"]["error"], look  # the page says it
        write_observation(made, look)
        # Nor does the next sample say "absent" over it, by name (review 178/1).
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert made.observed_state == Backend.Observed.ERROR
        assert refused in made.observed_error
        # Nor does it keep ACTIVE for an area the reboot took (not in /proc/swaps), nor
        # say READY for a stray file beneath the mount point (review 181/3).
        Backend.objects.filter(pk=made.pk).update(observed_state=Backend.Observed.ACTIVE)
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert (made.observed_state, made.used_bytes) == (Backend.Observed.ERROR, 0)
        (mnt / "swap").mkdir(mode=0o700)
        (mnt / "swap" / "s").write_bytes(b"stray")
        Backend.objects.filter(pk=made.pk).update(observed_state=Backend.Observed.ABSENT)
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert made.observed_state == Backend.Observed.ERROR
        assert refused in made.observed_error
        (mnt / "swap" / "s").unlink()
        (mnt / "swap").rmdir()
        # A loop backend's path is its device, gone after a reboot whatever its file's
        # disk does: its file is asked about too (review 181/4).
        loop = Backend.objects.create(
            host=host_row, kind="loop", name="l", params={"path": str(mnt / "swap" / "l")},
            size_bytes=16 << 20, observed_state=Backend.Observed.READY,
            info={"swap_path": "/dev/loop-not-there"},
        )  # fmt: skip
        take_sample(host_row, Reading())
        loop.refresh_from_db()
        assert loop.observed_state == Backend.Observed.ERROR, loop.observed_error
        assert refused in loop.observed_error
        loop.delete()
        # And the health check says why it cannot find the file, not that it is gone.
        made.refresh_from_db()
        (finding,) = check_store(target_for(made, build_plugin(made, Policy.from_env()), ""))
        assert finding.status == "fail" and refused in finding.message, finding

        job = run(job_for(made, Job.Kind.DESTROY))
        assert job.state == Job.State.FAILED and refused in job.error, job.error
        assert Backend.objects.filter(pk=made.pk).exists()

        sh("mount", "-o", "loop", str(scratch / "ext4.img"), str(mnt))
        # Mounted again, the sample that said ERROR clears it: nothing else would (182/3).
        made.refresh_from_db()
        assert made.observed_error.startswith(Backend.HIDDEN_SAID), made.observed_error
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert (made.observed_state, made.observed_error) == (Backend.Observed.READY, "")
        job = run(job_for(Backend.objects.get(pk=made.pk), Job.Kind.DESTROY))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert not Backend.objects.filter(pk=made.pk).exists()
        assert not (mnt / "swap" / "s").exists()


def test_a_destroy_that_cannot_tell_whether_its_file_is_hidden_changes_nothing(
    host_row, swap_root: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked before the swapoff, not after it: the destroy of an active area whose mount
    table cannot be read (or names a mount point above it, a line added since) fails with
    the area still on and the backend kept, where before the area was turned off first and
    the destroy then failed (review 182/1). Readable again, the destroy goes through."""
    from backends import kernel

    path = swap_root / "s"
    made = backend_on(host_row, path)
    assert run(job_for(made, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    assert run(job_for(made, Job.Kind.ACTIVATE)).state == Job.State.SUCCEEDED
    table = scratch / "unreadable-table"
    table.mkdir()  # read as a file: EISDIR
    monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(table))

    job = run(job_for(made, Job.Kind.DESTROY))
    assert job.state == Job.State.FAILED and f"cannot read {table}" in job.error, job.error
    assert kernel.is_active(str(path))
    assert "swapoff" not in job.log
    assert Backend.objects.filter(pk=made.pk).exists()

    line = scratch / "line-added-since"
    line.write_text(f"LABEL=other {swap_root} ext4 defaults 0 2\n")
    monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(line))
    job = run(job_for(made, Job.Kind.DESTROY))
    assert job.state == Job.State.FAILED and "nothing is mounted there" in job.error
    assert kernel.is_active(str(path))

    monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(scratch / "mount-table"))
    job = run(job_for(made, Job.Kind.DESTROY))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not kernel.is_active(str(path)) and not path.exists()


def test_a_table_that_cannot_be_read_says_nothing_of_a_missing_device(
    host_row, swap_root: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a kind whose store is a file beneath the mount points asks the table: a block
    device that is not there is absent whatever the table, where before an unreadable one
    turned every missing store of the host to ERROR (review 182/3)."""
    table = scratch / "unreadable-table"
    table.mkdir()
    monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(table))
    disk = Backend.objects.create(
        host=host_row, kind="block", name="disk", params={"device": "/dev/swapadmin-test-none"},
        observed_state=Backend.Observed.READY,
    )  # fmt: skip
    file = backend_on(host_row, swap_root / "gone", observed_state=Backend.Observed.READY)
    # Another kind's ERROR in those words (a third party's NotMountedError, as the observer
    # says it) is not the sampler's to clear: it asks no table for that kind (184/5).
    other = Backend.objects.create(
        host=host_row, kind="block", name="other", params={"device": "/dev/null"},
        observed_state=Backend.Observed.ERROR, observed_error=Backend.HIDDEN_SAID + "theirs",
    )  # fmt: skip

    take_sample(host_row, Reading())

    disk.refresh_from_db()
    file.refresh_from_db()
    assert (disk.observed_state, disk.observed_error) == (Backend.Observed.ABSENT, "")
    other.refresh_from_db()
    assert (other.observed_state, other.observed_error) == (
        Backend.Observed.ERROR,
        Backend.HIDDEN_SAID + "theirs",
    )
    assert file.observed_state == Backend.Observed.ERROR  # a file's filesystem: cannot tell
    assert f"cannot read {table}" in file.observed_error, file.observed_error
    assert file.store_may_be_hidden
    # The observer says it in the same words, so the two readers agree that the store may
    # be hidden (review 183/2); the health check asks the table for a file only (183/7).
    look = read_observation(file)
    assert look["observed_error"].startswith(Backend.HIDDEN_SAID), look
    assert f"cannot read {table}" in look["observed_error"]
    (finding,) = check_store(target_for(disk, build_plugin(disk, Policy.from_env()), ""))
    assert finding.message == "the swap device /dev/swapadmin-test-none does not exist"
    # Nor of a file of a kind installed here that says its store is not beneath the mounts
    # (184/7), a kind that says so (187/7) and not one the registry does not know.
    plain = Backend(host=host_row, kind=PlainFile.name, name="plain",
                    params={"path": str(swap_root / "plain")})  # fmt: skip
    plugin = PlainFile(plain.params, policy=Policy.from_env())
    gone = f"the swap file {swap_root / 'plain'} does not exist"
    (finding,) = check_store(target_for(plain, plugin, ""))
    assert finding.message == gone, finding  # not installed here: it cannot say
    installed = Registry()
    installed.register(PlainFile)
    monkeypatch.setattr(registry_module, "registry", lambda: installed)
    (finding,) = check_store(target_for(plain, plugin, ""))
    assert finding.message == gone, finding
    # The same file, its kind saying it is beneath the mounts: the table is asked.
    monkeypatch.setattr(PlainFile, "beneath_mounts", True)
    (finding,) = check_store(target_for(plain, plugin, ""))
    assert f"cannot read {table}" in finding.message, finding


class _FlagNamedHidden(PlainFile):
    """A third party's kind with a property of its own under the hook's name, which fails
    as it is read, before any call. The registry refuses to load such a kind (review
    187/4); the destroy still says it as the kind's fault should one be built another way."""

    name: ClassVar[str] = "flag-named-hidden"
    label: ClassVar[str] = "flag named hidden"

    @property  # type: ignore[override]
    def hidden(self) -> bool:
        raise RuntimeError("no such setting")


class _AnswersBadly(PlainFile):
    """A third party's kind that reads ``hidden`` as a yes-or-no question, or fails in it."""

    name: ClassVar[str] = "answers-hidden-badly"
    label: ClassVar[str] = "answers hidden badly"
    answer: Any = None

    def hidden(self) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (False, "answered whether its store may be hidden with False, not None or a"),
        (RuntimeError("boom"), "failed to say whether its store may be hidden: RuntimeError"),
    ],
)
def test_a_kinds_answer_whether_its_store_may_be_hidden_is_checked(
    host_row, swap_root: Path, answer: Any, said: str
) -> None:
    _refused_before_any_change(host_row, swap_root, _AnswersBadly, answer, said)


def test_a_kinds_flag_under_the_hooks_name_is_said_as_its_fault(host_row, swap_root: Path):
    said = "failed to say whether its store may be hidden: RuntimeError: no such setting"
    _refused_before_any_change(host_row, swap_root, _FlagNamedHidden, None, said)


def _refused_before_any_change(
    host_row, swap_root: Path, kind: type[PlainFile], answer: Any, said: str
) -> None:
    """Said as the kind's fault, before anything changes, never an internal error of the
    worker (review 183/4)."""
    path = swap_root / "p"
    path.write_bytes(b"kept")
    backend = Backend(host=host_row, kind=kind.name, name="p", params={"path": str(path)})
    ctx = JobContext(job=Job(kind=Job.Kind.DESTROY, host=host_row), backend=backend,
                     policy=Policy.from_env())  # fmt: skip
    plugin = kind({"path": str(path)}, policy=ctx.policy)
    if isinstance(plugin, _AnswersBadly):
        plugin.answer = answer
    ctx.plugin = plugin

    with pytest.raises(BackendError) as refused:
        handlers.destroy(ctx)
    assert said in refused.value.message
    assert path.read_bytes() == b"kept"


def test_a_dynamic_files_provision_beneath_an_unmounted_filesystem_says_so_first(
    host_row, swap_root: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    """The room kept beside the policy's files was measured before the walk: statvfs of a
    directory beneath a mount point that is not mounted reads the filesystem below it, and
    the job said "not enough free space" of the wrong disk (review 178/9)."""
    from swapadmin.core import dynamic

    line = scratch / "table-with-a-line"
    line.write_text(f"LABEL=other {swap_root} ext4 defaults 0 2\n")
    monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(line))
    settings.SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT = 90.0
    made = backend_on(host_row, swap_root / "dyn-1", dynamic_policy=dynamic.policy_for(host_row))
    Backend.objects.filter(pk=made.pk).update(size_bytes=1 << 50)  # more than any disk here

    job = run(job_for(Backend.objects.get(pk=made.pk), Job.Kind.PROVISION))

    assert job.state == Job.State.FAILED
    assert "nothing is mounted there" in job.error and "free space" not in job.error, job.error
    assert not (swap_root / "dyn-1").exists()
