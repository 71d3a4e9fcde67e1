"""The policy decides from a sample that shows the host after its latest step: a sample
taken before a job finished on the host (the activation of the file it just added, a
person's swapoff) still shows the old free swap, and deciding from it added a second file
for the shortage the first had met. Such a round waits for the next sample (the worker
takes one at once), and then decides from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapDecision, Job, Sample

from .conftest import MiB, file_after_step, small_policy

pytestmark = pytest.mark.django_db


def test_it_waits_for_a_sample_after_the_activation(host_row):
    policy = small_policy(host_row)
    # Before the activation: no swap at all.
    Sample.objects.create(host=host_row, at=timezone.now() - timedelta(seconds=10), swap_free=0)
    # The policy's activation of dyn-1 finished after that sample was taken.
    file_after_step(policy, Job.Kind.ACTIVATE, timedelta(seconds=2),
                    observed_state=Backend.Observed.ACTIVE)  # fmt: skip

    waiting = dynamic.run_policy(policy)
    assert waiting.action == Action.NONE and waiting.held == Held.WAITING, waiting.reason
    assert "a sample taken after the activate of dyn-1 finished" in waiting.reason
    assert not Backend.objects.filter(name="dyn-2").exists()
    assert not DynamicSwapDecision.objects.filter(action="add").exists()

    # The next sample shows dyn-1 active and its 64 MiB free: nothing to add.
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=64 * MiB,
                          swap_free=64 * MiB)  # fmt: skip
    calm = dynamic.run_policy(policy)
    assert calm.action == Action.NONE and calm.held == Held.ENOUGH, calm.reason
    assert not Backend.objects.filter(name="dyn-2").exists()


def test_a_sample_after_the_step_still_short_adds(host_row):
    policy = small_policy(host_row)
    file_after_step(policy, Job.Kind.ACTIVATE, timedelta(seconds=5),
                    observed_state=Backend.Observed.ACTIVE, used_bytes=60 * MiB)  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=64 * MiB,
                          swap_free=4 * MiB)  # fmt: skip
    assert dynamic.run_policy(policy).name == "dyn-2"
