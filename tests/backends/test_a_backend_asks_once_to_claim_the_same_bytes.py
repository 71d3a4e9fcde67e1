"""A backend asks the control plane (``on_store``) whether other backends name its bytes
once per bytes: a file a provision makes is claimed before it is named and again when it is
taken, and the second question (a transaction over every backend of the machine) proved
nothing the first had not. Only the bytes last accepted are skipped: a refused claim is not
remembered, other bytes are always asked about, bytes claimed before others are asked about
again, and a closed backend claims again whatever it opens next."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header
from backends.base import NotOursError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from backends.store import Store
from tests.fixtures.host import needs_root

SIZE = 4 * 1024 * 1024

pytestmark = needs_root


def a_file(path: Path, policy: Policy) -> FileBackend:
    return FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True,
        owner=str(uuid.uuid4()),
    )  # fmt: skip


def test_a_made_file_is_claimed_once_through_its_provision_and_writes(
    swap_root: Path, policy: Policy
) -> None:
    asked: list[str] = []
    with a_file(swap_root / "made", policy) as backend:
        backend.on_store = lambda store: asked.append(store.key)
        backend.swapfile(True)
        header.mkswap(backend, label="made")
        backend.swap_out(8, b"\x01" * 4096)
    assert len(asked) == 1, asked


def a_store(key: str, overlaps: tuple[str, ...] = ()) -> Store:
    return Store(fd=-1, writable=True, path=f"/nowhere/{key}", key=key, overlaps=overlaps)


def test_a_refused_claim_is_asked_again(swap_root: Path, policy: Policy) -> None:
    asked: list[str] = []

    def refuse_first(store: Store) -> None:
        asked.append(store.key)
        if len(asked) == 1:
            raise NotOursError(f"{store.path} is another backend's")

    with a_file(swap_root / "refused", policy) as backend:
        backend.on_store = refuse_first
        with pytest.raises(NotOursError, match="another backend's"):
            backend.claim(a_store("dev:1"))
        backend.claim(a_store("dev:1"))
        backend.claim(a_store("dev:1"))
    assert asked == ["dev:1", "dev:1"]


def test_other_bytes_are_asked_about(swap_root: Path, policy: Policy) -> None:
    asked: list[tuple[str, tuple[str, ...]]] = []
    with a_file(swap_root / "other", policy) as backend:
        backend.on_store = lambda store: asked.append((store.key, store.overlaps))
        for store in (a_store("dev:1"), a_store("dev:2"), a_store("dev:1", ("disk:1",))):
            backend.claim(store)
            backend.claim(store)
        backend.claim(a_store("dev:2"))  # back to bytes claimed before, not last
        backend.close()
        backend.claim(a_store("dev:2"))  # closed: whatever it opens next is claimed again
    # The same key with other overlaps (a device now seen inside a disk) is other bytes.
    assert asked == [("dev:1", ()), ("dev:2", ()), ("dev:1", ("disk:1",)), ("dev:2", ()),
                     ("dev:2", ())]  # fmt: skip
