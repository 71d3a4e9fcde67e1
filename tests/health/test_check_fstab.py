"""A persisted area keeps its fstab line (the test's own fstab, SWAPADMIN_FSTAB), and one
that is not persisted has none; either drift is repaired with a persist job."""

from __future__ import annotations

import pytest

from backends import fstab
from swapadmin.core.models import Job
from swapadmin.health.checks import run_backend_check

from .conftest import check_job, findings_by_check

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def fstab_file(scratch, settings):
    path = scratch / "fstab"
    path.write_text("# test fstab\nUUID=1234-5678 / ext4 defaults 0 1\n")
    settings.SWAPADMIN_FSTAB = path
    return path


def test_a_persisted_area_with_its_line_is_ok(make_file_backend, fstab_file):
    backend = make_file_backend(persist=True)
    fstab.ensure_entry(fstab_file, backend.params["path"], priority=10, discard=None)
    finding = findings_by_check(run_backend_check(check_job(backend)))["fstab"]
    assert finding["status"] == "ok"
    assert finding["value"]["lines"] == [3]


def test_a_line_naming_the_area_by_uuid_counts(make_file_backend, fstab_file):
    backend = make_file_backend(persist=True)
    with fstab_file.open("a") as f:
        f.write(f"UUID={backend.swap_uuid} none swap sw 0 0\n")
    assert findings_by_check(run_backend_check(check_job(backend)))["fstab"]["status"] == "ok"


def test_a_missing_line_is_drift_repaired_with_persist(make_file_backend, fstab_file):
    backend = make_file_backend(persist=True, auto_repair=True)
    result = run_backend_check(check_job(backend))
    finding = findings_by_check(result)["fstab"]
    assert (finding["status"], finding["value"]["repair"]) == ("warn", "persist")
    job = Job.objects.get(uuid=result["repair_job"])
    assert (job.kind, job.params) == ("persist", {"persist": True})


def test_a_line_for_an_area_not_persisted_is_reported(make_file_backend, fstab_file):
    backend = make_file_backend(persist=False)
    with fstab_file.open("a") as f:
        f.write(f"{backend.params['path']} none swap sw 0 0\n")
    finding = findings_by_check(run_backend_check(check_job(backend)))["fstab"]
    assert finding["status"] == "warn"
    assert "not meant to persist" in finding["message"]


def test_an_unpersisted_area_without_a_line_says_nothing(make_file_backend, fstab_file):
    backend = make_file_backend(persist=False)
    assert "fstab" not in findings_by_check(run_backend_check(check_job(backend)))
