"""At a limit while swap is short, files that are off and cannot be turned on are removed,
one per round, until an add fits. A removal starts only when all the removals it needs let
the add in, and the next round goes on with them: a file that failed to turn on
``MAKE_ROOM_AFTER`` times counted only while its wait was pending, and once it passed was
turned on again instead, so the file removed before it, for an add that needed both gone,
went in vain (review 194/1)."""

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
#: Room for one file of 128 MiB beside dyn-1 only once both small files are gone.
RULES = Rules(
    min_free_bytes=32 * MiB, psi_some_above=None, file_size_bytes=128 * MiB, max_files=8,
    max_total_bytes=256 * MiB, unused_for_seconds=60, cooldown_seconds=30,
)  # fmt: skip
ON = File("dyn-1", 128 * MiB, 100 * MiB, True, 0.0)


def failed(n: int, *, waiting: bool) -> File:
    """There and off, its activates failed ``MAKE_ROOM_AFTER`` times; ``waiting``: the wait
    they set is pending, else it passed."""
    return File(f"dyn-{n}", 64 * MiB, 0, False, 0.0, ready=not waiting, waiting=waiting,
                failed_turn_ons=MAKE_ROOM_AFTER)  # fmt: skip


def test_two_files_that_keep_failing_both_go_before_the_add():
    d = decide(RULES, SHORT, [ON, failed(2, waiting=True), failed(3, waiting=True)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason

    # The next round: dyn-2's wait has passed meanwhile. Turned on again, as before, it left
    # the add out (dyn-1 and dyn-2 are 192 MiB), and dyn-3 went for nothing. The round
    # knows a plan is under way: the latest action said dyn-2 must go too.
    under_way = Situation(finishing_room=still_to_go(d.reason))
    assert under_way.finishing_room == {"dyn-2"}
    d = decide(RULES, SHORT, [ON, failed(2, waiting=False)], under_way)
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert f"dyn-2 is off and failed to turn on {MAKE_ROOM_AFTER} times" in d.reason
    assert d.reason.endswith("removing it to make room"), d.reason

    d = decide(RULES, SHORT, [ON], under_way)
    assert (d.action, d.name) == (Action.ADD, "dyn-2"), d.reason


def test_the_reason_names_the_files_that_must_go_after_it():
    """The one removed says it is not the last the add needs (review 194/5)."""
    d = decide(RULES, SHORT, [ON, failed(2, waiting=True), failed(3, waiting=True)], Situation())
    assert d.reason.endswith(
        "dyn-3 is off and failed to turn on 3 times, removing it to make room; dyn-2 must go "
        "too, one per round, before an add fits"
    ), d.reason


def test_one_that_keeps_failing_is_tried_again_when_its_removal_lets_no_add_in():
    """The total lowered to 192 MiB: with dyn-2 gone, dyn-1 and a new file of 128 MiB still
    pass it, so no room is made and dyn-2, whose wait passed, is tried again."""
    rules = Rules(**{**vars(RULES), "max_total_bytes": 192 * MiB})
    d = decide(rules, SHORT, [ON, failed(2, waiting=False)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason


def test_while_adds_wait_no_room_is_made_and_the_file_is_tried_again():
    situation = Situation(adds_held="the latest 2 add(s) failed")
    d = decide(RULES, SHORT, [ON, failed(2, waiting=False), failed(3, waiting=True)], situation)
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason


def test_the_fewest_files_go_not_a_small_one_the_add_does_not_need_gone():
    """Files of two sizes (the file size changed since): one 128 MiB file that keeps
    failing must go; the 32 MiB one that also does, first in the order, frees too little,
    and with the large one gone the add fits beside it. The shortest run in the order took
    the small one first, and the large one after it (review 198/3)."""
    rules = Rules(**{**vars(RULES), "max_total_bytes": 416 * MiB})
    big = File("dyn-2", 128 * MiB, 0, False, 0.0, ready=False, waiting=True,
               failed_turn_ons=MAKE_ROOM_AFTER)  # fmt: skip
    small = File("dyn-3", 32 * MiB, 0, False, 0.0, ready=False, waiting=True,
                 failed_turn_ons=MAKE_ROOM_AFTER)  # fmt: skip
    other_on = File("dyn-4", 128 * MiB, 100 * MiB, True, 0.0)
    d = decide(rules, SHORT, [ON, big, small, other_on], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert d.reason.endswith("removing it to make room"), d.reason  # nothing more to go

    d = decide(rules, SHORT, [ON, small, other_on], Situation())
    assert (d.action, d.name) == (Action.ADD, "dyn-2"), d.reason


def test_among_as_many_the_first_in_the_order_goes_and_the_rest_follow_round_by_round():
    """Two of three files that keep failing must go (the count): the highest-numbered two,
    one per round, and the plan the second round finds is the rest of the first's."""
    rules = Rules(**{**vars(RULES), "max_files": 3, "max_total_bytes": 1024 * MiB})
    files = [ON, failed(2, waiting=True), failed(3, waiting=True), failed(4, waiting=True)]
    d = decide(rules, SHORT, files[:3] + files[3:], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-4"), d.reason
    assert d.reason.endswith("dyn-3 must go too, one per round, before an add fits"), d.reason
    d = decide(rules, SHORT, files[:3], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
    assert d.reason.endswith("removing it to make room"), d.reason


@pytest.mark.django_db
def test_a_round_counts_a_files_failed_turn_ons_after_their_wait_has_passed(host_row):
    """The rows' side of 194/1: while a plan is under way (the latest action removed dyn-2
    to make room and said dyn-1 must go too), the failed activates are counted whether
    their wait is pending or passed. Counted only while it was pending, the file whose wait
    passed was turned on again, not removed, and the removal before it was in vain (review
    198/4). Alone, with no plan under way, it is tried again (198/7:
    ``test_a_file_whose_wait_passed_is_tried_again_unless_a_plan_needs_it_gone``)."""
    policy = small_policy(host_row, max_files=1)
    now = timezone.now()
    DynamicSwapDecision.objects.create(
        policy=policy, at=now - timedelta(minutes=5), action=DynamicSwapDecision.Action.REMOVE,
        backend_name="dyn-2",
        reason=f"free swap is short, but the limit is reached: dyn-2 is off and not there to "
        f"turn on, removing it to make room; dyn-1 {MORE_TO_GO}",
    )  # fmt: skip
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

    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert f"failed to turn on {MAKE_ROOM_AFTER} times" in decision.reason


def test_rows_of_files_that_are_not_there_go_before_a_real_file_that_would_do_alone():
    """Two rows whose files are not there can make the room; one real file that keeps
    failing to turn on could alone. The rows go: their removal loses nothing (review 200/2)."""
    rules = Rules(**{**vars(RULES), "max_total_bytes": 384 * MiB})
    gone = [File(f"dyn-{n}", 64 * MiB, 0, False, 0.0, absent=True) for n in (2, 3)]
    real = File("dyn-4", 128 * MiB, 0, False, 0.0, waiting=True, failed_turn_ons=MAKE_ROOM_AFTER)
    d = decide(rules, SHORT, [ON, *gone, real], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
    assert d.reason.endswith("dyn-2 must go too, one per round, before an add fits"), d.reason
    d = decide(rules, SHORT, [ON, gone[0], real], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert d.reason.endswith("removing it to make room"), d.reason


def test_a_plan_may_need_files_of_two_kinds():
    """One row whose file is not there is not enough; with a file that keeps failing it is:
    the row goes first, then the file (review 201/5)."""
    gone = File("dyn-2", 64 * MiB, 0, False, 0.0, absent=True)
    d = decide(RULES, SHORT, [ON, gone, failed(3, waiting=True)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert d.reason.endswith("dyn-3 must go too, one per round, before an add fits"), d.reason
    d = decide(RULES, SHORT, [ON, failed(3, waiting=True)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
