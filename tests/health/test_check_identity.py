"""The identity finding: the store at a backend's path is the one its provision took and
formatted (a file's mark names the backend, page 0 holds the swap UUID it wrote). A file
replaced at the path fails it, and drift is then reported but never repaired: activating
would hand someone else's file to the kernel. A backend whose provision never completed
has no store proven to be swapadmin's, which is a warning, and is not repaired either."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from backends.plugins.file import MARK_NAME
from swapadmin.core.models import Backend, Job
from swapadmin.health.checks import run_backend_check
from swapadmin.health.models import BackendHealth

from .conftest import MiB, check_job, findings_by_check

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_the_file_its_provision_made_is_its_own(make_file_backend):
    backend = make_file_backend()
    assert os.getxattr(backend.params["path"], MARK_NAME) == (
        f"swapadmin:made:{backend.uuid}".encode()
    )
    result = run_backend_check(check_job(backend))
    identity = findings_by_check(result)["identity"]
    assert identity["status"] == "ok"
    assert result["status"] == "ok"


def test_a_file_replaced_at_the_path_fails_and_is_not_repaired(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    path = backend.params["path"]
    # Someone else's swap file, of the same size and with the same swap UUID, now at the
    # path: only the mark can tell.
    os.unlink(path)
    subprocess.run(["fallocate", "-l", str(32 * MiB), path], check=True)
    os.chmod(path, 0o600)
    subprocess.run(
        ["mkswap", "-q", "-U", str(backend.swap_uuid), path], check=True, capture_output=True
    )
    with open(path, "rb") as f:
        content = f.read()

    result = run_backend_check(check_job(backend))

    found = findings_by_check(result)
    assert found["identity"]["status"] == "fail"
    assert found["identity"]["message"] == (
        f"the file now at {path} is not this backend's: it carries no swapadmin mark, not "
        "this backend's mark (it was replaced, or belongs to someone else). Nothing was "
        "written."
    )
    assert found["identity"]["value"] == {"path": path}
    assert result["status"] == "fail"
    # The drift is reported, with no repair: activating would swap on someone else's file.
    assert found["drift"]["status"] == "fail"
    assert "repair" not in found["drift"]["value"]
    assert "repair_job" not in result
    assert not Job.objects.filter(backend=backend).exclude(kind="check").exists()
    assert BackendHealth.objects.get(backend=backend).repair_attempts == 0
    with open(path, "rb") as f:
        assert f.read() == content
    with pytest.raises(OSError):
        os.getxattr(path, MARK_NAME)


def test_a_backend_never_provisioned_warns_and_is_not_repaired(host_row, swap_root):
    # A row as create_backend leaves it when its provision never ran (or failed), with a
    # swap area someone else made at its path.
    path = swap_root / "pending"
    subprocess.run(["fallocate", "-l", str(16 * MiB), str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)
    backend = Backend.objects.create(
        host=host_row, kind="file", name="pending", params={"path": str(path)},
        size_bytes=16 * MiB, swap_uuid=uuid.uuid4(), auto_repair=True,
        desired_state=Backend.Desired.ACTIVE,
    )  # fmt: skip

    result = run_backend_check(check_job(backend))

    found = findings_by_check(result)
    assert found["identity"]["status"] == "warn"
    assert found["identity"]["message"] == (
        "pending was never provisioned: its store is not proven to be swapadmin's, so "
        "nothing is written to it. Provision it again (with force if what is there may be "
        "destroyed), or destroy it, which then removes only the row"
    )
    # Drift says what the user asked for; the activate it calls for is refused (NotReady).
    assert found["drift"]["status"] == "fail"
    assert "repair_job" not in result
    assert not Job.objects.filter(backend=backend).exclude(kind="check").exists()
