"""A backend adopted before its record said so (``Backend.adopted``, but no ``adopted`` in
``state["store"]``): the loop kind took the device it was given for one it should have
attached itself, and refused every job on it as "did not attach it" (246/4). The upgrade's
data migration marks the record, and the same job then goes through; a record that says so
already, or none, is left as it is."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from backends import kernel
from swapadmin.core import signing
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, backend_on, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

migration = importlib.import_module("swapadmin.core.migrations.0015_adopted_records_say_so")


def run_migration() -> None:
    """The data migration's function with the models as they are at that migration."""
    state = MigrationLoader(connection).project_state(("core", "0014_backend_reread_generation"))
    with connection.schema_editor() as editor:
        migration.mark_adopted_records(state.apps, editor)


def _adopted_loop(host_row, device: str) -> Backend:
    with open(settings.SWAPADMIN_FSTAB, "a") as f:
        f.write(f"{device} none swap sw 0 0\n")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, params={"paths": [device]})
    signing.sign_job(job.pk)
    job = run(job)
    assert job.state == Job.State.SUCCEEDED, job.error
    return Backend.objects.get(host=host_row, kind="loop", adopted=True)


def test_an_adopted_loop_device_is_deactivated_once_its_record_is_marked(
    host_row, swap_root: Path
) -> None:
    path = swap_root / "theirs"
    path.write_bytes(bytes(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)
    with attached(path) as theirs:
        subprocess.run(["swapon", theirs], check=True)
        try:
            backend = _adopted_loop(host_row, theirs)
            record = {k: v for k, v in backend.state["store"].items() if k != "adopted"}
            Backend.objects.filter(pk=backend.pk).update(state={**backend.state, "store": record})

            refused = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DEACTIVATE))
            assert refused.state == Job.State.FAILED, refused.log
            assert "did not attach it" in refused.error, refused.error
            assert kernel.is_active(theirs)

            run_migration()

            marked = Backend.objects.get(pk=backend.pk)
            assert marked.state["store"] == {**record, "adopted": True}
            off = run(job_for(marked, Job.Kind.DEACTIVATE))
            assert off.state == Job.State.SUCCEEDED, off.log
            assert not kernel.is_active(theirs)
        finally:
            subprocess.run(["swapoff", theirs], check=False, capture_output=True)


def test_records_that_say_so_or_none_are_left_as_they_are(host_row, swap_root: Path) -> None:
    made = backend_on(host_row, swap_root / "made", state={"store": {"key": "file:1:2"}})
    bare = backend_on(host_row, swap_root / "bare", adopted=True, state={})
    said = backend_on(
        host_row, swap_root / "said", adopted=True, state={"store": {"adopted": True, "x": 1}}
    )
    old = backend_on(host_row, swap_root / "old", adopted=True, state={"store": {"x": 2}})
    before = {b.pk: b.state for b in (made, bare, said)}

    run_migration()

    assert {b.pk: b.state for b in Backend.objects.filter(pk__in=before)} == before
    assert Backend.objects.get(pk=old.pk).state == {"store": {"x": 2, "adopted": True}}
