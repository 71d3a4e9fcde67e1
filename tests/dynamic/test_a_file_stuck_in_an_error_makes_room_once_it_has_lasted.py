"""A provisioned file whose row reads an error is not removed at once to make room: the
error may pass (review 194/2). But nothing but a thorough look (a job's end) writes or
clears such an error, and one that lasts held every add for as long as swap stayed short
(review 198/6). Dated from the file's latest finished job, an error older than
``dynamic.stuck_after`` makes room as a file that is not there does, and the reason says
which file is stuck, in what, and since when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends import dynamic as policy_rules
from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import MiB, file_after_step, small_policy

EIO = "cannot read the store: [Errno 5] Input/output error"


def stuck_file(host_row, finished_ago: timedelta):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, finished_ago,
        observed_state=Backend.Observed.ERROR, observed_error=EIO,
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)
    return policy, dyn1


@pytest.mark.django_db
def test_an_error_that_has_lasted_makes_room_and_the_reason_says_since_when(host_row, caplog):
    bound = policy_rules.stuck_after(dynamic.rules_of(small_policy(host_row)))
    policy, dyn1 = stuck_file(host_row, timedelta(seconds=bound + 600))

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert "dyn-1 is stuck in an error since " in decision.reason
    assert "no job of it since): " + EIO in decision.reason
    assert decision.reason.endswith("removing it to make room"), decision.reason
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY, state__in=Job.LIVE).exists()
    assert any("dyn-1" in r.getMessage() and "stuck" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_an_error_younger_than_the_bound_still_holds(host_row):
    bound = policy_rules.stuck_after(dynamic.rules_of(small_policy(host_row)))
    policy, dyn1 = stuck_file(host_row, timedelta(seconds=bound - 600))

    decision = dynamic.run_policy(policy)

    assert decision.action == Action.NONE and decision.held == Held.LIMIT, decision.reason
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()


@pytest.mark.django_db
def test_a_later_job_of_the_file_dates_the_error_again(host_row):
    """A check that finished a minute ago looked at the file: the error it left is young."""
    bound = policy_rules.stuck_after(dynamic.rules_of(small_policy(host_row)))
    policy, dyn1 = stuck_file(host_row, timedelta(seconds=bound + 600))
    Job.objects.create(
        kind=Job.Kind.CHECK, host=host_row, backend=dyn1, backend_name="dyn-1",
        via=Job.Via.SYSTEM, state=Job.State.FAILED, error=EIO,
        finished_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip

    decision = dynamic.run_policy(policy)

    assert decision.action == Action.NONE and decision.held == Held.LIMIT, decision.reason


def test_the_pure_decision_removes_a_stuck_file_before_adding():
    rules = policy_rules.Rules(
        min_free_bytes=32 * MiB, psi_some_above=None, file_size_bytes=64 * MiB, max_files=1,
        max_total_bytes=64 * MiB, unused_for_seconds=600, cooldown_seconds=0,
    )  # fmt: skip
    reading = policy_rules.Reading(64 * MiB, 0, 0.0, 1.0)
    error = policy_rules.File("dyn-1", 64 * MiB, 0, False, 1e6)
    d = policy_rules.decide(rules, reading, [error], policy_rules.Situation())
    assert d.action == Action.NONE and d.held == Held.LIMIT, d.reason
    stuck = policy_rules.File("dyn-1", 64 * MiB, 0, False, 1e6, stuck="since then: EIO")
    d = policy_rules.decide(rules, reading, [stuck], policy_rules.Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1"), d.reason
