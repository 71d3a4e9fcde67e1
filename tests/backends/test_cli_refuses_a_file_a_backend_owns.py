"""The command line has no backend of its own: it takes the file an operator names as a
provision with no owner does. A file whose mark names a swapadmin backend (made by it or
given to it) is that backend's, even when it already is a swap area: mkswap, scan and
benchmark refuse it in one line and leave it byte for byte, and only ``mkswap --force``
formats it. A file with the ownerless mark of a swapadmin from before marks named their
backend is no backend's, and is formatted as swapadmin's own."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from backends.plugins.file import GIVEN, MADE
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.backends.test_header_roundtrips_with_util_linux import blkid
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import mark

pytestmark = [pytest.mark.root, needs_root]

OWNER = str(uuid.uuid4())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def owned(path: Path, how: str, *, swap: bool) -> Path:
    allocated(path)
    if swap:
        run("mkswap", "-q", "-L", "backends", str(path))
    mark(path, OWNER, how)
    return path


@pytest.mark.parametrize("swap", [True, False], ids=["swap area", "not swap yet"])
@pytest.mark.parametrize("how", [MADE, GIVEN])
@pytest.mark.parametrize(
    "command",
    [["mkswap", "--label", "cli"], ["scan", "--patterns", "1"], ["benchmark", "--seconds", "0.2"]],
    ids=lambda c: c[0],
)
def test_it_refuses_a_file_a_backend_owns(
    swap_root: Path, how: str, swap: bool, command: list[str]
) -> None:
    area = owned(swap_root / "area", how, swap=swap)
    before = digest(area)
    one_line_refusal(
        cli(command[0], str(area), *command[1:]),
        f"carries the mark of a file {'made by' if how == MADE else 'given to'} another "
        f"swapadmin backend ({OWNER})",
    )
    assert digest(area) == before


@pytest.mark.parametrize("swap", [True, False], ids=["swap area", "not swap yet"])
def test_it_formats_a_file_a_backend_owns_only_when_forced(swap_root: Path, swap: bool) -> None:
    area = owned(swap_root / "area", MADE, swap=swap)
    u = uuid.uuid4()
    done = cli("mkswap", str(area), "--label", "forced", "--uuid", str(u), "--json", "--force")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uuid"] == str(u)
    probed = blkid(area)
    assert (probed["TYPE"], probed["LABEL"], probed["UUID"]) == ("swap", "forced", str(u))


@pytest.mark.parametrize("swap", [True, False], ids=["swap area", "not swap yet"])
def test_it_formats_a_file_with_an_ownerless_mark(swap_root: Path, swap: bool) -> None:
    area = allocated(swap_root / "legacy")
    if swap:
        run("mkswap", "-q", str(area))
    mark(area, None)
    done = cli("mkswap", str(area), "--label", "legacy")
    assert done.returncode == 0, done.stderr
    assert (blkid(area)["TYPE"], blkid(area)["LABEL"]) == ("swap", "legacy")
