"""An area swapadmin adopted is never provisioned (that would write a header on it), so a
job that cannot prove an adopted area its own says to adopt it again, not to provision it:
activating a file adopted with no swap header, and any job on an adopted record without its
store's identity (a row adopted before identities were recorded). The file stays as it was.
A backend swapadmin made is still told to provision again."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from backends.errors import BackendError, NotOursError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import rebuilt
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]

HEADER_FIRST = "once it holds a swap header"
ADOPT_AGAIN = re.escape("destroy the backend (its area is left as it is) and adopt the area again")


def _adopted(path: Path, policy: Policy) -> FileBackend:
    plugin = FileBackend({"path": str(path)}, size_bytes=path.stat().st_size, policy=policy)
    plugin.adopt_store()
    plugin.close()
    assert plugin.record["adopted"] is True
    return plugin


def _theirs(swap_root: Path) -> Path:
    """A swap file a sysadmin made by hand under the swap root."""
    path = allocated(swap_root / "theirs")
    run("mkswap", "-q", "-L", "theirs", str(path))
    return path


def _without(plugin: FileBackend, field: str) -> FileBackend:
    record: dict[str, Any] = {k: v for k, v in plugin.record.items() if k != field}
    job = rebuilt(plugin, state={**plugin.state, "store": record})
    assert isinstance(job, FileBackend)
    return job


def test_an_adopted_file_without_a_header_is_told_to_be_adopted_again(
    swap_root: Path, policy: Policy
) -> None:
    path = allocated(swap_root / "theirs")  # no mkswap: the adoption found no swap UUID
    plugin = _adopted(path, policy)
    assert plugin.record["uuid"] is None
    before = digest(path)
    refusal = f"theirs held no swap header when it was adopted.*; {ADOPT_AGAIN} {HEADER_FIRST}$"
    with pytest.raises(NotOursError, match=refusal):
        rebuilt(plugin, owner=str(uuid.uuid4())).swapfile(True)
    assert digest(path) == before


def test_an_adopted_record_without_its_identity_is_told_to_be_adopted_again(
    swap_root: Path, policy: Policy
) -> None:
    path = _theirs(swap_root)
    job = _without(_adopted(path, policy), "key")
    before = digest(path)
    with pytest.raises(NotOursError, match=f"nothing proves the store is its own; {ADOPT_AGAIN}"):
        job.swapfile(True)
    assert digest(path) == before


def test_an_adopted_file_gone_from_its_path_is_told_only_its_row_goes(
    swap_root: Path, policy: Policy
) -> None:
    path = _theirs(swap_root)
    plugin = _adopted(path, policy)
    path.unlink()
    with pytest.raises(
        BackendError,
        match="theirs does not exist; destroy the backend, which then removes only its row$",
    ):
        rebuilt(plugin).swapfile(True)
    assert not path.exists()


def test_a_backend_swapadmin_made_is_still_told_to_provision_again(
    swap_root: Path, policy: Policy
) -> None:
    path = swap_root / "ours"
    plugin = FileBackend(
        {"path": str(path)}, size_bytes=4 << 20, policy=policy, provisioning=True,
        owner=str(uuid.uuid4()),
    )  # fmt: skip
    plugin.swapfile(True)
    plugin.close()
    job = _without(plugin, "key")
    with pytest.raises(NotOursError, match="; provision the backend again$"):
        job.swapfile(True)
    assert "adopt" not in job.way_out()
