"""``python -m backends mkswap`` formats what the policy allows, in a way util-linux and the
kernel accept, and refuses everything else with exit status 2, one line, and the target
unchanged byte for byte. A file under a swap root that swapadmin did not make and that is
not swap yet may hold data: it is formatted only with --force, and --force overrides only
that, never the ownership, hole or active checks."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.backends.test_header_roundtrips_with_util_linux import blkid
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused_unchanged(target: Path, args: list[str], needle: str) -> None:
    before = digest(target)
    one_line_refusal(cli("mkswap", *args), needle)
    assert digest(target) == before


def test_it_formats_what_blkid_swaplabel_and_swapon_accept(swap_root: Path) -> None:
    area = allocated(swap_root / "ours")
    u = uuid.uuid4()
    # The operator's own file, fallocated by hand: formatting it is what --force says.
    done = cli("mkswap", str(area), "--label", "from-cli", "--uuid", str(u), "--json", "--force")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uuid"] == str(u)
    probed = blkid(area)
    assert (probed["TYPE"], probed["LABEL"], probed["UUID"]) == ("swap", "from-cli", str(u))
    assert run("swaplabel", str(area)).stdout.split() == ["LABEL:", "from-cli", "UUID:", str(u)]
    run("swapon", str(area))
    run("swapoff", str(area))


def test_it_refuses_a_file_it_did_not_make_unless_forced(swap_root: Path) -> None:
    area = allocated(swap_root / "data")
    with open(area, "r+b") as f:
        f.write(b"precious rows " * 1000)
    refused_unchanged(area, [str(area)], "swapadmin did not make it: it may hold data")


def test_it_formats_an_existing_swap_area_again_without_force(swap_root: Path) -> None:
    area = allocated(swap_root / "theirs")
    run("mkswap", "-q", "-L", "old", str(area))
    done = cli("mkswap", str(area), "--label", "new")
    assert done.returncode == 0, done.stderr
    assert blkid(area)["LABEL"] == "new"


def test_it_refuses_a_path_outside_the_swap_roots(swap_root: Path) -> None:
    outside = allocated(swap_root.parent / "elsewhere")
    refused_unchanged(outside, [str(outside)], "swap root")


def test_it_refuses_a_symlink(swap_root: Path) -> None:
    target = allocated(swap_root / "real")
    link = swap_root / "link"
    link.symlink_to(target)
    refused_unchanged(target, [str(link)], "symbolic link")


def test_it_refuses_an_active_area(swap_root: Path) -> None:
    area = allocated(swap_root / "live")
    run("mkswap", "-L", "live", str(area))
    run("swapon", str(area))
    try:
        refused_unchanged(area, [str(area), "--label", "new"], "active")
    finally:
        run("swapoff", str(area))


def test_it_refuses_a_label_longer_than_sixteen_bytes(swap_root: Path) -> None:
    area = allocated(swap_root / "area")
    refused_unchanged(area, [str(area), "--force", "--label", "x" * 17], "at most 16")


def test_it_refuses_a_world_readable_file(swap_root: Path) -> None:
    area = allocated(swap_root / "open")
    area.chmod(0o644)
    refused_unchanged(area, [str(area), "--force"], "chmod 600")


def test_it_refuses_a_file_with_holes(swap_root: Path) -> None:
    area = swap_root / "sparse"
    fd = os.open(area, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.ftruncate(fd, 2560 * 4096)
    os.close(fd)
    refused_unchanged(area, [str(area), "--force"], "hole")


def test_it_refuses_a_malformed_uuid_before_touching_anything(swap_root: Path) -> None:
    area = allocated(swap_root / "area")
    refused_unchanged(area, [str(area), "--uuid", "not-a-uuid"], "is not a UUID")


def test_it_formats_a_block_device_holding_a_filesystem_only_when_forced(loop_device: str) -> None:
    device = Path(loop_device)
    run("mkfs.ext4", "-q", "-F", loop_device)
    refused_unchanged(device, [loop_device, "--label", "disk"], "holds data: ext4")
    done = cli("mkswap", loop_device, "--label", "disk", "--force")
    assert done.returncode == 0, done.stderr
    probed = blkid(device)
    assert (probed["TYPE"], probed["LABEL"]) == ("swap", "disk")
