"""A run reads another run's ledger (``others_zram``, which excuses the devices it lists at
the run's end) only from a directory, not a link, of this user or root that nobody else may
write to or list, and a regular file of the same owner, read to a bound (review 207/5).
Before, any local user could plant a ledger in /var/tmp that excused a leak, a FIFO there
hung every run's end, and a link to /dev/zero read forever."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.fixtures import host
from tests.fixtures.host import needs_root, others_zram

pytestmark = pytest.mark.root

#: A user that is neither this one nor root.
NOBODY = 65534


def _base(where: Path, name: str, mode: int = 0o700, boot: str = host.BOOT_ID) -> Path:
    """A run's base, of this boot unless ``boot`` says another."""
    base = where / f"swapadmin-test-{name}"
    base.mkdir()
    (base / host.BOOT_ID_FILE).write_text(boot)
    (base / host.BOOT_ID_FILE).chmod(0o600)
    base.chmod(mode)
    return base


def _ledger(base: Path, line: str) -> Path:
    ledger = base / "zram-ledger"
    ledger.write_text(line + "\n")
    ledger.chmod(0o600)
    return ledger


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "runs"
    where.mkdir()
    monkeypatch.setattr(host, "OTHER_RUNS", str(where))
    return where


@needs_root
def test_a_ledger_another_user_could_have_planted_is_ignored(runs: Path, tmp_path: Path) -> None:
    _ledger(_base(runs, "ours"), "/dev/zram9000 1")  # the one to read: the rest are planted
    _ledger(_base(runs, "open", 0o755), "/dev/zram9001 1")
    _ledger(_base(runs, "writable", 0o733), "/dev/zram9002 1")
    theirs = _base(runs, "theirs")
    _ledger(theirs, "/dev/zram9003 1")
    os.chown(theirs, NOBODY, NOBODY)
    ledger_theirs = _base(runs, "ledger-theirs")
    os.chown(_ledger(ledger_theirs, "/dev/zram9004 1"), NOBODY, NOBODY)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(0o700)
    _ledger(elsewhere, "/dev/zram9005 1")
    (runs / "swapadmin-test-linked").symlink_to(elsewhere)
    (_base(runs, "ledger-linked") / "zram-ledger").symlink_to(elsewhere / "zram-ledger")
    kept = _base(runs, "x.kept")
    (kept / host.KEPT_FILE).write_text("/dev/zram9006 1\n")
    kept_open = _base(runs, "y.kept", 0o755)
    (kept_open / host.KEPT_FILE).write_text("/dev/zram9007 1\n")
    assert sorted(others_zram()) == [("/dev/zram9000", "1"), ("/dev/zram9006", "1")]


@needs_root
def test_a_ledger_that_is_no_file_or_too_long_is_ignored(runs: Path) -> None:
    _ledger(_base(runs, "ours"), "/dev/zram9000 1")
    big = _base(runs, "big") / "zram-ledger"
    with open(big, "w") as f:
        f.write("x" * host.LEDGER_MAX + "\n/dev/zram9010 1\n")
    big.chmod(0o600)
    os.mkfifo(_base(runs, "fifo") / "zram-ledger", 0o600)
    done: list[dict[tuple[str, str], str]] = []
    # A guard, not a measure: the old code never returned from a FIFO with no writer.
    looker = threading.Thread(target=lambda: done.append(others_zram()), daemon=True)
    looker.start()
    looker.join(60)
    assert done, "others_zram hung on a FIFO"
    assert sorted(done[0]) == [("/dev/zram9000", "1")]


@needs_root
def test_a_ledger_of_another_boot_is_ignored_whatever_its_files_times(runs: Path) -> None:
    """By the boot id written beside it, not by its time against the boot's, which a clock
    stepped since moves (review 212/3): here the other boot's ledger is written now."""
    _ledger(_base(runs, "ours"), "/dev/zram9000 1")
    _ledger(_base(runs, "before", boot="0" * 8 + "-dead-beef-0000-" + "0" * 12), "/dev/zram9020 1")
    no_id = _base(runs, "no-id")
    (no_id / host.BOOT_ID_FILE).unlink()
    _ledger(no_id, "/dev/zram9021 1")
    assert sorted(others_zram()) == [("/dev/zram9000", "1")]
