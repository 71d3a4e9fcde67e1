"""A file of the policy whose area cannot be told active or not (observed indeterminate) is
asked nothing, and holds no other step back: its next step (the activate after its
provision) would be refused (services.indeterminate_reason), and the refusal ended the
whole round, every minute, so a shortage never got the file it called for (review 162).
The pure rule (a file that cannot be told is never removed) is in
test_the_decision_adds_removes_and_holds_back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import file_after_step, small_policy

pytestmark = pytest.mark.django_db

WHY = "cannot tell whether the swap file area is active: its path could not be named"


def test_a_shortage_still_adds_while_a_file_cannot_be_told(host_row):
    policy = small_policy(host_row)
    # Its provision succeeded; the activate that follows it is the step it cannot be asked.
    dyn1 = file_after_step(
        policy, Job.Kind.PROVISION, timedelta(seconds=5),
        observed_state=Backend.Observed.INDETERMINATE, observed_error=WHY,
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    assert (decision.action, decision.name) == (Action.ADD, "dyn-2"), decision.reason
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.ACTIVATE).exists()
    dyn1.refresh_from_db()
    assert (dyn1.observed_state, dyn1.desired_state) == ("indeterminate", Backend.Desired.INACTIVE)


def test_a_file_that_may_be_hidden_is_not_destroyed(host_row):
    """A file not found because its filesystem is not mounted (the sampler's or observer's
    ERROR says so) is not "not active, so remove it": its destroy is refused until the
    mount is back, and was asked again every round (review 182/4)."""
    policy = small_policy(host_row)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=2),
        observed_state=Backend.Observed.ERROR,
        observed_error=Backend.HIDDEN_SAID + "/data is where /etc/fstab mounts LABEL=d, but "
        "nothing is mounted there",
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)

    decision = dynamic.run_policy(policy)

    assert decision.action != Action.REMOVE, decision.reason
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()
    # An ERROR of another cause is the policy's to clear up, as before.
    Backend.objects.filter(pk=dyn1.pk).update(observed_error="cannot read the store: EIO")
    decision = dynamic.run_policy(policy)
    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason


def test_a_file_swapped_off_that_may_be_hidden_is_not_destroyed_next(host_row):
    """The step after the policy's swapoff is a destroy: of a file that may be hidden it
    would be refused (review 184/5)."""
    policy = small_policy(host_row)
    dyn1 = file_after_step(
        policy, Job.Kind.DEACTIVATE, timedelta(seconds=5),
        observed_state=Backend.Observed.ERROR, observed_error=Backend.HIDDEN_SAID + "x",
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=1 << 40)

    dynamic.run_policy(policy)

    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()
