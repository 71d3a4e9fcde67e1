"""``inspect`` only reads, so it works on a swap file anywhere (``/swapfile``), while the
commands that write still keep to the swap roots."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


def test_it_inspects_a_swap_file_outside_the_swap_roots(swap_root: Path) -> None:
    elsewhere = swap_root.parent / "elsewhere"
    elsewhere.mkdir()
    area = allocated(elsewhere / "swapfile")
    u = uuid.uuid4()
    run("mkswap", "-L", "outside", "-U", str(u), str(area))
    done = cli("inspect", str(area), "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["label"], got["uuid"], got["active"]) == ("outside", str(u), False)


def test_it_still_refuses_to_format_the_same_file(swap_root: Path) -> None:
    elsewhere = swap_root.parent / "elsewhere"
    elsewhere.mkdir()
    area = allocated(elsewhere / "swapfile")
    before = area.read_bytes()
    one_line_refusal(cli("mkswap", str(area)), "swap root")
    assert area.read_bytes() == before
