"""``python -m backends scan`` and ``benchmark`` run the page I/O engines on a formatted
area, show progress on stderr and the result on stdout, and refuse an active area without
touching it."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


@pytest.fixture
def formatted(swap_root: Path) -> tuple[Path, uuid.UUID]:
    area = allocated(swap_root / "area", pages=512)
    u = uuid.uuid4()
    run("mkswap", "-L", "scanned", "-U", str(u), str(area))
    return area, u


def test_it_scans_with_progress_and_keeps_the_identity(formatted: tuple[Path, uuid.UUID]) -> None:
    area, u = formatted
    done = cli("scan", str(area), "--patterns", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["pages"], result["patterns"], result["bad_pages"]) == (512, 2, [])
    assert "scanned 2044/2044 pages (100.0%)" in done.stderr
    shown = json.loads(cli("inspect", str(area), "--json").stdout)
    assert (shown["uuid"], shown["label"], shown["badpages"]) == (str(u), "scanned", [])


def test_it_refuses_to_scan_an_active_area(formatted: tuple[Path, uuid.UUID]) -> None:
    area, _ = formatted
    run("swapon", str(area))
    try:
        before = hashlib.sha256(area.read_bytes()[:4096]).hexdigest()
        one_line_refusal(cli("scan", str(area)), "active in /proc/swaps")
        assert hashlib.sha256(area.read_bytes()[:4096]).hexdigest() == before
        assert str(area) in Path("/proc/swaps").read_text()
    finally:
        run("swapoff", str(area))


def test_it_refuses_a_pattern_count_of_zero(formatted: tuple[Path, uuid.UUID]) -> None:
    area, _ = formatted
    one_line_refusal(cli("scan", str(area), "--patterns", "0"), "at least 1")


def test_it_benchmarks_and_reports_the_four_figures(formatted: tuple[Path, uuid.UUID]) -> None:
    area, u = formatted
    done = cli("benchmark", str(area), "--seconds", "0.4", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("rand_read_iops", "rand_write_iops", "seq_read_mb_s", "seq_write_mb_s"):
        assert result[key] > 0, key
    assert json.loads(cli("inspect", str(area), "--json").stdout)["uuid"] == str(u)
