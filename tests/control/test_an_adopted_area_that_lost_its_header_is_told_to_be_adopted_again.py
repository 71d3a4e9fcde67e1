"""An area swapadmin adopted holds the sysadmin's swap header, which swapadmin never writes:
when a look at it finds another header or none (someone reused the area since), the row
says that the UUID it lacks is the one found at adoption (not one swapadmin wrote), and what
can be done: destroy the row, which leaves the area as it is, and adopt the area again
(once it holds a swap header, if it holds none). Never to provision it. The library says it
in the same words as its other refusals of an adopted area (``SwapBackend.way_out``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from swapadmin.core.models import Backend
from swapadmin.core.observe import observe_backend
from tests.control.test_run_job_directly import MiB, adopt
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

ADOPT_AGAIN = "destroy the backend (its area is left as it is) and adopt the area again"
HEADER_FIRST = f"{ADOPT_AGAIN} once it holds a swap header"


def _adopted(host_row, swap_root: Path) -> tuple[Backend, Path]:
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)  # a swap area someone else made
    backend = adopt(host_row, path)
    assert observe_backend(backend) == Backend.Observed.READY
    return backend, path


def _wipe_header(path: Path) -> bytes:
    """The sysadmin reuses the area: its first page (the swap header) is overwritten."""
    with open(path, "r+b") as f:
        f.write(bytes(4096))
    return path.read_bytes()


def _error_after_a_look(backend: Backend, state: str) -> str:
    assert observe_backend(backend) == state
    backend.refresh_from_db()
    assert "provision" not in backend.observed_error.lower()
    assert "that swapadmin wrote" not in backend.observed_error
    return backend.observed_error


def test_an_adopted_area_whose_header_was_wiped_is_foreign_and_told_to_be_adopted_again(
    host_row, swap_root
):
    backend, path = _adopted(host_row, swap_root)
    content = _wipe_header(path)
    error = _error_after_a_look(backend, Backend.Observed.FOREIGN)
    uuid = backend.state["store"]["uuid"]
    assert error.startswith(
        f"the store now at {path} is not this backend's: it holds no swap header and no "
        f"signature libblkid knows, not the swap area with UUID {uuid} it held when it was "
        "adopted. Nothing was written; "
    )
    assert error.endswith(f"{HEADER_FIRST}.")
    assert path.read_bytes() == content


def test_an_adopted_area_formatted_again_by_hand_is_told_to_be_adopted_again(host_row, swap_root):
    backend, path = _adopted(host_row, swap_root)
    subprocess.run(["mkswap", "-q", str(path)], check=True)  # a new UUID: another area
    content = path.read_bytes()
    error = _error_after_a_look(backend, Backend.Observed.FOREIGN)
    # It holds a swap header: adoption would take it as it is.
    assert error.endswith(f"; {ADOPT_AGAIN}.")
    assert path.read_bytes() == content


@pytest.mark.parametrize("record", ["kept", "none"])
def test_an_adopted_row_never_proven_with_no_usable_header_says_the_same(
    host_row, swap_root, record
):
    # A row adopted before adoption recorded the store has no proof to compare
    # (provisioned_at unset) and, from before adopt_store, no record of its store at all:
    # the look reads the header itself, finds none, and takes the row's word on adoption.
    backend, path = _adopted(host_row, swap_root)
    state = backend.state if record == "kept" else {}
    Backend.objects.filter(pk=backend.pk).update(provisioned_at=None, state=state)
    backend.refresh_from_db()
    content = _wipe_header(path)
    error = _error_after_a_look(backend, Backend.Observed.ERROR)
    assert error.startswith("no usable swap header: ")
    assert error.endswith(f"; swapadmin writes no header on an area it adopted: {HEADER_FIRST}.")
    assert path.read_bytes() == content
