"""Two control-plane workers running the round at the same moment (beat's message
delivered twice): the policy's row lock holds from reading the files to creating the
provision, so the second round sees the first one's file and job and adds nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from backends.dynamic import Action, Decision
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapDecision, Job, Sample

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1 << 20
ROUNDS = 4


def test_only_one_adds(host_row):
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes, policy.file_size_bytes = True, 32 * MiB, 64 * MiB
    policy.max_files, policy.max_total_bytes, policy.cooldown_seconds = 4, 256 * MiB, 0
    policy.save()
    Sample.objects.create(host=host_row, at=timezone.now(), swap_total=0, swap_free=0)
    start = threading.Barrier(ROUNDS)
    results: list[Decision | BaseException] = []

    def one_round() -> None:
        try:
            start.wait(10)
            results.append(dynamic.run_policy(policy))
        except BaseException as e:  # reported below, with the others' results
            results.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_round) for _ in range(ROUNDS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == ROUNDS and all(isinstance(r, Decision) for r in results), results
    assert sorted(r.action for r in results) == [Action.ADD] + [Action.NONE] * (ROUNDS - 1)
    assert list(Backend.objects.values_list("name", flat=True)) == ["dyn-1"]
    assert Job.objects.filter(kind="provision").count() == 1
    assert DynamicSwapDecision.objects.filter(action="add").count() == 1
