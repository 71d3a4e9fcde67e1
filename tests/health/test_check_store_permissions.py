"""The swap file exists, belongs to root and is 0600: anyone who can read swap reads the
memory of every process that was swapped out."""

from __future__ import annotations

import os

import pytest

from swapadmin.health.checks import run_backend_check

from .conftest import check_job, findings_by_check

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_a_root_owned_0600_file_is_ok(make_file_backend):
    backend = make_file_backend()
    store = findings_by_check(run_backend_check(check_job(backend)))["store"]
    assert store["status"] == "ok"
    assert store["value"] == {"path": backend.params["path"], "uid": 0, "mode": "0600"}


def test_a_world_readable_file_fails(make_file_backend):
    backend = make_file_backend()
    os.chmod(backend.params["path"], 0o644)
    store = findings_by_check(run_backend_check(check_job(backend)))["store"]
    assert store["status"] == "fail"
    assert "mode 0644" in store["message"]
    assert "chmod 600" in store["message"]


def test_a_file_owned_by_another_user_fails(make_file_backend):
    backend = make_file_backend()
    os.chown(backend.params["path"], 1000, 0)
    store = findings_by_check(run_backend_check(check_job(backend)))["store"]
    assert store["status"] == "fail"
    assert "uid 1000" in store["message"]


def test_a_missing_file_fails(make_file_backend):
    backend = make_file_backend()
    os.unlink(backend.params["path"])
    result = run_backend_check(check_job(backend))
    store = findings_by_check(result)["store"]
    assert store["status"] == "fail"
    assert "does not exist" in store["message"]
    assert "header" not in findings_by_check(result)  # nothing to read: one finding, not two


def test_free_space_on_the_files_filesystem_is_measured(make_file_backend, settings):
    backend = make_file_backend()
    vfs = os.statvfs(os.path.dirname(backend.params["path"]))
    free = vfs.f_bavail / vfs.f_blocks
    settings.SWAPADMIN_HEALTH_FS_FREE_WARN = free + 0.01
    settings.SWAPADMIN_HEALTH_FS_FREE_FAIL = 0.0
    finding = findings_by_check(run_backend_check(check_job(backend)))["free_space"]
    assert finding["status"] == "warn"
    assert abs(finding["value"]["free_fraction"] - free) < 0.01

    settings.SWAPADMIN_HEALTH_FS_FREE_WARN = free / 2
    finding = findings_by_check(run_backend_check(check_job(backend)))["free_space"]
    assert finding["status"] == "ok"
