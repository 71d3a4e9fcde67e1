"""A person may not name a backend ``dyn-1``, but may put their file at ``<root>/dyn-1``.
The policy named its next file by backend names alone: its dyn-1 then pointed at that very
path, its provision failed on the person's file (never touched, it is not the policy's),
and every later add picked dyn-1 again and failed again, for ever. The policy's name now
skips every file name a backend holds in its swap root."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core import dynamic, services
from swapadmin.core.models import Backend, Job, Sample

pytestmark = pytest.mark.django_db

MiB = 1 << 20


def test_the_next_name_skips_the_persons_path(host_row, swap_root, alice):
    services.create_backend(
        host=host_row, kind="file", name="mine", size_bytes=16 * MiB,
        actor=services.Actor(alice, "api"), params={"path": str(swap_root / "dyn-1")},
    )  # fmt: skip
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes, policy.cooldown_seconds = True, 32 * MiB, 0
    policy.save()
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=0, swap_free=0)
    decision = dynamic.run_policy(policy)
    assert decision.name == "dyn-2", decision.reason
    added = Backend.objects.get(dynamic_policy=policy)
    assert added.params["path"] == str(swap_root / "dyn-2")
    assert Job.objects.filter(kind="provision", backend_name="dyn-2").exists()
