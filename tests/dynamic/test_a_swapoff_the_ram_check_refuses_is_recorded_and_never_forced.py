"""A file the policy wants gone whose swapoff the RAM check refuses (a worker whose margin
no RAM can meet): the refusal is recorded with the worker's reason, the area stays active and
wanted so, and a later round tries the same unforced deactivate again after the cool-down."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backends import kernel
from backends.dynamic import Action, Held
from swapadmin.core import dynamic, services
from swapadmin.core.models import Backend, DynamicSwapDecision, Job
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .conftest import MiB, fresh_sample, make_policy, only_our_swap, round_

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_refusal_is_kept_and_retried_unforced(start_worker, alice):
    # Every swapoff on this worker needs a petabyte of RAM left over: always refused.
    w = start_worker(env={"SWAPADMIN_SWAPOFF_MARGIN_BYTES": str(1 << 50)})
    only_our_swap(w)
    host = w.host
    policy = make_policy(
        host, enabled=True, min_free_bytes=32 * MiB, file_size_bytes=64 * MiB, max_files=1,
        max_total_bytes=64 * MiB, unused_for_seconds=0, cooldown_seconds=0,
    )  # fmt: skip
    # The user's own swap, made now and swapped on at once after dyn-1, at a higher
    # priority: a page the kernel swaps out on its own (kswapd trims anon memory once the
    # page cache fills RAM, as it does late in a long suite) lands there, not in dyn-1, which
    # a single page would keep from ever being unused.
    actor = services.Actor(alice, "api")
    job = services.create_backend(
        host=host, kind="file", name="mine", size_bytes=128 * MiB, actor=actor,
        params={"path": str(w.swap_root / "mine")}, priority=10,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED
    mine = Backend.objects.get(host=host, name="mine")

    # No swap at all (theirs is not on yet): one file is added and activated.
    fresh_sample(host, timezone.now(), w)
    assert round_(policy, w).action == Action.ADD
    round_(policy, w)
    path = str(w.swap_root / "dyn-1")
    assert kernel.is_active(path)

    # The user swaps theirs on: the policy's file is not needed any more.
    assert wait_for_job(services.request_action(mine, "activate", actor), 60).state == "succeeded"
    areas = {a.path: a.priority for a in kernel.swap_areas()}
    assert areas[str(w.swap_root / "mine")] > areas[path], areas

    fresh_sample(host, timezone.now(), w)
    remove = round_(policy, w, timeout=120)  # the worker retries the refusal, then fails it
    assert remove.action == Action.REMOVE and remove.name == "dyn-1", remove.reason
    deactivate = Job.objects.get(host=host, backend_name="dyn-1", kind="deactivate")
    assert deactivate.state == Job.State.FAILED
    assert "SWAPADMIN_SWAPOFF_MARGIN_BYTES" in deactivate.error
    # Asked as a swapoff made to change the store: refused while another name reaches it.
    assert deactivate.params == {"force": False, "to_change": True}
    assert kernel.is_active(path)

    # The next round records the refusal, keeps the area wanted active, and waits.
    make_policy(host, cooldown_seconds=3600)
    fresh_sample(host, timezone.now(), w)
    waiting = dynamic.run_policy(policy)
    assert waiting.action == Action.NONE and waiting.held == Held.COOLDOWN, waiting.reason
    refused = DynamicSwapDecision.objects.get(policy=policy, action="refused")
    assert refused.job_id == deactivate.pk and "SWAPADMIN_SWAPOFF_MARGIN_BYTES" in refused.reason
    row = Backend.objects.get(host=host, name="dyn-1")
    assert row.desired_state == Backend.Desired.ACTIVE and row.dynamic_policy_id == policy.pk
    assert kernel.is_active(path)
    # Recorded once, however many rounds see the same failed job.
    dynamic.run_policy(policy)
    assert DynamicSwapDecision.objects.filter(policy=policy, action="refused").count() == 1

    # After the cool-down it is tried again: the same deactivate, never forced.
    make_policy(host, cooldown_seconds=0)
    again = dynamic.run_policy(policy)
    assert again.action == Action.REMOVE, again.reason
    retry = Job.objects.filter(host=host, backend_name="dyn-1", kind="deactivate").latest(
        "queued_at"
    )
    assert retry.pk != deactivate.pk and retry.params == {"force": False, "to_change": True}
    assert not Job.objects.filter(host=host, params__force=True).exists()
