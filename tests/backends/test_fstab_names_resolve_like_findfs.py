"""fstab sources written as UUID=, LABEL= (quoted or not) or through a symlink lead to the
same device findfs(8) names; a swap file named by its UUID or label is found from the
headers of active areas (blkid cannot find files), and only while it is active."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from backends import fstab, names
from tests.fixtures.host import needs_root

pytestmark = needs_root


def findfs(spec: str) -> str:
    return subprocess.run(
        ["findfs", spec], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_uuid_and_label_name_the_device_findfs_names(loop_device):
    swap_uuid, label = str(uuid.uuid4()), f"lbl-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mkswap", "-q", "-U", swap_uuid, "-L", label, loop_device], check=True)

    for spec in (f"UUID={swap_uuid}", f'UUID="{swap_uuid}"', f"LABEL={label}", f"LABEL='{label}'"):
        found = names.resolve(spec)
        assert found.path == loop_device == findfs(spec.replace('"', "").replace("'", ""))
        assert found.how in ("udev link", "blkid")

    # The fstab module now knows a tag and the device's path are one area.
    assert fstab.same_area(f"UUID={swap_uuid}", loop_device)
    assert fstab.same_area(f"LABEL={label}", f"UUID={swap_uuid}")


def test_a_tag_that_names_nothing_says_so():
    spec = f"UUID={uuid.uuid4()}"
    with pytest.raises(names.Unresolved) as e:
        names.resolve(spec)
    assert "no block device on this host has UUID" in e.value.reason
    assert not fstab.same_area(spec, "/dev/null")


def test_a_swap_file_is_found_by_its_header_only_while_active(scratch: Path):
    path = scratch / "swapfile"
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    swap_uuid, label = str(uuid.uuid4()), f"file-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mkswap", "-q", "-U", swap_uuid, "-L", label, str(path)], check=True)
    # blkid (and so findfs) knows block devices only: a file is invisible to it.
    assert subprocess.run(["findfs", f"UUID={swap_uuid}"], capture_output=True).returncode != 0
    with pytest.raises(names.Unresolved):
        names.resolve(f"UUID={swap_uuid}")

    subprocess.run(["swapon", str(path)], check=True)
    try:
        for spec in (f"UUID={swap_uuid}", f"LABEL={label}"):
            found = names.resolve(spec)
            assert (found.path, found.how) == (str(path), "the header of an active swap file")
    finally:
        subprocess.run(["swapoff", str(path)], check=True)


def test_a_symlink_resolves_to_the_real_path(scratch: Path):
    real = scratch / "real"
    real.write_bytes(b"")
    link = scratch / "link"
    link.symlink_to(real)
    found = names.resolve(str(link))
    assert found.path == str(real) and "symbolic link" in found.how


def test_resolve_entries_pairs_each_line_with_what_it_names(loop_device, scratch: Path):
    swap_uuid = str(uuid.uuid4())
    subprocess.run(["mkswap", "-q", "-U", swap_uuid, loop_device], check=True)
    missing = f"LABEL=missing-{uuid.uuid4().hex[:8]}"
    tab = scratch / "fstab"
    tab.write_text(f"UUID={swap_uuid} none swap sw 0 0\n{missing} none swap sw 0 0\n")
    got = [(e.spec, real) for e, real, _ in fstab.resolve_entries(tab)]
    assert got == [(f"UUID={swap_uuid}", loop_device), (missing, None)]
