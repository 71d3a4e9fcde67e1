"""A swap line of fstab whose source is not swap is skipped with the reason, never handed to
discover as an area: a ``UUID=`` copied from a filesystem's line names that filesystem
(findfs finds it), and a FIFO or a device node is not swap either. Reading what a source
holds never blocks (a FIFO has no writer) and never runs a device's driver; a blkid that
does not answer costs its own line only."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import fstab, names
from tests.fixtures.host import needs_root

pytestmark = needs_root


def test_a_uuid_of_a_filesystem_is_not_taken_for_swap(loop_device: str, scratch: Path):
    subprocess.run(["mkfs.ext4", "-q", loop_device], check=True)
    fs_uuid = subprocess.run(
        ["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", loop_device],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # findfs does lead there: the tag itself is fine, what it names is not swap.
    assert names.resolve(f"UUID={fs_uuid}").path == loop_device

    tab = scratch / "fstab"
    tab.write_text(f"UUID={fs_uuid}\tnone  swap sw 0 0\n")
    [(entry, path, why)] = fstab.resolve_entries(tab)
    assert path is None, why
    assert loop_device in why and "ext4" in why and "not a swap area" in why
    assert entry.spec == f"UUID={fs_uuid}"


def test_a_fifo_is_not_read_and_not_taken(scratch: Path):
    fifo = scratch / "swap.fifo"
    os.mkfifo(fifo, 0o600)
    tab = scratch / "fstab"
    tab.write_text(f"{fifo} none swap sw 0 0\n/dev/null none swap sw 0 0\n")
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(fstab.resolve_entries(tab)), daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():
        # Free the reader before failing: opening the FIFO for writing lets it return.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading the fstab source waited on a FIFO")
    [[(_, fifo_path, fifo_why), (_, null_path, null_why)]] = got  # type: ignore[misc]
    assert fifo_path is None and "not a swap area" in fifo_why
    assert null_path is None and "not a swap area" in null_why
    assert names.read_swap_header(str(fifo)) is None


def test_a_blkid_that_does_not_answer_skips_its_line_only(
    scratch: Path, monkeypatch: pytest.MonkeyPatch, tool_on_path: Callable[..., Path]
):
    # A blkid that does not answer stands for a probe stuck on a dead device (one is made
    # for real in test_a_tool_stuck_on_a_device_that_does_not_answer_never_holds_the_job).
    tool_on_path("blkid", "#!/bin/sh\nexec sleep 30\n")
    monkeypatch.setattr(names, "_BLKID_TIMEOUT", 0.5)
    swapfile = scratch / "swapfile"
    subprocess.run(["fallocate", "-l", "16M", str(swapfile)], check=True)
    swapfile.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(swapfile)], check=True)

    tab = scratch / "fstab"
    tab.write_text(f"LABEL=nowhere-at-all none swap sw 0 0\n{swapfile} none swap sw 0 0\n")
    (_, tag_path, tag_why), (_, file_path, _) = fstab.resolve_entries(tab)
    assert tag_path is None and "blkid did not answer" in tag_why
    assert file_path == str(swapfile)


def test_a_link_to_nothing_says_so(scratch: Path):
    link = scratch / "swap.link"
    link.symlink_to(scratch / "gone")
    tab = scratch / "fstab"
    tab.write_text(f"{link} none swap sw 0 0\n")
    [(_, path, why)] = fstab.resolve_entries(tab)
    assert path is None and f"symbolic link to {scratch / 'gone'}, which does not exist" in why
