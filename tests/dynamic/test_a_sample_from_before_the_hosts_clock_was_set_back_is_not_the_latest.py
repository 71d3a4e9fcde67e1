"""A sample's time is the host's clock. A host whose clock ran an hour ahead, then was set
right (NTP), leaves samples dated later than every new one: the latest by that date was an
old sample, with an age below zero, never stale, and the policy decided from it for an hour
(here: added a file for a shortage long gone). The latest sample is the one the host's
latest observation wrote; one from its clock's future counts as old as it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Host, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20


def enabled(host: Host):
    policy = dynamic.policy_for(host)
    policy.enabled, policy.min_free_bytes, policy.cooldown_seconds = True, 32 * MiB, 0
    policy.save()
    return policy


def test_the_sample_dated_in_the_future_is_not_the_latest(host_row):
    policy = enabled(host_row)
    now = timezone.now()
    # Written ten minutes ago, when the host's clock was an hour ahead: no free swap then.
    Sample.objects.create(host=host_row, at=now + timedelta(minutes=50), swap_free=0)
    # Its clock set right, the host now has plenty (the sampler writes both in one go).
    latest = Sample.objects.create(
        host=host_row, at=now - timedelta(seconds=1), swap_total=1 << 30, swap_free=1 << 30
    )
    Host.objects.filter(pk=host_row.pk).update(observed_at=latest.at, last_heartbeat=now)
    assert dynamic.run_all() == 0
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.NONE and decision.held == Held.ENOUGH, decision.reason
    assert not Backend.objects.exists() and not Job.objects.exists()


def test_a_host_clock_ahead_does_not_make_an_old_sample_fresh(host_row, settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 45
    policy = enabled(host_row)
    now = timezone.now()
    # The host's clock is an hour ahead; its latest sample was taken ten minutes ago.
    taken = now + timedelta(hours=1) - timedelta(minutes=10)
    Sample.objects.create(host=host_row, at=taken, swap_free=0)
    Host.objects.filter(pk=host_row.pk).update(
        observed_at=taken, last_heartbeat=now - timedelta(minutes=10)
    )
    decision = dynamic.run_policy(policy)
    assert decision.action == Action.NONE and decision.held == Held.STALE, decision.reason
    assert not Job.objects.exists()
