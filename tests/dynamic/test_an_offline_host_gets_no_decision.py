"""A host whose latest sample is stale (its worker stopped) gets no decision: no job, no
decision row, whatever its numbers say, and the round says why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import DynamicSwapDecision, Host, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20


def policy_on(host: Host):
    policy = dynamic.policy_for(host)
    policy.enabled = True
    policy.min_free_bytes = 32 * MiB
    policy.file_size_bytes = 64 * MiB
    policy.cooldown_seconds = 0
    policy.save()
    return policy


def sample(host: Host, age: timedelta) -> None:
    # No swap at all: a fresh sample like this one would add a file at once.
    Sample.objects.create(host=host, at=timezone.now() - age, swap_total=0, swap_free=0)


def test_a_stale_sample_decides_nothing(host_row, settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 45
    policy = policy_on(host_row)
    sample(host_row, timedelta(minutes=10))
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.NONE and decision.held == Held.STALE
    assert "not heard from" in decision.reason
    assert not Job.objects.exists() and not DynamicSwapDecision.objects.exists()
    policy.refresh_from_db()
    assert "not heard from" in policy.status


def test_an_offline_host_gets_no_round_at_all(host_row, settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 45
    policy = policy_on(host_row)
    sample(host_row, timedelta(seconds=1))
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    assert dynamic.run_all() == 0
    assert not Job.objects.exists() and not DynamicSwapDecision.objects.exists()
    policy.refresh_from_db()
    assert policy.status == ""


def test_the_same_host_heard_from_again_is_decided_for(host_row, settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 45
    policy_on(host_row)
    sample(host_row, timedelta(seconds=1))
    assert dynamic.run_all() == 1
    job = Job.objects.get()
    assert (job.kind, job.backend_name, job.via) == ("provision", "dyn-1", "system")
