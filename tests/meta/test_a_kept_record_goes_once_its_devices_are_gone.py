"""A run that cannot take down a zram device of its own keeps its pairs in a read-only
record, so that later runs of the boot name the device as that run's rather than fail for
it as nobody's. Nothing removed those records (review 212/2): a run's end now removes each
that can excuse nothing any more (of another boot, or none of its devices still there),
and leaves one whose device is still there, and one it cannot trust."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.host import (
    BOOT_ID,
    BOOT_ID_FILE,
    KEPT_FILE,
    hot_add_zram,
    needs_root,
    reset_each,
    retire_kept_records,
    zram_diskseq,
)


def _record(runs: Path, name: str, pairs: str, boot: str = BOOT_ID, mode: int = 0o700) -> Path:
    where = runs / f"swapadmin-test-{name}.kept"
    where.mkdir(mode=0o700)
    for file, text in ((BOOT_ID_FILE, boot), (KEPT_FILE, pairs)):
        (where / file).write_text(text)
        (where / file).chmod(0o400)
    where.chmod(mode)
    return where


def test_a_record_whose_devices_are_gone_or_of_another_boot_goes(tmp_path: Path) -> None:
    # A number far past any device this machine has: gone, as a device taken down since.
    gone = _record(tmp_path, "gone", "/dev/zram65000 1\n")
    old_boot = _record(tmp_path, "old", "/dev/zram65001 7\n", boot="not-this-boot")
    untrusted = _record(tmp_path, "open", "/dev/zram65002 1\n", mode=0o777)
    live_base = tmp_path / "swapadmin-test-live"
    live_base.mkdir(mode=0o700)
    assert sorted(retire_kept_records(tmp_path)) == sorted([str(gone), str(old_boot)])
    assert not gone.exists() and not old_boot.exists()
    assert (untrusted / KEPT_FILE).exists() and live_base.exists()


@needs_root
def test_a_record_whose_device_is_still_there_stays(tmp_path: Path) -> None:
    dev = hot_add_zram()
    seq = zram_diskseq(Path(dev).name)
    try:
        still = _record(tmp_path, "still", f"/dev/zram65000 1\n{dev} {seq}\n")
        assert retire_kept_records(tmp_path) == []
        assert (still / KEPT_FILE).read_text().endswith(f"{dev} {seq}\n")
    finally:
        reset_each([(dev, seq)])
    # The same record, its device gone now: it goes.
    assert retire_kept_records(tmp_path) == [str(still)]
