"""A file the policy added stays the policy's only until a person asks a job on it (page
or API): from then it is theirs, the policy neither counts it against its limit nor
removes it, and its history says so."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backends.dynamic import Action
from swapadmin.core import dynamic, services
from swapadmin.core.models import Backend, DynamicSwapDecision, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20


def test_a_persons_job_releases_it(host_row, alice):
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes, policy.file_size_bytes = True, 32 * MiB, 64 * MiB
    policy.max_files, policy.max_total_bytes, policy.cooldown_seconds = 1, 64 * MiB, 0
    policy.unused_for_seconds = 0
    policy.save()
    file = Backend.objects.create(
        host=host_row, kind="file", name="dyn-1", params={"path": "/nowhere/dyn-1"},
        size_bytes=64 * MiB, dynamic_policy=policy, provisioned_at=timezone.now(),
        observed_state=Backend.Observed.ACTIVE,
    )  # fmt: skip
    # Someone looking at it changes nothing: a check, and a change the role refused.
    bob = services.Actor(alice, "page")
    services.audit(bob, "check", file, "queued")
    services.audit(bob, "destroy", file, "refused")
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=1 << 30, swap_free=0)
    dynamic.run_policy(policy)
    file.refresh_from_db()
    assert file.dynamic_policy_id == policy.pk
    # alice turned auto-repair on through the API (saved at once, without a job).
    services.audit(services.Actor(alice, "api"), "edit", file, "ok", {"auto_repair": True})
    # Plenty of free swap and the file unused: were it still the policy's, it would go.
    Job.objects.filter(via="system").delete()
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=1 << 30,
                          swap_free=1 << 30)  # fmt: skip
    decision = dynamic.run_policy(policy)
    file.refresh_from_db()
    assert file.dynamic_policy is None
    released = DynamicSwapDecision.objects.get(action="released")
    assert released.backend_name == "dyn-1" and "alice asked edit of dyn-1" in released.reason
    assert decision.action == Action.NONE  # nothing of the policy's is left to remove
    assert not Job.objects.filter(via="system").exists()
    # And it no longer counts: short of swap, the policy adds its own again.
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=1 << 30, swap_free=0)
    assert dynamic.run_policy(policy).name == "dyn-2"
