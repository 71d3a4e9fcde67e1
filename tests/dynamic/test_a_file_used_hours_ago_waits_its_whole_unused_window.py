"""A file goes once unused for the policy's window. Raw samples are kept two hours, then
averaged by the minute and the hour; the policy read the raw ones only, so with a window of
six hours a file last used three hours ago looked unused since its activation (ten hours)
and was removed. It now reads the averages too, and counts a bucket to its end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20
HOUR = timedelta(hours=1)
#: More than a 64 MiB file's stray pages (4 MiB): a sample that saw the file in use.
USED = 5 * MiB


def rolled(
    backend: Backend, ago: timedelta, *, average: int, peak: int | None,
    resolution: str = Sample.Resolution.MINUTE,
) -> Sample:  # fmt: skip
    """A roll-up as core/retention.py writes it, ``ago`` before now; ``peak`` None: one made
    before peaks were kept."""
    key = str(backend.uuid)
    return Sample.objects.create(
        host_id=backend.host_id, at=timezone.now() - ago, resolution=resolution,
        backends={key: average}, backends_peak=None if peak is None else {key: peak},
    )  # fmt: skip


@pytest.fixture
def setup(host_row):
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes, policy.file_size_bytes = True, 32 * MiB, 64 * MiB
    policy.cooldown_seconds, policy.unused_for_seconds = 0, 6 * 3600
    policy.save()
    now = timezone.now()
    dyn1 = Backend.objects.create(
        host=host_row, kind="file", name="dyn-1", params={"path": "/nowhere/dyn-1"},
        size_bytes=64 * MiB, dynamic_policy=policy, provisioned_at=now - 10 * HOUR,
        observed_state=Backend.Observed.ACTIVE, used_bytes=0,
    )  # fmt: skip
    Job.objects.create(
        kind=Job.Kind.ACTIVATE, host=host_row, backend=dyn1, backend_name="dyn-1",
        via=Job.Via.SYSTEM, state=Job.State.SUCCEEDED, finished_at=now - 10 * HOUR,
    )  # fmt: skip
    # Plenty of free swap now, and the file empty in every raw sample kept.
    Sample.objects.create(host=host_row, at=now, swap_total=1 << 30, swap_free=1 << 30,
                          backends={str(dyn1.uuid): 0})  # fmt: skip
    return policy, dyn1, now


def test_a_minute_average_three_hours_ago_keeps_it(host_row, setup):
    policy, dyn1, now = setup
    rolled(dyn1, 3 * HOUR, average=USED, peak=USED)
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.NONE and decision.held == Held.ENOUGH, decision.reason
    assert not Job.objects.filter(kind__in=["deactivate", "destroy"]).exists()


def test_an_hour_bucket_counts_to_its_end(host_row, setup):
    policy, dyn1, now = setup
    # The hour that ended 5 h 30 min ago saw it in use: 5.5 h < 6 h, it stays.
    rolled(dyn1, 6.5 * HOUR, average=USED, peak=USED, resolution=Sample.Resolution.HOUR)
    assert dynamic.run_policy(policy).held == Held.ENOUGH


def test_unused_for_the_whole_window_it_goes(host_row, setup):
    policy, dyn1, now = setup
    rolled(dyn1, 7 * HOUR, average=USED, peak=USED)
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.REMOVE and decision.name == "dyn-1", decision.reason


def test_a_roll_up_that_saw_only_stray_pages_does_not_keep_it(host_row, setup):
    policy, dyn1, now = setup
    rolled(dyn1, 3 * HOUR, average=4096, peak=8192)
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.REMOVE and decision.name == "dyn-1", decision.reason


def test_a_burst_its_minute_average_hides_keeps_it(host_row, setup):
    # 40 MiB for one reading of twelve: a 3 MiB average, under the 4 MiB stray bound; the
    # peak says what it was.
    policy, dyn1, now = setup
    rolled(dyn1, 3 * HOUR, average=40 * MiB // 12, peak=40 * MiB)
    assert dynamic.run_policy(policy).held == Held.ENOUGH


def test_a_roll_up_made_before_peaks_were_kept_counts_any_page(host_row, setup):
    # No peak: its average is all there is, and any page in it keeps the file, as before.
    policy, dyn1, now = setup
    rolled(dyn1, 3 * HOUR, average=4096, peak=None)
    assert dynamic.run_policy(policy).held == Held.ENOUGH
