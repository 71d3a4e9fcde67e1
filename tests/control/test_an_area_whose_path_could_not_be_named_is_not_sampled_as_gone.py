"""A row whose last description could not name its area's path is not sampled as "gone".

``describe`` took any error from ``swap_path`` for "no device" and wrote no path, and a job
whose ``describe`` failed wrote only the error. The sampler matches an area by the row's
path; with none, it said "absent": an active zram area, in /proc/swaps with live pages, was
shown as gone and offered a provision, because a boot id could not be read for a moment.
Now the description says why it names no path, and a sample that meets it says nothing.

Real: an active zram area, its boot id unreadable while the description is taken."""

from __future__ import annotations

import pytest

from backends.errors import BackendError, NoDeviceError
from backends.policy import Policy
from swapadmin.core.handlers import _info
from swapadmin.core.models import Backend
from swapadmin.core.plugins import build_plugin
from swapadmin.core.sampler import Reading, take_sample
from tests.fixtures.host import needs_root
from tests.fixtures.plain_kind import PlainFile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@needs_root
@pytest.mark.usefixtures("zram_cleanup")  # active_zram: conftest
def test_an_active_area_described_without_its_path_stays_active(
    host_row, active_zram, unreadable_boot_id
):
    # What a job writes when its last description fails (activate's end, a scan's end).
    described = _info(build_plugin(active_zram, Policy.from_env()))
    assert described.get("swap_path") is None
    Backend.objects.filter(pk=active_zram.pk).update(info=described)
    active_zram.refresh_from_db()
    assert active_zram.swap_path is None  # nothing left for the sampler to match by

    take_sample(host_row, Reading())

    active_zram.refresh_from_db()
    assert active_zram.observed_state == Backend.Observed.ACTIVE


class _Unnamed(PlainFile):
    """A kind whose path cannot be named now, for the reason ``failure`` gives."""

    failure: BackendError

    @property
    def swap_path(self) -> str:
        raise self.failure


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (BackendError("cannot read the boot id"), "cannot read the boot id"),
        (NoDeviceError("not attached; enable it"), None),  # no device: nothing to say
    ],
    ids=["could-not-name", "no-device"],
)
def test_a_description_says_why_it_names_no_path(tmp_path, failure, error):
    plugin = _Unnamed({"path": str(tmp_path / "store")})
    plugin.failure = failure

    described = plugin.describe()

    assert described["swap_path"] is None
    assert described.get("swap_path_error") == error


def test_a_sample_leaves_a_row_whose_path_could_not_be_named(host_row):
    backend = Backend.objects.create(
        host=host_row,
        kind="zram",
        name="z",
        params={},
        size_bytes=8 << 20,
        observed_state=Backend.Observed.ACTIVE,
        info={"swap_path": None, "swap_path_error": "cannot read the boot id"},
    )

    take_sample(host_row, Reading())

    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ACTIVE
