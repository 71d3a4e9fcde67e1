"""A file swapadmin did not make already sits at ``<root>/dyn-1`` (made by hand, left from
another tool). The policy's dyn-1 fails its provision on it and the destroy that follows
keeps it, byte for byte: it is not the policy's. The policy used to pick dyn-1 again at
every later try and fail again for ever; the next try now takes dyn-2, which works."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from backends.dynamic import Action
from swapadmin.core.models import Backend, DynamicSwapDecision, Job
from tests.fixtures.host import needs_root

from .conftest import MiB, fresh_sample, make_policy, round_

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THEIRS = b"someone's data, not swap\n" * 1000


def test_the_next_try_takes_another_name(worker):
    host = worker.host
    theirs = worker.swap_root / "dyn-1"
    theirs.write_bytes(THEIRS)
    policy = make_policy(
        host, enabled=True, min_free_bytes=1 << 40, file_size_bytes=16 * MiB, max_files=2,
        max_total_bytes=32 * MiB, unused_for_seconds=3600, cooldown_seconds=0,
    )  # fmt: skip
    fresh_sample(host, timezone.now(), worker)
    assert round_(policy, worker).name == "dyn-1"
    provision = Job.objects.get(host=host, kind="provision", backend_name="dyn-1")
    assert provision.state == Job.State.FAILED and "swapadmin did not make it" in provision.error
    fresh_sample(host, timezone.now(), worker)
    round_(policy, worker)  # the destroy of what the failed provision left
    assert not Backend.objects.filter(host=host).exists()
    assert theirs.read_bytes() == THEIRS

    DynamicSwapDecision.objects.filter(policy=policy).update(at=F("at") - timedelta(seconds=121))
    fresh_sample(host, timezone.now(), worker)
    again = round_(policy, worker)
    assert again.action == Action.ADD and again.name == "dyn-2", again.reason
    made = Job.objects.get(host=host, kind="provision", backend_name="dyn-2")
    assert made.state == Job.State.SUCCEEDED, made.error
    assert theirs.read_bytes() == THEIRS
    # Leave no area behind: the policy's file is provisioned, never activated; remove it.
    policy.enabled = False
    policy.save()
    (worker.swap_root / "dyn-2").unlink()
