"""The harness's ``hot_add_zram`` gives back a device whose disk sequence number it cannot
read, and fails (review 202/3). Before, it only failed: the device, noted nowhere, was seen
by no take-down, nor by the run's final check (which knows devices by their numbers), and
stayed on the machine. It gives back only the device it added (review 207/6): gone
already, its number may be another's, another run's device, which a removal by number
alone took down."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.plugins import zram
from backends.plugins.zram import hot_remove
from tests.fixtures import host
from tests.fixtures.host import hot_add_zram, needs_root, reset_each, zram_ledger

pytestmark = pytest.mark.root


@needs_root
def test_a_device_whose_number_cannot_be_read_is_removed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    added: list[tuple[str, str]] = []

    def unreadable(name: str) -> str:
        added.append((f"/dev/{name}", zram.zram_diskseq_of(name)))  # the real one, to check
        return ""

    monkeypatch.setattr(host, "zram_diskseq", unreadable)
    since = len(zram_ledger())
    try:
        with pytest.raises(AssertionError, match="unreadable") as raised:
            hot_add_zram()
        monkeypatch.undo()
        (dev, seq), *_ = added
        assert seq, "the device's real disk sequence number was not read"
        assert zram.zram_diskseq_of(Path(dev).name) != seq, f"{dev} was left: {raised.value}"
        assert dev in str(raised.value) and "removed again" in str(raised.value)
        assert zram_ledger()[since:] == []
    finally:
        monkeypatch.undo()
        reset_each(added[:1])


@needs_root
def test_a_device_added_under_its_number_meanwhile_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device goes before its number is read, and the kernel gives the number to the
    next device added: this test's own here, standing for another run's."""
    added: list[tuple[str, str]] = []
    at_its_number: list[tuple[str, str]] = []

    def gone_and_taken(name: str) -> str:
        if added:
            return zram.zram_diskseq_of(name)
        added.append((f"/dev/{name}", zram.zram_diskseq_of(name)))
        hot_remove(name)
        added.append((hot_add_zram(), ""))  # noted, so this test takes it down
        added[-1] = (added[-1][0], zram.zram_diskseq_of(Path(added[-1][0]).name))
        at_its_number.append((f"/dev/{name}", zram.zram_diskseq_of(name)))
        return ""

    monkeypatch.setattr(host, "zram_diskseq", gone_and_taken)
    try:
        with pytest.raises(AssertionError, match="unreadable") as raised:
            hot_add_zram()
        monkeypatch.undo()
        (dev, seq), *_ = at_its_number
        assert seq, f"no device took {dev}'s number: {added}"
        assert zram.zram_diskseq_of(Path(dev).name) == seq, f"{dev} was removed: {raised.value}"
        assert "gone already" in str(raised.value), raised.value
    finally:
        monkeypatch.undo()
        reset_each(added[1:])
