"""An area adopted from a host (``plugins.create_adopted``, from a discover job) is recorded
only if no backend of the host's machine, under any of the names the machine is known by,
names the same bytes or bytes that overlap them. Adoption never writes the store, but a
second row on one area would activate and deactivate another backend's swap as its own."""

from __future__ import annotations

from typing import Any

import pytest

from backends.errors import NotOursError
from swapadmin.core.models import Backend, Host
from swapadmin.core.plugins import create_adopted

pytestmark = pytest.mark.django_db

DISK = "blk:wwid:naa.5000000000000002"


@pytest.fixture
def first() -> Host:
    """The machine's first name, with a backend on the whole disk."""
    host = Host.objects.create(name="first", kernel_release="test", machine_id="m-1")
    record = {"key": DISK, "overlaps": [f"{DISK}:part1"]}
    Backend.objects.create(host=host, kind="block", name="disk", store_key=DISK,
                           params={"device": "/dev/sdz"}, state={"store": record})  # fmt: skip
    return host


def adopt(host: Host, key: Any, overlaps: Any = None) -> Backend:
    return create_adopted(
        host.pk, "/dev/sdz1", key, overlaps, lambda: "sdz1", kind="block", params={}
    )


@pytest.mark.parametrize(
    ("key", "overlaps"),
    [(DISK, None), (f"{DISK}:part1", None), (f"{DISK}:part1", [DISK])],
    ids=["the same key", "inside it, seen from its side", "inside it, seen from ours"],
)
def test_another_name_of_the_machine_cannot_adopt_its_bytes(
    first: Host, key: str, overlaps: Any
) -> None:
    second = Host.objects.create(name="second", kernel_release="test", machine_id="m-1")
    with pytest.raises(NotOursError, match="store of backend 'disk' on this machine already"):
        adopt(second, key, overlaps)
    assert not Backend.objects.filter(host=second).exists()


def test_the_same_host_cannot_adopt_bytes_inside_its_own_backend(first: Host) -> None:
    with pytest.raises(NotOursError, match="store of backend 'disk' on this host already"):
        adopt(first, f"{DISK}:part1", [DISK])


def test_another_machine_adopts_its_own_disk(first: Host) -> None:
    elsewhere = Host.objects.create(name="elsewhere", kernel_release="test", machine_id="m-2")
    row = adopt(elsewhere, DISK)
    assert (row.host, row.name, row.store_key) == (elsewhere, "sdz1", DISK)


@pytest.mark.parametrize("overlaps", [DISK, [DISK, 3]], ids=["a string", "a number in it"])
def test_overlaps_no_clash_could_be_found_by_are_refused(first: Host, overlaps: Any) -> None:
    elsewhere = Host.objects.create(name="elsewhere", kernel_release="test", machine_id="m-2")
    with pytest.raises(NotOursError, match="not a list of store keys"):
        adopt(elsewhere, f"{DISK}:part1", overlaps)
    assert not Backend.objects.filter(host=elsewhere).exists()


def test_a_kind_that_records_no_key_is_taken_at_its_word(first: Host) -> None:
    row = adopt(first, None)
    assert row.store_key is None and row.name == "sdz1"
