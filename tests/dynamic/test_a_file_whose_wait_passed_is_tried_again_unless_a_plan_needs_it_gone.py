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
    MORE_TO_GO,
    Action,
    File,
    Reading,
    Rules,
    Situation,
    decide,
    still_to_go,
)
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapDecision, Job, Sample

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
    situation = Situation(finishing_room=frozenset({"dyn-1"}))
    d = decide(RULES, SHORT, [failed_three_times(waiting=False)], situation)
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1"), d.reason


def test_a_plan_binds_only_the_files_it_named():
    """A plan under way names the files still to go; another that failed and whose wait
    passed is tried again as ever (review 206/2)."""
    situation = Situation(finishing_room=frozenset({"dyn-2"}))
    d = decide(RULES, SHORT, [failed_three_times(waiting=False)], situation)
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-1"), d.reason


def test_the_files_still_to_go_are_read_from_the_reasons_end_only():
    """Words before the end may quote what is not the policy's own (review 206/3)."""
    said = f"free swap is short: dyn-2 said '{MORE_TO_GO}', removing it to make room"
    assert still_to_go(said) == frozenset()
    assert still_to_go(f"removing dyn-3 to make room; dyn-1 {MORE_TO_GO}") == {"dyn-1"}
    assert still_to_go(f"x; dyn-1, dyn-2 and dyn-4 {MORE_TO_GO}") == {"dyn-1", "dyn-2", "dyn-4"}


def _on_once_then_failed_three_times(policy) -> Backend:
    """dyn-1, on two days ago, then refused three times by swapon, the wait after the
    third long passed; and a sample that says swap is short."""
    now = timezone.now()
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(days=2), observed_state=Backend.Observed.READY
    )
    Job.objects.filter(backend=dyn1).update(queued_at=now - timedelta(days=2))
    for hours in (30, 20, 10):
        at = now - timedelta(hours=hours)
        failed_job = Job.objects.create(
            kind=Job.Kind.ACTIVATE, host=policy.host, backend=dyn1, backend_name="dyn-1",
            via=Job.Via.SYSTEM, state=Job.State.FAILED, error="swapon: too many swap areas",
            finished_at=at,
        )  # fmt: skip
        Job.objects.filter(pk=failed_job.pk).update(queued_at=at)
    Sample.objects.create(host=policy.host, at=now, swap_free=0)
    return dyn1


@pytest.mark.django_db
def test_a_round_turns_the_only_file_on_again_rather_than_remove_it(host_row):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    dyn1 = _on_once_then_failed_three_times(policy)

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE, state__in=Job.LIVE).exists()


@pytest.mark.django_db
def test_a_plan_left_days_ago_binds_no_later_shortage(host_row):
    """The shortage ended between two removals (no "enough" is recorded): the plan is over,
    and a shortage days later tries the file again (review 206/2)."""
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    now = timezone.now()
    DynamicSwapDecision.objects.create(
        policy=policy, at=now - timedelta(days=5), action=DynamicSwapDecision.Action.REMOVE,
        backend_name="dyn-2", reason=f"removing dyn-2 to make room; dyn-1 {MORE_TO_GO}",
    )  # fmt: skip
    _on_once_then_failed_three_times(policy)

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason
