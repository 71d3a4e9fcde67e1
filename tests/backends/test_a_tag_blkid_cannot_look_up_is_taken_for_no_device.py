"""Adopting an fstab line by tag asks blkid for every device with that tag: udev links one
device per tag, so only blkid finds a second device sharing it (and the tag then names
neither). A blkid that was missing or failed used to answer as if it had found none, and
the device the udev link pointed to was taken as the only one. Now only blkid's exit
status 2 means none; a blkid that cannot be run or fails is an error naming why, and the
line is not taken.

The two devices sharing a label are real loop devices. This VM runs no udev, so the link
udev would make is made in a directory of the test's own; blkid's failure is a blkid
earlier on PATH that fails as util-linux's does (exit status 4, a message on stderr)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import fstab, names
from backends.errors import KernelError
from tests.fixtures.host import needs_root, run

pytestmark = needs_root


@pytest.fixture
def twins(two_loop_devices: list[str]) -> tuple[str, list[str]]:
    """A swap label and the two loop devices that both carry it."""
    label = f"twin-{uuid.uuid4().hex[:8]}"
    for dev in two_loop_devices:
        run("mkswap", "-q", "-L", label, dev)
    return label, two_loop_devices


@pytest.fixture
def udev_links(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test makes the by-label links udev would make."""
    by_label = scratch / "by-label"
    by_label.mkdir()
    monkeypatch.setitem(names.TAG_LINKS, "LABEL", str(by_label))
    return by_label


FAILS = "#!/bin/sh\necho 'blkid: error: probing initialization failed' >&2\nexit 4\n"
#: A blkid that cannot be run at all: its interpreter is not there (ENOENT, as no blkid).
CANNOT_RUN = "#!/nonexistent/sh\nexit 0\n"


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (FAILS, "blkid failed with exit status 4, so which block devices have LABEL "),
        (CANNOT_RUN, "blkid cannot be run (No such file or directory), so which block "),
    ],
    ids=["fails", "cannot-run"],
)
def test_the_device_udev_links_is_not_taken_as_the_only_one(
    twins: tuple[str, list[str]], udev_links: Path, scratch: Path,
    tool_on_path: Callable[..., Path], script: str, said: str,
) -> None:  # fmt: skip
    label, (linked, other) = twins
    (udev_links / label).symlink_to(linked)
    assert names.resolve(f"LABEL={label}", every=False).path == linked  # udev's answer
    with pytest.raises(names.Unresolved, match="names 2 areas"):
        names.resolve(f"LABEL={label}")  # the real blkid finds the other one too

    tool_on_path("blkid", script)
    with pytest.raises(KernelError) as failed:
        names.resolve(f"LABEL={label}")
    assert said in failed.value.message

    tab = scratch / "fstab"
    tab.write_text(f"LABEL={label} none swap sw 0 0\n")
    [(entry, path, why)] = fstab.resolve_entries(tab)
    assert (entry.spec, path) == (f"LABEL={label}", None)
    assert why.startswith("could not be resolved: ") and said in why


def test_blkid_finding_none_leaves_the_udev_link(
    twins: tuple[str, list[str]], udev_links: Path
) -> None:
    # Exit status 2, from the real blkid: no device has the label the link is named for
    # (a link udev has not updated yet); the link is what there is.
    label, (linked, _) = twins
    stale = f"gone-{uuid.uuid4().hex[:8]}"
    (udev_links / stale).symlink_to(linked)
    probe = ["blkid", "-c", "/dev/null", "-o", "device", "-t", f"LABEL={stale}"]
    assert subprocess.run(probe, capture_output=True).returncode == 2
    found = names.resolve(f"LABEL={stale}")
    assert (found.path, found.how) == (linked, "udev link")
