"""A loop device attached by hand to a swapadmin backend's file is that backend's store under
another name. Given to the command line as a block device, it is refused (mkswap, even
forced, scan, benchmark) in one line that names the backend, and the file is byte for byte
what it was: one store serves one backend, and the command line is no backend."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends.plugins.file import GIVEN, MADE
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import mark
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]

OWNER = str(uuid.uuid4())


@pytest.mark.parametrize("swap", [True, False], ids=["swap area", "not swap yet"])
@pytest.mark.parametrize("how", [MADE, GIVEN])
@pytest.mark.parametrize(
    "command",
    [
        ["mkswap", "--label", "cli"],
        ["mkswap", "--label", "cli", "--force"],
        ["scan", "--patterns", "1"],
        ["benchmark", "--seconds", "0.2"],
    ],
    ids=["mkswap", "mkswap-force", "scan", "benchmark"],
)
def test_it_refuses_a_loop_device_over_a_backends_file(
    swap_root: Path, how: str, swap: bool, command: list[str]
) -> None:
    area = allocated(swap_root / "area")
    if swap:
        run("mkswap", "-q", "-L", "backends", str(area))
    mark(area, OWNER, how)
    with attached(area) as dev:
        before = digest(area)
        one_line_refusal(
            cli(command[0], dev, *command[1:]),
            f"{dev} serves the swap file of swapadmin backend {OWNER}",
        )
        assert digest(area) == before
