"""A LABEL= (or UUID=) that two devices share names no one area: findfs, blkid -l and
swapon each pick one by udev's and the cache's order (here findfs and ``blkid -l`` were
seen to pick different ones), and that order may change at the next boot. So the name
resolves to neither, saying which devices share it, and discover would skip its line."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from backends import fstab, names
from tests.fixtures.host import needs_root

pytestmark = needs_root


def test_a_label_on_two_devices_names_neither(two_loop_devices: list[str], scratch: Path):
    label = f"twin-{uuid.uuid4().hex[:8]}"
    for dev in two_loop_devices:
        subprocess.run(["mkswap", "-q", "-L", label, dev], check=True)

    with pytest.raises(names.Unresolved) as e:
        names.resolve(f"LABEL={label}")
    assert "names 2 areas" in e.value.reason
    assert all(dev in e.value.reason for dev in two_loop_devices)

    tab = scratch / "fstab"
    tab.write_text(f"LABEL={label} none swap sw 0 0\n")
    [(entry, path, why)] = fstab.resolve_entries(tab)
    assert (entry.spec, path) == (f"LABEL={label}", None)
    assert "names 2 areas" in why

    # Neither device is taken for the shared name when lines are matched either.
    assert not any(fstab.same_area(f"LABEL={label}", dev) for dev in two_loop_devices)


def test_the_same_label_on_one_device_still_resolves(two_loop_devices: list[str]):
    # A swap label holds 15 characters: two distinct short ones, not one and a suffix.
    label, other = f"one-{uuid.uuid4().hex[:8]}", f"two-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mkswap", "-q", "-L", label, two_loop_devices[0]], check=True)
    subprocess.run(["mkswap", "-q", "-L", other, two_loop_devices[1]], check=True)
    assert names.resolve(f"LABEL={label}").path == two_loop_devices[0]


def test_a_lower_case_tag_names_nothing_as_for_findfs(two_loop_devices: list[str]):
    # libblkid's and libmount's tag names are case-sensitive: findfs and swapon at boot
    # resolve no ``uuid=``, so discover must not adopt a line written so.
    label = f"lc-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mkswap", "-q", "-L", label, two_loop_devices[0]], check=True)
    for spec in (f"label={label}", f"Label={label}"):
        assert subprocess.run(["findfs", spec], capture_output=True).returncode != 0
        with pytest.raises(names.Unresolved) as e:
            names.resolve(spec)
        assert "not a tag to findfs or swapon" in e.value.reason
    assert names.resolve(f"LABEL={label}").path == two_loop_devices[0]
