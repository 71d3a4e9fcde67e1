"""``python -m backends inspect`` prints exactly what util-linux mkswap wrote, on an idle or
an active area, and refuses a path that holds no swap header in one line."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


def allocated(path: Path, pages: int = 2560) -> Path:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, pages * PAGE_SIZE)
    finally:
        os.close(fd)
    return path


def test_it_prints_exactly_what_util_linux_wrote(swap_root: Path) -> None:
    area = allocated(swap_root / "theirs")
    u = uuid.uuid4()
    run("mkswap", "-L", "x", "-U", str(u), str(area))
    done = cli("inspect", str(area), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "version": 1,
        "page_size": PAGE_SIZE,
        "last_page": 2559,
        "nr_badpages": 0,
        "badpages": [],
        "uuid": str(u),
        "label": "x",
        "active": False,
    }


def test_it_reads_an_active_area_and_says_so(swap_root: Path) -> None:
    area = allocated(swap_root / "live")
    u = uuid.uuid4()
    run("mkswap", "-L", "live", "-U", str(u), str(area))
    run("swapon", str(area))
    try:
        done = cli("inspect", str(area), "--json")
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert (shown["active"], shown["uuid"], shown["label"]) == (True, str(u), "live")
    finally:
        run("swapoff", str(area))


def test_it_prints_a_readable_summary(swap_root: Path) -> None:
    area = allocated(swap_root / "plain")
    run("mkswap", "-L", "named", str(area))
    done = cli("inspect", str(area))
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert lines["label"].strip() == "named"
    assert lines["last_page"].strip() == "2559"
    assert lines["active"].strip() == "False"


def test_it_refuses_a_file_that_holds_no_swap_header(swap_root: Path) -> None:
    area = allocated(swap_root / "blank")
    done = cli("inspect", str(area))
    one_line_refusal(done, "no swap header")
