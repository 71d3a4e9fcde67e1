"""The control plane records a store as a backend's only under a key and overlaps that a
clash with another backend's store can be found by (``plugins.record_store``). A kind,
a third party's above all, that names its bytes with an empty key, or hands one name where
a list belongs (a string iterates as its characters), is refused before any byte is
written: otherwise a second backend claiming the same disk would be let through unseen."""

from __future__ import annotations

from typing import Any

import pytest

from backends.errors import NotOursError
from backends.store import Store
from swapadmin.core.models import Backend, Host
from swapadmin.core.plugins import claim_store

pytestmark = pytest.mark.django_db

DISK = "blk:8:0"


@pytest.fixture
def rows() -> tuple[Backend, Backend]:
    host = Host.objects.create(name="h", kernel_release="test")
    disk = Backend.objects.create(host=host, kind="block", name="disk", store_key=DISK,
                                  params={"path": "/dev/sdz"})  # fmt: skip
    part = Backend.objects.create(host=host, kind="thirdparty", name="part",
                                  params={"path": "/dev/sdz1"})  # fmt: skip
    return disk, part


def claimed(backend: Backend, key: Any, overlaps: Any) -> None:
    claim_store(backend, Store(-1, True, "/dev/sdz1", key, overlaps))


@pytest.mark.parametrize("key", ["", "  ", None, 17], ids=repr)
def test_a_store_with_no_key_is_refused(rows: tuple[Backend, Backend], key: Any) -> None:
    _, part = rows
    with pytest.raises(NotOursError, match="bytes with no key .*Nothing was written"):
        claimed(part, key, ())
    part.refresh_from_db()
    assert part.store_key is None or part.store_key == ""


@pytest.mark.parametrize("key", ["blk:" + "9" * 300, "blk:8\x001"], ids=["long", "nul"])
def test_a_key_the_row_cannot_hold_is_refused(rows: tuple[Backend, Backend], key: str) -> None:
    _, part = rows
    with pytest.raises(NotOursError, match="a key the database cannot hold"):
        claimed(part, key, ())


@pytest.mark.parametrize(
    "overlaps", [DISK, DISK.encode(), [DISK, 8], [""], {"blk": DISK}, iter([DISK])], ids=repr
)
def test_overlaps_that_are_no_list_of_keys_are_refused(
    rows: tuple[Backend, Backend], overlaps: Any
) -> None:
    _, part = rows
    with pytest.raises(NotOursError, match="not a list of store keys.*Nothing was written"):
        claimed(part, "blk:8:1", overlaps)
    part.refresh_from_db()
    assert not part.store_key


def test_a_list_of_keys_finds_the_disk_it_overlaps(rows: tuple[Backend, Backend]) -> None:
    _, part = rows
    with pytest.raises(NotOursError, match="is the store of backend 'disk'"):
        claimed(part, "blk:8:1", (DISK,))
    claimed(part, "blk:8:1", ["blk:8:16"])  # another disk: no clash, recorded
    part.refresh_from_db()
    assert part.store_key == "blk:8:1"
