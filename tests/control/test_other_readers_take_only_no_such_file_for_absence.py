"""The readers outside the observer and the probes follow presence's one rule too: only "no
such file or device" is absence (review 164/11). A look that fails otherwise (a link loop
here; EIO or EACCES on a sick disk) is said, never read as "nothing there":

- the fstab: ``os.path.exists`` was False for an fstab that could not be read, so a removal
  reported the line gone while it stayed, and discover silently left the fstab's areas out;
- a swap file's description said "no file" for a file it could not stat;
- a zram device whose ``dev`` could not be read was called gone;
- a loop device's backing file that could not be looked at was taken for detached.

Plain files and links under a temporary directory; no device is touched."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from backends import fstab, store
from backends.errors import KernelError
from backends.plugins import zram
from backends.plugins.file import FileBackend
from backends.policy import Policy
from swapadmin.core import signing
from swapadmin.core.models import Job
from tests.control.test_run_job_directly import run


def _loop_link(where: Path) -> Path:
    """A link to itself: every look at it, or through it, fails with ELOOP."""
    link = where / "loop"
    link.symlink_to(link.name)
    return link


def test_an_fstab_that_cannot_be_read_is_said_not_taken_for_one_without_the_line(
    tmp_path: Path,
) -> None:
    tab = _loop_link(tmp_path)
    with pytest.raises(KernelError, match="cannot read") as e:
        fstab.remove_entry(tab, "/var/swap/s")
    assert e.value.errno == errno.ELOOP
    with pytest.raises(KernelError, match="cannot read"):
        fstab.entries(tab)
    # No fstab at all is still an empty one, and none is made.
    assert fstab.remove_entry(tmp_path / "none", "/var/swap/s") is False
    assert fstab.entries(tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("on_testhost")
def test_a_discovery_that_cannot_read_the_fstab_fails_saying_so(host_row, settings) -> None:
    settings.SWAPADMIN_FSTAB = _loop_link(Path(settings.DATA_DIR))
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, params={})
    signing.sign_job(job.pk)
    job = run(job)
    assert job.state == Job.State.FAILED
    assert "cannot read" in job.error and str(settings.SWAPADMIN_FSTAB) in job.error


def test_a_swap_file_that_cannot_be_looked_at_is_not_described_as_no_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "swap"
    root.mkdir(mode=0o700)
    loop = _loop_link(root)
    plugin = FileBackend(
        {"path": str(loop / "s")}, size_bytes=1 << 20, policy=Policy(swap_roots=(root,))
    )
    with pytest.raises(KernelError, match="cannot look at") as e:
        plugin.describe()
    assert e.value.errno == errno.ELOOP
    # A file that is not there is described as none, as before.
    gone = FileBackend(
        {"path": str(root / "gone")}, size_bytes=1 << 20, policy=Policy(swap_roots=(root,))
    )
    assert gone.describe()["exists"] is False


def test_a_zram_device_whose_node_cannot_be_looked_at_is_not_called_gone(tmp_path: Path) -> None:
    # A device directory as sysfs shows one on a kernel without diskseq.
    (tmp_path / "dev").symlink_to("dev")  # ELOOP
    with pytest.raises(KernelError, match="cannot tell whether /dev/zram9 is still there") as e:
        zram._read_diskseq(tmp_path, "/dev/zram9")
    assert e.value.errno == errno.ELOOP
    (tmp_path / "dev").unlink()
    (tmp_path / "dev").write_text("252:9\n")
    assert zram._read_diskseq(tmp_path, "/dev/zram9") == ""  # an older kernel: no diskseq
    (tmp_path / "dev").unlink()
    with pytest.raises(KernelError, match="is gone"):
        zram._read_diskseq(tmp_path, "/dev/zram9")


def test_a_loop_device_whose_backing_file_cannot_be_looked_at_is_not_taken_for_detached(
    tmp_path: Path,
) -> None:
    gone = OSError(errno.ENOENT, os.strerror(errno.ENOENT))
    assert store._detached_meanwhile(_loop_link(tmp_path), gone) is False
    assert store._detached_meanwhile(tmp_path / "no-such", gone) is True
    denied = OSError(errno.EACCES, os.strerror(errno.EACCES))
    assert store._detached_meanwhile(tmp_path / "no-such", denied) is False
