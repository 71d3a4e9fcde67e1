"""The header is read through the plugin (swap_in(0)): damage done while the area was
inactive, and a label or UUID changed by a mkswap outside swapadmin, are reported."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from backends import PAGE_SIZE
from swapadmin.health.checks import run_backend_check

from .conftest import check_job, findings_by_check

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_an_intact_header_is_ok(make_file_backend):
    backend = make_file_backend(label="intact")
    hdr = findings_by_check(run_backend_check(check_job(backend)))["header"]
    assert hdr["status"] == "ok"
    assert hdr["value"] == {"label": "intact", "uuid": str(backend.swap_uuid), "badpages": 0}


def test_it_reports_a_header_overwritten_while_inactive(make_file_backend):
    backend = make_file_backend()
    # What a stray dd does: the magic at the end of page 0 is gone.
    fd = os.open(backend.params["path"], os.O_WRONLY)
    try:
        os.pwrite(fd, b"\xde\xad" * 5, PAGE_SIZE - 10)
        os.fsync(fd)
    finally:
        os.close(fd)

    result = run_backend_check(check_job(backend))

    hdr = findings_by_check(result)["header"]
    assert hdr["status"] == "fail"
    assert "SWAPSPACE2" in hdr["message"]
    assert result["status"] == "fail"


def test_it_reports_a_label_changed_by_mkswap(make_file_backend):
    backend = make_file_backend(label="mine")
    path = backend.params["path"]
    subprocess.run(
        ["mkswap", "-L", "theirs", "-U", str(backend.swap_uuid), path],
        check=True,
        capture_output=True,
    )
    hdr = findings_by_check(run_backend_check(check_job(backend)))["header"]
    assert hdr["status"] == "fail"
    assert "'theirs'" in hdr["message"] and "'mine'" in hdr["message"]


def test_it_reports_a_uuid_changed_by_mkswap(make_file_backend):
    backend = make_file_backend(label="mine")
    other = uuid.uuid4()
    subprocess.run(
        ["mkswap", "-L", "mine", "-U", str(other), backend.params["path"]],
        check=True,
        capture_output=True,
    )
    hdr = findings_by_check(run_backend_check(check_job(backend)))["header"]
    assert hdr["status"] == "fail"
    assert str(other) in hdr["message"]
