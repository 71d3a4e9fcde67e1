"""The two reproductions of the host-safety issue, for every action that writes.

A data file someone else put under the swap root, and an unmounted device holding ext4, are
named in a create request. Provision refuses both, correctly; the backend row stays. Then
benchmark, scan, burn-in, resize and activate (the job auto-repair queues) are each asked
for: the request side answers with the reason (409 in the API), and a job written straight
into the database for each, as a tampered row or a race past the request side would, is
refused by the worker. Not one byte of either store changes (sha256, e2fsck -fn), and no
health check queues a repair.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core import services, signing
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.checks import run_backend_check
from swapadmin.health.models import BackendHealth
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import MiB, data_file, digest, ext4_image, fsck_clean

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: Every action that writes to the store or hands it to the kernel, with valid parameters.
WRITES = {
    Job.Kind.BENCHMARK: {"seconds": 1},
    Job.Kind.SCAN: {"patterns": 1},
    Job.Kind.BURN_IN: {"seconds": 1, "memory_limit_bytes": 16 * MiB, "hog_bytes": 32 * MiB},
    Job.Kind.RESIZE: {"size_bytes": 16 * MiB},
    Job.Kind.ACTIVATE: {},
}


def refused_everywhere(backend: Backend, actor: Actor, worker, unchanged) -> None:
    # A block device cannot be resized: that refusal, by its kind, comes first and is
    # tested apart (control/test_an_action_its_kind_cannot_do_is_never_offered_asked_or_run).
    writes = {k: v for k, v in WRITES.items() if k != Job.Kind.RESIZE or backend.kind != "block"}
    for kind, params in writes.items():
        with pytest.raises(services.NotReady, match="no store proven to be swapadmin's"):
            services.request_action(backend, kind, actor, params)
        assert unchanged(), f"the request for a {kind} changed the store"
        job = Job.objects.create(
            kind=kind, host=backend.host, backend=backend, backend_name=backend.name,
            params=params,
        )  # fmt: skip
        # As if the request side had let it through: the worker's own refusal is the point.
        signing.sign_job(job.pk)
        services.dispatch(job.pk)
        job = wait_for_job(job, 60, worker=worker)
        assert job.state == Job.State.FAILED, (kind, job.log)
        assert "never provisioned" in job.error, (kind, job.error)
        assert unchanged(), f"a {kind} job changed the store"
    refusals = backend.host.auditevent_set.filter(outcome="refused", object_uuid=backend.uuid)
    assert refusals.count() == len(writes)


def no_repair_for(backend: Backend) -> None:
    """Auto-repair would activate it: a check finds it never provisioned and queues nothing."""
    Backend.objects.filter(pk=backend.pk).update(
        auto_repair=True, desired_state=Backend.Desired.ACTIVE
    )
    check = Job.objects.create(
        kind=Job.Kind.CHECK, host=backend.host, backend=backend, backend_name=backend.name,
        state=Job.State.RUNNING,
    )  # fmt: skip
    out = run_backend_check(check)
    assert "repair_job" not in out
    identity = next(f for f in out["findings"] if f["check"] == "identity")
    assert identity["status"] == "warn" and "never provisioned" in identity["message"]
    assert not Job.objects.filter(backend=backend, kind=Job.Kind.ACTIVATE, via="schedule")
    assert BackendHealth.objects.get(backend=backend).repair_attempts == 0


def test_a_data_file_under_the_swap_root(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    path: Path = w.swap_root / "data"
    before = data_file(path)
    job = services.create_backend(
        host=w.host, kind="file", name="data", size_bytes=8 * MiB, actor=actor,
        params={"path": str(path)},
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=w)
    assert job.state == Job.State.FAILED and "did not make it" in job.error, job.error
    backend = Backend.objects.get(pk=job.backend_id)
    assert backend.provisioned_at is None

    refused_everywhere(backend, actor, w, lambda: digest(path) == before)
    no_repair_for(backend)

    # Destroy removes the row and leaves the file exactly as it was.
    gone = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 60, worker=w)
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert not Backend.objects.filter(pk=backend.pk).exists()
    assert digest(path) == before
    assert "left" in gone.log


def test_an_unmounted_device_holding_ext4(start_worker, alice, scratch, loops):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    image = ext4_image(scratch / "disk.img")
    dev = loops(image)
    before = digest(image)
    job = services.create_backend(
        host=w.host, kind="block", name="disk", size_bytes=None, actor=actor,
        params={"device": dev},
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=w)
    assert job.state == Job.State.FAILED and "holds data: ext4" in job.error, job.error
    backend = Backend.objects.get(pk=job.backend_id)
    assert backend.provisioned_at is None

    refused_everywhere(backend, actor, w, lambda: digest(image) == before)
    no_repair_for(backend)
    assert fsck_clean(image)

    gone = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 60, worker=w)
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert digest(image) == before and fsck_clean(image)
