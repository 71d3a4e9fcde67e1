"""A policy whose files cannot be made (here, for real: its swap root is a 32 MB ext4 that
no 64 MiB file fits in) used to try again at every round once the cool-down passed, for
ever: a file created and destroyed, jobs and audit rows, every two minutes. After a failed
add it now waits, twice as long after each further failure (up to an hour), says why, and
leaves nothing on the disk; removing an unused file is still allowed meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from backends.dynamic import (
    MAX_RETRY_SECONDS,
    Action,
    Held,
    Reading,
    Rules,
    Situation,
    decide,
    retry_after,
)
from swapadmin.core.models import Backend, DynamicSwapDecision, Job
from tests.fixtures.host import mounted_image, needs_root

from .conftest import MiB, fresh_sample, make_policy, round_

RULES = Rules(
    min_free_bytes=32 * MiB, psi_some_above=None, file_size_bytes=64 * MiB, max_files=4,
    max_total_bytes=256 * MiB, unused_for_seconds=0, cooldown_seconds=0,
)  # fmt: skip


def test_the_wait_doubles_up_to_an_hour():
    assert retry_after(0, 0) == 0
    assert [retry_after(n, 0) for n in (1, 2, 3)] == [120, 240, 480]
    assert retry_after(2, 300) == 1200
    assert retry_after(50, 0) == MAX_RETRY_SECONDS


def test_held_adds_hold_no_removal():
    held = Situation(adds_held="the latest 1 add(s) failed (disk full): trying again in 90 s")
    short = decide(RULES, Reading(0, 0, 0.0, 1), [], held)
    assert short.action == Action.NONE and short.held == Held.COOLDOWN
    assert "disk full" in short.reason and "is below 32 MiB" in short.reason


@needs_root
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_full_disk_is_not_tried_every_round(start_worker, scratch):
    with mounted_image(scratch, "ext4", size_mb=32) as mnt:
        root = mnt / "swap"
        root.mkdir(mode=0o700)
        w = start_worker(swap_root=root)
        host = w.host
        # Never enough free swap: every round would add if it could.
        policy = make_policy(
            host, enabled=True, min_free_bytes=1 << 40, file_size_bytes=64 * MiB, max_files=4,
            max_total_bytes=256 * MiB, unused_for_seconds=3600, cooldown_seconds=0,
        )  # fmt: skip
        fresh_sample(host, timezone.now(), w)
        first = round_(policy, w)
        assert first.action == Action.ADD and first.name == "dyn-1", first.reason
        provision = Job.objects.get(host=host, kind="provision")
        assert provision.state == Job.State.FAILED
        assert "not enough free space" in provision.error

        fresh_sample(host, timezone.now(), w)
        cleanup = round_(policy, w)  # what the failed provision left is destroyed
        assert cleanup.held == Held.WAITING, cleanup.reason
        assert not Backend.objects.filter(host=host).exists()

        fresh_sample(host, timezone.now(), w)
        held = round_(policy, w)
        assert held.action == Action.NONE and held.held == Held.COOLDOWN, held.reason
        assert "the latest 1 add(s) failed" in held.reason
        assert "not enough free space" in held.reason
        assert Job.objects.filter(host=host, kind="provision").count() == 1
        assert list(root.iterdir()) == []

        # Once its wait has passed (the decisions moved two minutes back), it tries again.
        DynamicSwapDecision.objects.filter(policy=policy).update(
            at=F("at") - timedelta(seconds=121)
        )
        fresh_sample(host, timezone.now(), w)
        again = round_(policy, w)
        assert again.action == Action.ADD, again.reason
        fresh_sample(host, timezone.now(), w)
        round_(policy, w)  # its cleanup
        # Two failures in a row: now four minutes.
        DynamicSwapDecision.objects.filter(policy=policy).update(
            at=F("at") - timedelta(seconds=121)
        )
        fresh_sample(host, timezone.now(), w)
        longer = round_(policy, w)
        assert longer.held == Held.COOLDOWN and "the latest 2 add(s) failed" in longer.reason
        assert Job.objects.filter(host=host, kind="provision").count() == 2
        assert list(root.iterdir()) == []
        w.stop(grace=2.0)
