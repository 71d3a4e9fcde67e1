"""fstab lines written as UUID=... and LABEL=... (in the worker's own fstab, never
/etc/fstab) name loop devices the test attached over files outside the swap roots: a real
discover job resolves them as findfs does and adopts them, keeping the sysadmin's lines
byte for byte; a tag that names nothing is skipped with the reason."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def swap_loops(scratch: Path) -> Iterator[list[tuple[str, str, str]]]:
    """Two loop devices over swap-formatted files outside the swap root, as
    (device, uuid, label); detached whatever happens."""
    where = scratch / "disks"
    where.mkdir(mode=0o700)
    made: list[tuple[str, str, str]] = []
    try:
        for i in range(2):
            img = where / f"disk{i}.img"
            with open(img, "wb") as f:
                f.truncate(16 << 20)
            img.chmod(0o600)
            dev = subprocess.run(
                ["losetup", "--find", "--show", str(img)],
                check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            swap_uuid, label = str(uuid.uuid4()), f"adopt-{uuid.uuid4().hex[:8]}"
            made.append((dev, swap_uuid, label))
            subprocess.run(["mkswap", "-q", "-U", swap_uuid, "-L", label, dev], check=True)
        yield made
    finally:
        for dev, _, _ in made:
            subprocess.run(["swapoff", dev], check=False, capture_output=True)
            subprocess.run(["losetup", "-d", dev], check=False, capture_output=True)


def test_uuid_and_label_lines_are_resolved_and_adopted(worker, alice, swap_loops):
    (by_uuid, the_uuid, _), (by_label, _, the_label) = swap_loops
    nowhere = f"UUID={uuid.uuid4()}"
    lines = (
        f"UUID={the_uuid} none swap sw 0 0\n"
        f'LABEL="{the_label}" none swap sw,pri=3 0 0\n'
        f"{nowhere} none swap sw,nofail 0 0\n"
    )
    with worker.fstab.open("a") as f:
        f.write(lines)
    fstab_before = worker.fstab.read_bytes()

    specs = [f"UUID={the_uuid}", f'LABEL="{the_label}"', nowhere]
    job = services.request_host_job(
        worker.host, Job.Kind.DISCOVER, Actor(alice, Job.Via.API), {"paths": specs}
    )
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error

    adopted = {a["fstab_spec"]: a for a in job.result["adopted"]}
    assert set(adopted) == {f"UUID={the_uuid}", f'LABEL="{the_label}"'}, job.result
    assert adopted[f"UUID={the_uuid}"]["path"] == by_uuid
    assert adopted[f'LABEL="{the_label}"']["path"] == by_label
    [skipped] = job.result["skipped"]
    assert (
        skipped["path"] == nowhere
        and "no block device on this host has UUID" in (skipped["reason"])
    )

    for dev, spec in ((by_uuid, f"UUID={the_uuid}"), (by_label, f'LABEL="{the_label}"')):
        b = Backend.objects.get(host=worker.host, uuid=adopted[spec]["uuid"])
        assert (b.kind, b.adopted, b.persist) == ("loop", True, True)
        assert b.state["device"] == dev and b.state["fstab_spec"] == spec
        assert b.observed_state == "ready"
    assert worker.fstab.read_bytes() == fstab_before
