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

- Review 161: a dangling link at the path read ENOENT, so "absent"; a sample that could
  not tell still zeroed the used bytes and priority; "absent" kept the error of an earlier
  look; a row whose path is not a string (another machine wrote it) stopped the host's
  sampling; and "stay indeterminate" was judged on the caller's copy of the row.

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
from swapadmin.core.observe import observe_backend
from swapadmin.core.sampler import Reading, take_sample

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20
CANNOT_READ = "cannot read the store: too many levels of symbolic links"


def _row(host_row, path: str, state: str, error: str, name: str = "f") -> Backend:
    return Backend.objects.create(
        host=host_row,
        kind="file",
        name=name,
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


def test_a_store_the_sampler_cannot_stat_keeps_its_use_and_priority(host_row, unstattable):
    # Its real path may be the one /proc/swaps shows, which the failed look cannot resolve.
    backend = _row(host_row, unstattable, Backend.Observed.ACTIVE, "")
    Backend.objects.filter(pk=backend.pk).update(used_bytes=3 * MiB, active_priority=7)

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ACTIVE
    assert (backend.used_bytes, backend.active_priority) == (3 * MiB, 7)


def test_a_dangling_link_at_the_path_is_not_taken_for_absence(host_row, swap_root):
    # The file kind refuses a link (the observer's ERROR); the sample must not undo that.
    link = swap_root / "store"
    link.symlink_to(swap_root / "nothing")
    backend = _row(host_row, str(link), Backend.Observed.ERROR, CANNOT_READ)

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert (backend.observed_state, backend.observed_error) == ("error", CANNOT_READ)


def test_a_store_that_is_gone_leaves_no_error_of_an_earlier_look(host_row, swap_root):
    backend = _row(host_row, str(swap_root / "gone"), Backend.Observed.ERROR, CANNOT_READ)

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert (backend.observed_state, backend.observed_error) == ("absent", "")


@pytest.mark.parametrize(
    "path",
    [5, ["/var/tmp/x"], 0, [], "", False],
    ids=["a number", "a list", "zero", "an empty list", "empty", "false"],
)
def test_a_row_whose_path_is_no_path_stops_no_sample(host_row, swap_root, path):
    # The falsy ones read as "no path", so "absent", which cleared the error that said the
    # path is none (review 165/6).
    hostile = _row(host_row, "", Backend.Observed.ERROR, "the row's path is not a path")
    Backend.objects.filter(pk=hostile.pk).update(params={"path": path})
    other = _row(host_row, str(swap_root / "gone"), Backend.Observed.READY, "", name="g")

    take_sample(host_row, Reading())  # raised TypeError: the host's whole turn failed

    other.refresh_from_db()
    hostile.refresh_from_db()
    assert other.observed_state == Backend.Observed.ABSENT  # the rest of the host is read
    assert (hostile.observed_state, hostile.observed_error) == (  # nothing told of it
        Backend.Observed.ERROR,
        "the row's path is not a path",
    )


def test_a_plugin_that_cannot_be_built_keeps_cannot_tell(host_row, tmp_path):
    # Outside the swap roots: the plugin's constructor refuses the path.
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.INDETERMINATE, "cannot tell whether …")

    assert observe_backend(backend) == Backend.Observed.INDETERMINATE
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.INDETERMINATE
    assert "swap root" in backend.observed_error  # the reason now, not a guess


def test_a_plugin_that_cannot_be_built_is_otherwise_in_error(host_row, tmp_path):
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.READY, "")

    assert observe_backend(backend) == Backend.Observed.ERROR
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ERROR


def test_cannot_tell_is_judged_on_the_row_not_the_callers_copy(host_row, tmp_path):
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.READY, "")
    # A look since found the row untold; this caller's copy is older than that.
    Backend.objects.filter(pk=backend.pk).update(observed_state=Backend.Observed.INDETERMINATE)

    assert observe_backend(backend) == Backend.Observed.INDETERMINATE
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.INDETERMINATE


def test_a_plugin_that_cannot_be_built_keeps_not_ours(host_row, tmp_path):
    # As ERROR, the next sample took someone else's area at the path for this backend's
    # (review 164/4).
    outside = str(tmp_path / "elsewhere" / "store")
    backend = _row(host_row, outside, Backend.Observed.FOREIGN, "another file is there now")

    assert observe_backend(backend) == Backend.Observed.FOREIGN
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.FOREIGN


@pytest.mark.parametrize("params", [[], 5, "x"], ids=["a list", "a number", "a string"])
def test_a_row_whose_params_are_no_mapping_stops_no_sample(host_row, swap_root, params):
    # Backend.swap_path called params.get and raised: the host's whole turn failed, and a
    # look said "internal error" where the row is at fault (review 164/1).
    hostile = _row(host_row, "", Backend.Observed.READY, "")
    Backend.objects.filter(pk=hostile.pk).update(params=params)
    hostile.refresh_from_db()
    other = _row(host_row, str(swap_root / "gone"), Backend.Observed.READY, "", name="g")

    take_sample(host_row, Reading())

    other.refresh_from_db()
    assert other.observed_state == Backend.Observed.ABSENT  # the rest of the host is read
    assert Backend.objects.get(pk=hostile.pk).observed_state == Backend.Observed.READY
    assert observe_backend(hostile) == Backend.Observed.ERROR
    hostile.refresh_from_db()
    assert hostile.observed_error == "the row's params is not a mapping"
