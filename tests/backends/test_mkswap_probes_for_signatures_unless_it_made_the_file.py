"""mkswap asks libblkid (a wipefs process) for every signature on the store, to wipe them,
except once, on a file the same provision has just made and nothing has written through:
created unnamed (O_TMPFILE) and allocated empty before anyone could open it, it holds none,
and the probe was several milliseconds of a request the user waits on. A file that existed
before (even one swapadmin made, before a crash), a second mkswap, or a write through the
backend first, and the store is probed as always; the made file ends with only the swap
signature on it either way."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header, wipefs
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 4 * 1024 * 1024

pytestmark = needs_root


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each target mkswap probed for signatures (the real probe still runs)."""
    seen: list[object] = []
    real = wipefs.signatures

    def counted(target: str | int, name: str = "") -> list[wipefs.Signature]:
        seen.append(target)
        return real(target, name)

    monkeypatch.setattr(wipefs, "signatures", counted)
    return seen


def a_file(path: Path, policy: Policy, owner: str) -> FileBackend:
    return FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner
    )


def test_a_file_this_provision_made_is_not_probed(
    swap_root: Path, policy: Policy, probes: list[object]
) -> None:
    path = swap_root / "made"
    with a_file(path, policy, str(uuid.uuid4())) as backend:
        backend.swapfile(True)
        header.mkswap(backend, label="made")
        assert probes == []
        # Once: formatted again through the same instance, it is looked at as any other.
        header.mkswap(backend, label="again")
        assert len(probes) == 1
    found = wipefs.signatures(str(path))
    assert [(s.type, s.offset) for s in found] == [("swap", 4086)], found


def test_a_file_that_was_there_before_is_probed(
    swap_root: Path, policy: Policy, probes: list[object]
) -> None:
    path = swap_root / "before"
    owner = str(uuid.uuid4())
    with a_file(path, policy, owner) as first:
        first.swapfile(True)  # made, then the worker died before its header
    with a_file(path, policy, owner) as again:
        again.swapfile(True)
        header.mkswap(again, label="again")
    assert len(probes) == 1, probes


def test_a_made_file_written_through_before_its_mkswap_is_probed(
    swap_root: Path, policy: Policy, probes: list[object]
) -> None:
    with a_file(swap_root / "written", policy, str(uuid.uuid4())) as backend:
        backend.swapfile(True)
        backend.swap_out(8, b"\x01" * 4096)
        header.mkswap(backend, label="written")
    assert len(probes) == 1, probes
