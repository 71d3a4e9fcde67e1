"""While swap is short, a file of the policy that is there and off (after a reboot: the
policy's files have no fstab line) is turned on again before any file is added. It counts
against the limits already: before, the policy said its limit was reached and the host ran
short with the swap it had made sitting off (review 185/1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backends import Policy, kernel
from backends.dynamic import (
    MAKE_ROOM_AFTER,
    Action,
    File,
    Held,
    Reading,
    Rules,
    Situation,
    decide,
    retry_after,
)
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapDecision, Job, Sample
from tests.fixtures.host import needs_root

from .conftest import MiB, file_after_step, fresh_sample, make_policy, round_, small_policy, wait

RULES = Rules(
    min_free_bytes=32 * MiB, psi_some_above=None, file_size_bytes=64 * MiB, max_files=2,
    max_total_bytes=128 * MiB, unused_for_seconds=60, cooldown_seconds=30,
)  # fmt: skip
SHORT = Reading(256 * MiB, 10 * MiB, 0.0, 1.0)
PLENTY = Reading(256 * MiB, 200 * MiB, 0.0, 1.0)


def _failed(backend: Backend, kind: str, error: str, ago: timedelta) -> Job:
    return Job.objects.create(
        kind=kind, host=backend.host, backend=backend, backend_name=backend.name,
        via=Job.Via.SYSTEM, state=Job.State.FAILED, error=error,
        finished_at=timezone.now() - ago,
    )  # fmt: skip


def off(
    n: int, *, ready: bool = True, untold: bool = False, kept: str = "", failed: int = 0,
    size: int = 64 * MiB, waiting: bool = False, absent: bool = False,
) -> File:  # fmt: skip
    return File(f"dyn-{n}", size, 0, False, 0.0, untold=untold, kept=kept,
                ready=ready and not waiting, waiting=waiting, failed_turn_ons=failed,
                absent=absent)  # fmt: skip


def gone(n: int, **fields: Any) -> File:
    """Not there: gone after a reboot, or never made."""
    return off(n, ready=False, absent=True, **fields)


def on(n: int) -> File:
    return File(f"dyn-{n}", 64 * MiB, 60 * MiB, True, 0.0)


def test_the_oldest_file_that_is_off_is_turned_on_at_the_limit():
    d = decide(RULES, SHORT, [off(10), on(1), off(2)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason
    assert "free swap 10 MiB is below 32 MiB" in d.reason
    assert "dyn-2 is there and off, turning it on" in d.reason


def test_below_the_limit_it_is_turned_on_rather_than_another_added():
    rules = Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 512 * MiB})
    d = decide(rules, SHORT, [off(1)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-1")


@pytest.mark.parametrize("max_files", [2, 3])
def test_a_file_that_is_off_and_cannot_be_turned_on_makes_room_at_the_limit(max_files: int):
    """Gone after a reboot or never made: counted, it held every add for as long as swap
    stayed short (reviews 190/1, 190/2). The newest goes, even when the add needs the next
    one gone too (limits lowered since: 193/2)."""
    rules = Rules(**{**vars(RULES), "max_files": max_files, "max_total_bytes": 192 * MiB})
    d = decide(rules, SHORT, [gone(1), on(2), gone(3)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
    assert f"the limit of {max_files} file(s) is reached: dyn-3 is off and not there" in (d.reason)


def test_a_good_file_whose_swapon_failed_is_tried_again_before_it_makes_room():
    """One failed activate, its wait not passed: a gone file goes first, and this one only
    after ``MAKE_ROOM_AFTER`` failures (review 192/1)."""
    rules = Rules(**{**vars(RULES), "max_files": 3, "max_total_bytes": 192 * MiB})
    waiting = off(3, waiting=True, failed=1)
    d = decide(rules, SHORT, [gone(1), on(2), waiting], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1"), d.reason
    d = decide(rules, SHORT, [on(1), on(2), waiting], Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason
    failed = off(3, waiting=True, failed=MAKE_ROOM_AFTER)
    d = decide(rules, SHORT, [on(1), on(2), failed], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
    assert f"dyn-3 is off and failed to turn on {MAKE_ROOM_AFTER} times" in d.reason


def test_a_file_that_failed_to_turn_on_and_then_went_makes_room_at_once():
    """Its failures counted, but it is no longer there to try again (review 193/1)."""
    rules = Rules(**{**vars(RULES), "max_files": 3, "max_total_bytes": 192 * MiB})
    d = decide(rules, SHORT, [on(1), on(2), gone(3, failed=1)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason


def test_a_file_that_never_failed_is_turned_on_before_one_that_did():
    rules = Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 512 * MiB})
    d = decide(rules, SHORT, [off(1, failed=2), off(2)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason


def test_a_file_too_large_for_the_limits_makes_room():
    """The limits and the file size lowered since it was made: it cannot be turned on, and
    an add could take its place (review 192/2)."""
    rules = Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 128 * MiB})
    d = decide(rules, SHORT, [on(1), off(2, size=128 * MiB)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert "dyn-2 is off and too large (128 MiB) for the 64 MiB left" in d.reason


def test_room_that_needs_two_files_gone_is_made_one_at_a_time():
    """The file size raised since: an add of 128 MiB needs both small files gone (193/2)."""
    rules = Rules(**{**vars(RULES), "file_size_bytes": 128 * MiB, "max_files": 8,
                     "max_total_bytes": 384 * MiB})  # fmt: skip
    big = [File(f"dyn-{n}", 128 * MiB, 100 * MiB, True, 0.0) for n in (1, 2)]
    d = decide(rules, SHORT, [*big, gone(3), gone(4)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-4"), d.reason
    # The reason says the removal is not the last the add needs (review 194/5).
    assert d.reason.endswith("; dyn-3 must go too, one per round, before an add fits"), d.reason
    d = decide(rules, SHORT, [*big, gone(3)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason
    assert d.reason.endswith("removing it to make room"), d.reason


def test_no_room_is_made_when_an_add_would_still_pass_the_limits():
    """Lowered to one file, with one on: removing the one that is off lets no add in."""
    rules = Rules(**{**vars(RULES), "max_files": 1})
    d = decide(rules, SHORT, [on(1), gone(2)], Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason


@pytest.mark.parametrize(
    "file",
    [
        # Whether it is on cannot be told: it may be.
        gone(1, untold=True),
        # Its destroys failed, and the wait they set has not passed.
        gone(1, kept="2 destroy(s) of it failed"),
    ],
)
def test_a_file_that_may_be_on_or_whose_destroy_waits_makes_no_room(file: File):
    d = decide(RULES, SHORT, [file, on(2)], Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason


def test_with_swap_enough_no_room_is_made():
    d = decide(RULES, PLENTY, [gone(1), on(2)], Situation())
    assert d.action != Action.REMOVE or "to make room" not in d.reason


def test_a_smaller_file_that_fits_is_turned_on_when_the_oldest_does_not():
    """The limits lowered since dyn-1 was made: it no longer fits, dyn-3 does (190/4)."""
    rules = Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 200 * MiB})
    big = File("dyn-1", 192 * MiB, 0, False, 0.0, ready=True)
    d = decide(rules, SHORT, [big, on(2), off(3)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-3"), d.reason


def test_one_whose_destroys_failed_waits_as_its_removal_does():
    """Else a file whose activate fails, and the destroy that clears it up, were asked
    again every round: the wait its failed destroys set holds both."""
    files = [off(1, kept="2 destroy(s) of it failed"), on(2)]
    d = decide(RULES, SHORT, files, Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason
    assert "dyn-1 stays" not in d.reason


@pytest.mark.django_db
def test_an_activate_that_fails_and_a_destroy_that_fails_are_not_asked_each_round(host_row):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(minutes=3), observed_state=Backend.Observed.READY
    )
    Job.objects.filter(backend=dyn1).update(state=Job.State.FAILED, error="swapon: EINVAL")
    _failed(dyn1, Job.Kind.DESTROY, "cannot tell", timedelta(minutes=1))
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    assert decision.held == Held.LIMIT, decision.reason
    assert not Job.objects.filter(backend=dyn1, state__in=Job.LIVE).exists()


@pytest.mark.parametrize(
    "rules",
    [
        Rules(**{**vars(RULES), "max_files": 1}),
        Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 100 * MiB}),
    ],
)
def test_the_files_that_are_on_hold_it_to_the_limits(rules: Rules):
    """Limits lowered since the files were made: those that are on fill them, and the one
    that is off stays off, as an add would be refused (review 188/4)."""
    d = decide(rules, SHORT, [on(1), off(2)], Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason


def test_the_failed_adds_wait_holds_no_file_that_is_there():
    d = decide(RULES, SHORT, [off(1)], Situation(adds_held="the latest 3 add(s) failed"))
    assert d.action == Action.ACTIVATE


@pytest.mark.parametrize(
    ("situation", "held"),
    [
        (Situation(in_flight="the activate job of dyn-2"), Held.WAITING),
        (Situation(since_last_action=5.0), Held.COOLDOWN),
    ],
)
def test_a_step_in_flight_or_the_cooldown_holds_it(situation: Situation, held: Held):
    d = decide(RULES, SHORT, [off(1)], situation)
    assert d.action == Action.NONE and d.held == held


def test_with_swap_enough_it_is_not_turned_on():
    d = decide(RULES, PLENTY, [off(1)], Situation())
    assert d.action != Action.ACTIVATE


@pytest.mark.django_db
def test_a_round_queues_its_activate_and_records_why(host_row):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=Backend.Observed.READY
    )
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason
    job = Job.objects.filter(backend=dyn1, state__in=Job.LIVE).get()
    assert (job.kind, job.via) == (Job.Kind.ACTIVATE, Job.Via.SYSTEM)
    row = policy.decisions.order_by("-at", "-pk").first()
    assert row is not None and (row.action, row.job) == (DynamicSwapDecision.Action.ACTIVATE, job)
    # The next round waits for it: no second activate, no add.
    assert dynamic.run_policy(policy).held == Held.WAITING
    assert Job.objects.filter(host=host_row).exclude(kind=Job.Kind.CHECK).count() == 2


@needs_root
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_file_swapped_off_behind_the_policys_back_is_turned_on_by_a_real_worker(worker):
    """The reboot, as the kernel sees it: the area is simply not on. The policy is short of
    swap whatever the machine has (it wants a TiB free) and may hold one file."""
    host = worker.host
    policy = make_policy(
        host, enabled=True, min_free_bytes=1 << 40, file_size_bytes=16 * MiB, max_files=1,
        max_total_bytes=16 * MiB, unused_for_seconds=3600, cooldown_seconds=0,
    )  # fmt: skip
    fresh_sample(host, timezone.now(), worker)
    assert round_(policy, worker).action == Action.ADD
    round_(policy, worker)  # the follow-up: its activate
    dyn1 = Backend.objects.get(host=host, name="dyn-1")
    assert kernel.find_area(dyn1.swap_path) is not None, dyn1.jobs.values_list("error")

    kernel.swapoff(dyn1.swap_path, policy=Policy.from_env(), force=True)
    wait(
        lambda: Backend.objects.get(pk=dyn1.pk).observed_state == Backend.Observed.READY,
        20, "the sampler to read dyn-1 off", worker,
        also=lambda: Backend.objects.get(pk=dyn1.pk).observed_state,
    )  # fmt: skip
    fresh_sample(host, timezone.now(), worker)

    decision = round_(policy, worker)

    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason
    assert kernel.find_area(dyn1.swap_path) is not None
    activate = dyn1.jobs.filter(kind=Job.Kind.ACTIVATE).order_by("-queued_at").first()
    assert activate is not None and activate.state == Job.State.SUCCEEDED, activate.error
    assert Backend.objects.filter(host=host).count() == 1


@pytest.mark.parametrize(("max_files", "then"), [(2, "add"), (1, "remove")])
@pytest.mark.django_db
def test_a_file_whose_provision_never_completed_is_not_turned_on(
    host_row, max_files: int, then: str
):
    """READY says only that a file is at its path: a row whose provision never completed
    reads so, its activate is refused, and every round failed with no add (review 188/1).
    At the limit it is removed to make room (190/1)."""
    policy = small_policy(host_row, max_files=max_files)
    dyn1 = file_after_step(
        policy, Job.Kind.PROVISION, timedelta(hours=3), observed_state=Backend.Observed.READY,
        provisioned_at=None,
    )  # fmt: skip
    Job.objects.filter(backend=dyn1).update(state=Job.State.FAILED)
    _failed(dyn1, Job.Kind.DESTROY, "cannot tell", timedelta(hours=3))
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    if then == "add":
        assert (decision.action, decision.name) == (Action.ADD, "dyn-2"), decision.reason
        return
    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY, state__in=Job.LIVE).exists()


@pytest.mark.django_db
def test_turning_a_file_on_starts_the_cooldown(host_row):
    policy = small_policy(host_row, cooldown_seconds=600)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=Backend.Observed.READY
    )
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)
    assert dynamic.run_policy(policy).action == Action.ACTIVATE
    Job.objects.filter(backend=dyn1, state__in=Job.LIVE).update(
        state=Job.State.SUCCEEDED, finished_at=timezone.now()
    )
    Backend.objects.filter(pk=dyn1.pk).update(observed_state=Backend.Observed.ACTIVE)
    Sample.objects.create(host=host_row, at=timezone.now() + timedelta(seconds=1), swap_free=0)

    decision = dynamic.run_policy(policy)

    assert decision.held == Held.COOLDOWN, decision.reason
    assert not Backend.objects.filter(host=host_row, name="dyn-2").exists()


@pytest.mark.django_db
def test_a_file_that_was_on_and_fails_to_turn_on_is_kept_and_tried_later(host_row):
    """A swapon refused for the host's sake (MAX_SWAPFILES) is no reason to delete a good
    file: after a reboot every file that was off went, one after another (review 188/3).
    It is tried again after a wait that grows with each failure."""
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=Backend.Observed.READY
    )
    Sample.objects.create(host=host_row, at=timezone.now() - timedelta(seconds=5), swap_free=0)
    assert dynamic.run_policy(policy).action == Action.ACTIVATE
    Job.objects.filter(backend=dyn1, state__in=Job.LIVE).update(
        state=Job.State.FAILED, error="swapon: too many swap areas",
        finished_at=timezone.now() - timedelta(seconds=10),
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)
    policy.decisions.all().delete()  # the cool-down is not what holds it here

    decision = dynamic.run_policy(policy)

    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()
    assert not Job.objects.filter(backend=dyn1, state__in=Job.LIVE).exists()
    assert decision.action == Action.ADD, decision.reason  # dyn-2 instead, within the limits
    # Its wait passed, it is tried again.
    Job.objects.filter(backend=dyn1, state=Job.State.FAILED).update(
        finished_at=timezone.now() - timedelta(seconds=retry_after(1, 60) + 5)
    )
    Backend.objects.filter(host=host_row, name="dyn-2").delete()
    policy.decisions.all().delete()
    decision = dynamic.run_policy(policy)
    assert (decision.action, decision.name) == (Action.ACTIVATE, "dyn-1"), decision.reason


@pytest.mark.django_db
@pytest.mark.parametrize("failures", [1, MAKE_ROOM_AFTER])
def test_a_file_that_keeps_failing_to_turn_on_at_the_limit_makes_room(host_row, failures: int):
    """A file that was on whose swapon keeps failing (EINVAL, say) held every add for as
    long as swap was short (review 190/2): at the limit it goes after a few tries, and the
    next round adds; after one it is kept, to be tried again (192/1)."""
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=2), observed_state=Backend.Observed.READY
    )
    for n in range(failures):
        _failed(dyn1, Job.Kind.ACTIVATE, "swapon: Invalid argument", timedelta(seconds=30 + n))
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    if failures < MAKE_ROOM_AFTER:
        assert decision.held == Held.LIMIT, decision.reason
        assert not Job.objects.filter(backend=dyn1, state__in=Job.LIVE).exists()
        return

    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert "to make room" in decision.reason
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY, state__in=Job.LIVE).exists()
