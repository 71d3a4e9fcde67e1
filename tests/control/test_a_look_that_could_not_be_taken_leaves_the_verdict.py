"""A look that could not be taken says nothing new, and leaves the verdict it could not
check (review 160/1, 160/2).

- The observer records "cannot read the store: …" (ERROR) when a call on the store fails
  otherwise than "no such file or device". The sampler then looked with
  ``os.path.exists``, which says False for any failed stat, and wrote "absent" over that
  error within one sample: the page offered a provision of a store it could not read.
  Now only ENOENT or ENOTDIR is absence; any other failed stat leaves the state.
- A row whose area could not be told active or not ("indeterminate") kept that verdict
  only while its plugin could be built: a look whose build failed wrote ERROR, which
  every reader takes for "not active", and the next sample guessed from there.

The stat failure is real: a directory on the store's path is a symlink to itself
(ELOOP). Runs without root: nothing here touches a swap area."""

from __future__ import annotations

import datetime
import errno
import os
from pathlib import Path

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend
from swapadmin.core.observe import read_observation
from swapadmin.core.sampler import Reading, take_sample

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20
CANNOT_READ = "cannot read the store: too many levels of symbolic links"


def _row(host_row, path: str, state: str, error: str) -> Backend:
    return Backend.objects.create(
        host=host_row,
        kind="file",
        name="f",
        params={"path": path},
        size_bytes=16 * MiB,
        provisioned_at=timezone.now(),
        observed_state=state,
        observed_error=error,
        observed_at=timezone.now() - datetime.timedelta(minutes=5),  # older than any sample
    )


@pytest.fixture
def unstattable(swap_root: Path) -> str:
    """A path under the swap root whose stat fails with ELOOP, not ENOENT."""
    loop = swap_root / "loop"
    loop.symlink_to(loop.name)  # itself
    path = str(loop / "store")
    with pytest.raises(OSError) as failed:
        os.stat(path)
    assert failed.value.errno == errno.ELOOP
    return path


def test_a_store_the_sampler_cannot_stat_keeps_its_error(host_row, unstattable):
    backend = _row(host_row, unstattable, Backend.Observed.ERROR, CANNOT_READ)

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert (backend.observed_state, backend.observed_error) == ("error", CANNOT_READ)
    assert backend.observed_at > timezone.now() - datetime.timedelta(minutes=1)  # it wrote


def test_a_store_that_is_not_there_is_absent(host_row, swap_root):
    backend = _row(host_row, str(swap_root / "gone"), Backend.Observed.READY, "")

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ABSENT


def test_a_plugin_that_cannot_be_built_keeps_cannot_tell(host_row, tmp_path):
    # Outside the swap roots: the plugin's constructor refuses the path.
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.INDETERMINATE, "cannot tell whether …")

    fields = read_observation(backend)

    assert fields["observed_state"] == Backend.Observed.INDETERMINATE
    assert "swap root" in fields["observed_error"]  # the reason now, not a guess


def test_a_plugin_that_cannot_be_built_is_otherwise_in_error(host_row, tmp_path):
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.READY, "")

    assert read_observation(backend)["observed_state"] == Backend.Observed.ERROR
