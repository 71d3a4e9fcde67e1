"""A file of the policy whose destroy failed is not asked to go again at the next round, but
after the wait an add that keeps failing gets (``dynamic.retry_after``), doubled for each
destroy that failed in a row. A destroy is refused for as long as the worker cannot tell
whether a filesystem on the way to the file is mounted (a mount table it cannot read), even
of a file that is there and READY: the policy asked it again every round, each a failed job
and its rows (review 183/1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, retry_after
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import file_after_step, small_policy

pytestmark = pytest.mark.django_db

WHY = "cannot tell whether a filesystem on the way to /nowhere/dyn-1 is mounted"


def _failed_destroy(backend: Backend, ago: timedelta) -> Job:
    return Job.objects.create(
        kind=Job.Kind.DESTROY, host=backend.host, backend=backend, backend_name=backend.name,
        via=Job.Via.SYSTEM, state=Job.State.FAILED, error=WHY,
        finished_at=timezone.now() - ago,
    )  # fmt: skip


def test_a_destroy_that_keeps_failing_is_asked_again_later_and_later(host_row):
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=3), observed_state=Backend.Observed.READY
    )
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)
    first = _failed_destroy(dyn1, timedelta(seconds=10))

    decision = dynamic.run_policy(policy)

    assert decision.action == Action.NONE, decision.reason
    assert "dyn-1 stays: 1 destroy(s) of it failed" in decision.reason
    assert WHY in decision.reason
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).count() == 1

    # Two in a row: the wait doubles, so what would have ended the first wait does not.
    once = retry_after(1, 60)
    Job.objects.filter(pk=first.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    _failed_destroy(dyn1, timedelta(seconds=once + 5))
    assert dynamic.run_policy(policy).action == Action.NONE

    # Its wait passed, it is asked again.
    Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).update(
        finished_at=timezone.now() - timedelta(seconds=retry_after(2, 60) + 5)
    )
    decision = dynamic.run_policy(policy)
    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).count() == 3


@pytest.mark.parametrize(
    ("state", "before", "turned_on"),
    [
        (Backend.Observed.READY, Job.State.SUCCEEDED, True),
        # Not there, or not its own: the activate would fail, and a destroy follow at once.
        (Backend.Observed.ABSENT, Job.State.SUCCEEDED, False),
        (Backend.Observed.ERROR, Job.State.SUCCEEDED, False),
        # Its swapoff failed: it is still on (review 185/4).
        (Backend.Observed.READY, Job.State.FAILED, False),
    ],
)
def test_a_file_the_policy_swapped_off_is_turned_on_again_when_its_destroy_fails(
    host_row, state: str, before: str, turned_on: bool
):
    """The policy removes an active file in two jobs, a swapoff then a destroy: a destroy
    refused after the swapoff went through (a mount table the worker cannot read refuses
    the destroy, never the swapoff) left the file off, counted against the limit and never
    used again (review 184/1)."""
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(policy, Job.Kind.DEACTIVATE, timedelta(minutes=2), observed_state=state)
    Job.objects.filter(backend=dyn1).update(state=before)
    _failed_destroy(dyn1, timedelta(minutes=1))
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)

    dynamic.run_policy(policy)

    if not turned_on:
        assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE).exists()
        return
    activate = Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE).get()
    assert activate.via == Job.Via.SYSTEM
    decision = policy.decisions.order_by("-at", "-pk").first()
    assert decision is not None and decision.job == activate
    assert "the destroy of dyn-1 failed" in decision.reason and WHY in decision.reason


def test_a_destroy_that_failed_after_anything_else_turns_nothing_on(host_row):
    """A destroy that followed a failed provision or activate (the policy clearing up) is
    not followed by an activate: that one would fail in turn, and the two alternate."""
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(minutes=2), observed_state=Backend.Observed.READY
    )
    Job.objects.filter(backend=dyn1).update(state=Job.State.FAILED)
    _failed_destroy(dyn1, timedelta(minutes=1))
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)

    dynamic.run_policy(policy)

    assert Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE).count() == 1


def test_every_failed_destroy_counts_whatever_came_between(host_row):
    """The policy's own activate after a failed destroy ends no run of failures: counted in
    a row, the wait never grew past its first (review 185/3)."""
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=3), observed_state=Backend.Observed.READY
    )
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)
    _failed_destroy(dyn1, timedelta(hours=2))
    Job.objects.create(
        kind=Job.Kind.ACTIVATE, host=host_row, backend=dyn1, backend_name=dyn1.name,
        via=Job.Via.SYSTEM, state=Job.State.SUCCEEDED,
        finished_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    _failed_destroy(dyn1, timedelta(seconds=retry_after(1, 60) + 5))

    decision = dynamic.run_policy(policy)

    assert decision.action == Action.NONE, decision.reason
    assert "dyn-1 stays: 2 destroy(s) of it failed" in decision.reason
