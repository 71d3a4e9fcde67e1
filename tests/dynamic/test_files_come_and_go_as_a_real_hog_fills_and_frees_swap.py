"""A policy "keep 32 MiB free swap, add 64 MiB files, at most 2" on a real worker, with a
memory hog in a small memory cgroup really filling swap: files are added and activated as
free swap drops below the threshold, the limit holds, and once the hog is gone and the
unused window (0 s here) has passed, they are swapped off and deleted, one at a time."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from backends import kernel
from backends.dynamic import Action, Held, stray_bytes
from swapadmin.core import services
from swapadmin.core.models import AuditEvent, Backend, DynamicSwapDecision, Job
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .conftest import MiB, fresh_sample, make_policy, only_our_swap, round_, wait

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THRESHOLD = 32 * MiB
#: Hogs of 24 MiB in cgroups of 12 MiB push about 12 to 20 MiB each into swap: steps small
#: enough to land below the threshold without filling swap, and the RAM they hold (12 MiB
#: each, at most MAX_HOGS of them) is nothing to the machine.
HOG_SIZE, HOG_LIMIT, MAX_HOGS = 24 * MiB, 12 * MiB, 24


def test_files_are_added_up_to_the_limit_and_removed_when_unused(worker, alice, memory_hog):
    only_our_swap(worker)
    host = worker.host
    actor = services.Actor(alice, "api")
    # The user's own 96 MiB area: the swap the hog fills first, and enough for the policy's
    # files to go once the hog is gone (the last one leaves 96 MiB free, 64 MiB above the
    # threshold plus half a file). At a higher priority than the policy's files, so that
    # what the kernel swaps out after the hog is gone (kswapd, late in a long suite) lands
    # here rather than in a file the policy is about to remove: dyn-1 once stayed so.
    base = wait_for_job(
        services.create_backend(
            host=host, kind="file", name="base", size_bytes=96 * MiB, actor=actor,
            params={"path": str(worker.swap_root / "base")}, priority=20,
        ),
        60, worker=worker,
    )  # fmt: skip
    assert base.state == Job.State.SUCCEEDED, base.error
    base_row = Backend.objects.get(host=host, name="base")
    assert wait_for_job(services.request_action(base_row, "activate", actor), 60).state == (
        Job.State.SUCCEEDED
    )
    policy = make_policy(
        host, enabled=True, min_free_bytes=THRESHOLD, file_size_bytes=64 * MiB, max_files=2,
        max_total_bytes=128 * MiB, unused_for_seconds=3600, cooldown_seconds=0, priority=10,
    )  # fmt: skip

    fresh_sample(host, timezone.now(), worker)
    calm = round_(policy, worker)
    assert calm.action == Action.NONE and calm.held == Held.ENOUGH, calm.reason

    hogs: list = []
    started = 0

    def fill_below_threshold() -> None:
        nonlocal started
        while kernel.meminfo().swap_free >= THRESHOLD:
            assert started < MAX_HOGS, "the hogs did not bring free swap down"
            started += 1
            try:
                hogs.append(memory_hog(HOG_SIZE, HOG_LIMIT))
            except AssertionError:
                # Killed in its cgroup before it was ready (an area another run had taken
                # its pages and then swapped off): its pages are gone with it; try another.
                continue
        since = timezone.now()
        wait(
            lambda: fresh_sample(host, since, worker).swap_free < THRESHOLD,
            20, "a sample with free swap below the threshold", worker,
        )  # fmt: skip

    for n in (1, 2):
        fill_below_threshold()
        added = round_(policy, worker)
        assert added.action == Action.ADD and added.name == f"dyn-{n}", added.reason
        assert "is below 32 MiB" in added.reason
        path = worker.swap_root / f"dyn-{n}"
        row = Backend.objects.get(host=host, name=f"dyn-{n}")
        assert row.dynamic_policy_id == policy.pk and row.provisioned_at is not None
        activated = round_(policy, worker)
        assert activated.held == Held.WAITING  # the activation was this round's step
        area = kernel.find_area(str(path))
        assert area is not None and area.priority == 10, f"dyn-{n} is not active"
        assert os.stat(path).st_size == 64 * MiB

    # Below the threshold again, at the limit: nothing more is added, and it says why.
    fill_below_threshold()
    held = round_(policy, worker)
    assert held.action == Action.NONE and held.held == Held.LIMIT, held.reason
    assert "limit of 2 file(s)" in held.reason
    assert sorted(policy.files.values_list("name", flat=True)) == ["dyn-1", "dyn-2"]
    assert not (worker.swap_root / "dyn-3").exists()
    assert DynamicSwapDecision.objects.filter(policy=policy, action="none").count() == 1

    # The hog gone, its pages leave swap; with the unused window at 0 s the files may go. A
    # few pages may stay (CI saw it late in a suite): a swap-cache copy the kernel could not
    # free as the hog died, or a page kswapd moved there. The policy counts those as unused.
    for hog in hogs:
        hog.stop()

    def held() -> dict[str, int]:
        return dict(policy.files.values_list("name", "used_bytes"))

    wait(
        lambda: all(used <= stray_bytes(64 * MiB) for used in held().values()),
        20, "the policy's files to hold no more than stray pages", worker,
        also=held,
    )  # fmt: skip
    make_policy(host, unused_for_seconds=0)
    removed, reasons = [], []
    for _ in range(8):
        fresh_sample(host, timezone.now(), worker)
        d = round_(policy, worker)
        reasons.append(d.reason)
        if d.action == Action.REMOVE:
            removed.append(d.name)
        if not policy.files.exists():
            break
    # The newest first. Every round's reason in full when not (seen once: dyn-1 stayed).
    areas = {a.path: a.used_bytes for a in kernel.swap_areas()}
    assert removed == ["dyn-2", "dyn-1"], "\n".join([*reasons, f"files: {held()}, {areas}"])
    for n in (1, 2):
        assert not kernel.is_active(str(worker.swap_root / f"dyn-{n}"))
        assert not (worker.swap_root / f"dyn-{n}").exists()
    assert kernel.is_active(str(worker.swap_root / "base"))  # the user's is never touched

    # Settled: the next round neither adds nor removes (no alternation).
    fresh_sample(host, timezone.now(), worker)
    assert round_(policy, worker).action == Action.NONE

    actions = list(
        DynamicSwapDecision.objects.filter(policy=policy)
        .order_by("at", "pk")
        .values_list("action", "backend_name")
    )
    assert actions == [
        ("add", "dyn-1"), ("activate", "dyn-1"), ("add", "dyn-2"), ("activate", "dyn-2"),
        ("none", ""), ("remove", "dyn-2"), ("destroy", "dyn-2"), ("remove", "dyn-1"),
        ("destroy", "dyn-1"),
    ]  # fmt: skip
    # The same jobs as any backend's: signed, by the system, audited, never forced.
    jobs = Job.objects.filter(host=host, backend_name__startswith="dyn-").order_by("queued_at")
    assert [(j.backend_name, j.kind) for j in jobs] == [
        ("dyn-1", "provision"), ("dyn-1", "activate"), ("dyn-2", "provision"),
        ("dyn-2", "activate"), ("dyn-2", "deactivate"), ("dyn-2", "destroy"),
        ("dyn-1", "deactivate"), ("dyn-1", "destroy"),
    ]  # fmt: skip
    for j in jobs:
        assert j.state == Job.State.SUCCEEDED, (j.kind, j.error)
        assert j.via == Job.Via.SYSTEM and j.requested_by is None
        assert j.signed_spec and j.signature and not j.params.get("force")
    audited = AuditEvent.objects.filter(host=host, actor_name="system", via="system")
    assert audited.filter(action="create", object_repr__endswith="/dyn-1").exists()
    assert audited.filter(action="deactivate", object_repr__endswith="/dyn-2").exists()
