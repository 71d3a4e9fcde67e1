"""A round lists the enabled policies, then takes each one's row lock: a policy an admin
turns off meanwhile must not act any more once the round gets it (it used to add a file)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapDecision, DynamicSwapPolicy, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20


def test_it_adds_nothing(host_row):
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes, policy.cooldown_seconds = True, 32 * MiB, 0
    policy.save()
    # No swap at all: an enabled policy would add a file now.
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=0, swap_free=0)
    listed = list(DynamicSwapPolicy.objects.filter(enabled=True))  # what run_all holds
    DynamicSwapPolicy.objects.filter(pk=policy.pk).update(enabled=False)  # the admin, meanwhile
    decision = dynamic.run_policy(listed[0])
    assert decision.action == Action.NONE and decision.held == Held.OFF
    assert not Backend.objects.exists() and not Job.objects.exists()
    assert not DynamicSwapDecision.objects.exists()
