"""Editing a file backend's label through a real worker: on an inactive area only the 16
label bytes of page 0 change (the UUID, version, last page and the rest of the page are
byte for byte the same); on an active area the worker refuses and writes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.db import transaction

from backends import header, kernel
from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
LABEL_AT = 1024 + 12 + 16  # bootbits, version/last_page/nr_badpages, uuid


def page0(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(PAGE)


def provisioned(worker: WorkerProcess, actor: Actor, name: str, label: str) -> Backend:
    job = services.create_backend(
        host=worker.host, kind="file", name=name, size_bytes=16 * MiB, actor=actor,
        params={"path": str(worker.swap_root / name)}, label=label,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    return Backend.objects.get(pk=job.backend_id)


def test_the_label_bytes_change_and_nothing_else(worker: WorkerProcess, alice) -> None:
    actor = Actor(alice, Job.Via.API)
    backend = provisioned(worker, actor, "lbl0", "before")
    path = worker.swap_root / "lbl0"
    raw_before = page0(path)
    hdr_before = header.parse_header(raw_before, PAGE)
    assert hdr_before.label == "before"

    done = edits.edit_backend(backend, actor, {"label": "after-16-bytes!!"})
    assert done.job is not None and done.job.kind == Job.Kind.EDIT
    job = wait_for_job(done.job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log

    raw_after = page0(path)
    hdr_after = header.parse_header(raw_after, PAGE)
    assert hdr_after.label == "after-16-bytes!!"
    assert (hdr_after.uuid, hdr_after.version, hdr_after.last_page, hdr_after.badpages) == (
        hdr_before.uuid,
        hdr_before.version,
        hdr_before.last_page,
        hdr_before.badpages,
    )
    assert raw_after[:LABEL_AT] == raw_before[:LABEL_AT]
    assert raw_after[LABEL_AT + 16 :] == raw_before[LABEL_AT + 16 :]
    assert raw_after[LABEL_AT : LABEL_AT + 16] == b"after-16-bytes!!"
    # util-linux reads the new label too.
    assert path.stat().st_size == 16 * MiB
    blkid = subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", "LABEL", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert blkid.stdout.strip() == "after-16-bytes!!"
    backend.refresh_from_db()
    assert backend.label == "after-16-bytes!!" and backend.header["label"] == "after-16-bytes!!"
    assert str(backend.swap_uuid) == str(hdr_before.uuid)

    # A shorter label clears the bytes the longer one used.
    job = wait_for_job(edits.edit_backend(backend, actor, {"label": "s"}).job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    assert page0(path)[LABEL_AT : LABEL_AT + 16] == b"s" + bytes(15)

    # And the area still swaps: the kernel accepts the rewritten header.
    job = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    assert kernel.find_area(str(path)) is not None
    job = wait_for_job(services.request_action(backend, "deactivate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log


def test_the_worker_refuses_a_label_on_an_active_area_and_writes_nothing(
    worker: WorkerProcess, alice
) -> None:
    actor = Actor(alice, Job.Via.API)
    backend = provisioned(worker, actor, "lbl1", "kept")
    path = worker.swap_root / "lbl1"
    job = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    try:
        before = page0(path)
        backend.refresh_from_db()
        assert backend.observed_state == Backend.Observed.ACTIVE
        # The request side refuses first (409 in the API)...
        with pytest.raises(services.NotReady, match="Deactivate it first"):
            edits.edit_backend(backend, actor, {"label": "changed"})
        assert not Job.objects.filter(backend=backend, kind=Job.Kind.EDIT).exists()
        # ...and a signed edit job that reaches the worker anyway (asked while the row still
        # said inactive, the area activated by hand since) is refused there, before a byte
        # is written.
        with transaction.atomic():
            job = services._new_job(
                backend.host, Job.Kind.EDIT, actor, backend=backend, params={"label": "changed"}
            )
        job = wait_for_job(job, 60, worker=worker)
        assert job.state == Job.State.FAILED
        assert "active in /proc/swaps" in job.error and "Nothing was written" in job.error
        assert page0(path) == before
        assert kernel.find_area(str(path)) is not None
        backend.refresh_from_db()
        assert backend.label == "kept"
    finally:
        job = wait_for_job(services.request_action(backend, "deactivate", actor), 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.log
