"""A zram device the kind hot_adds but cannot note in the ledger ``SWAPADMIN_ZRAM_LEDGER``
names (the test harness's record of what its processes add) is removed again at once, and
the provision fails saying so: left, it would be a device nobody recorded, one more for each
retry. Without the variable nothing is written anywhere."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from backends.errors import KernelError
from backends.plugins import zram
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, reset_zram, zram_now

MiB = 1 << 20


@needs_root
def test_a_device_that_cannot_be_noted_is_removed_again(
    policy: Policy, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = zram_now()
    monkeypatch.setenv(zram.LEDGER_ENV, str(scratch / "no-such-directory" / "ledger"))
    backend = ZramBackend(
        {}, size_bytes=16 * MiB, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    added = None
    try:
        with pytest.raises(KernelError, match="was added, but not noted") as raised:
            backend.swapfile(True)
        found = re.search(r"/dev/zram[0-9]+", raised.value.message)
        assert found, raised.value.message
        added = found.group()
        assert "it was removed again" in raised.value.message
        assert zram_now() - before == set()  # nothing new is left, by number and sequence
        assert "device" not in backend.state
    finally:
        # Only if the kind failed to remove it: the device this test's provision added.
        for dev, seq in zram_now() - before:
            if dev == added:
                reset_zram(dev, seq)


def test_without_the_variable_nothing_is_written(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(zram.LEDGER_ENV, raising=False)
    monkeypatch.chdir(scratch)
    zram.note_added("zram99", "12345")
    assert list(scratch.iterdir()) == []


def test_the_ledger_is_not_followed_through_a_symlink(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = scratch / "elsewhere"
    (scratch / "ledger").symlink_to(target)
    monkeypatch.setenv(zram.LEDGER_ENV, str(scratch / "ledger"))
    with pytest.raises(OSError):
        zram.note_added("zram99", "12345")
    assert not target.exists()
