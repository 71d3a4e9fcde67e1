"""A file that was on and failed to turn on ``MAKE_ROOM_AFTER`` times, whose wait has
passed, was removed at a limit while swap was short even when it alone was the plan: no
removal had been made for which it had to go too, and with it the only file, the policy
lost a good file to make a new one whose swapon the same host would most likely refuse
(review 198/7). Its wait is there for it to be tried again: it is turned on; if that fails
too it is waiting again, and goes then. Only while an earlier removal's plan is under way
does it go at once, else that removal was in vain (194/1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import (
    MAKE_ROOM_AFTER,
    Action,
    File,
    Reading,
    Rules,
    Situation,
    decide,
)
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import file_after_step, small_policy

MiB = 1 << 20
SHORT = Reading(256 * MiB, 10 * MiB, 0.0, 1.0)
RULES = Rules(
    min_free_bytes=32 * MiB,
    psi_some_above=None,
    file_size_bytes=64 * MiB,
    max_files=1,
    max_total_bytes=64 * MiB,
    unused_for_seconds=60,
    cooldown_seconds=30,
)


def failed_three_times(*, waiting: bool) -> File:
    return File("dyn-1", 64 * MiB, 0, False, 0.0, ready=not waiting, waiting=waiting,
                failed_turn_ons=MAKE_ROOM_AFTER)  # fmt: skip


def test_the_only_file_is_tried_again_once_its_wait_passed():
    d = decide(RULES, SHORT, [failed_three_times(waiting=False)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-1"), d.reason


def test_it_goes_when_it_failed_again_and_waits():
    d = decide(RULES, SHORT, [failed_three_times(waiting=True)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1"), d.reason


def test_it_goes_at_once_as_the_rest_of_a_plan_under_way():
    situation = Situation(finishing_room=True)
    d = decide(RULES, SHORT, [failed_three_times(waiting=False)], situation)
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1"), d.reason


@pytest.mark.django_db
def test_a_round_turns_the_only_file_on_again_rather_than_remove_it(host_row):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    now = timezone.now()
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(days=2), observed_state=Backend.Observed.READY
    )
    Job.objects.filter(backend=dyn1).update(queued_at=now - timedelta(days=2))
    for hours in (30, 20, 10):  # the wait after three failures is long passed
        at = now - timedelta(hours=hours)
        failed_job = Job.objects.create(
            kind=Job.Kind.ACTIVATE, host=host_row, backend=dyn1, backend_name="dyn-1",
            via=Job.Via.SYSTEM, state=Job.State.FAILED, error="swapon: too many swap areas",
            finished_at=at,
        )  # fmt: skip
        Job.objects.filter(pk=failed_job.pk).update(queued_at=at)
    Sample.objects.create(host=host_row, at=now, swap_free=0)

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE, state__in=Job.LIVE).exists()
