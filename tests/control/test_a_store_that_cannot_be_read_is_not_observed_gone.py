"""A store the observer cannot read is in error, with why, not "absent". Before, any failure
to read an inactive store's size was taken for "no store there": a block device a devices
cgroup denied (or EIO, or a hung mount) was observed gone, and its page offered a provision
of it. Only a kind's own "no device" or "does not exist", or a failed call that says there
is no such file or device (ENOENT, ENOTDIR, ENXIO, ENODEV), means absent (review 157/7).

The denial is real: the observer's look at the store runs in a process in a v1 devices
cgroup that denies the loop major (7), about a loop device this test attached, taken as a
block device."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.plugins.block import BlockBackend
from swapadmin.core.observe import _inactive_state
from tests.backends.test_a_loop_device_that_cannot_be_asked_serves_no_write import (
    ask_in,
    no_loop_devices,  # noqa: F401 - the fixture
)
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]

#: The observer's verdict on the store, asked in the child (Django set up, no database).
LOOK = (
    "import django\n"
    "django.setup()\n"
    "from backends.plugins.block import BlockBackend\n"
    "from swapadmin.core.observe import _inactive_state\n"
    "plugin = BlockBackend({{'device': {dev!r}}})\n"
    "fields = {{}}\n"
    "try:\n"
    "    state = _inactive_state(plugin, {dev!r}, fields, False)\n"
    "finally:\n"
    "    plugin.close()\n"
    "out = {{'state': state, 'error': fields.get('observed_error', '')}}\n"
)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "swapadmin.settings")


@pytest.mark.usefixtures("settings_env")
def test_a_denied_store_is_in_error_not_absent(
    loop_device: str,
    no_loop_devices: Path,  # noqa: F811
) -> None:
    assert BlockBackend({"device": loop_device}).capacity_bytes() == 64 << 20  # read freely

    got = ask_in(no_loop_devices, LOOK.format(dev=loop_device))

    assert got == {
        "state": "error",
        "error": f"cannot read the store: cannot open {loop_device}: Operation not permitted",
    }


@pytest.mark.usefixtures("settings_env")
def test_a_store_not_there_is_absent(no_loop_devices: Path) -> None:  # noqa: F811
    gone = f"/dev/swapadmin-test-{uuid.uuid4().hex[:8]}"  # looked at, never made
    assert not os.path.lexists(gone)

    got = ask_in(no_loop_devices, LOOK.format(dev=gone))

    assert got == {"state": "absent", "error": ""}


@pytest.fixture
def unstattable_device() -> Iterator[str]:
    """A device path under /dev whose stat fails with ELOOP (a link to itself on the way),
    made by the test and removed even when it fails."""
    link = Path(f"/dev/swapadmin-test-{uuid.uuid4().hex[:8]}")
    link.symlink_to(link.name)
    try:
        yield str(link / "disk")
    finally:
        link.unlink()


def test_a_device_whose_stat_fails_is_in_error_not_absent(unstattable_device: str) -> None:
    # The kind's own check ("a block device, or refused before any open") fails with a
    # ValidationError carrying no errno; the stat under it says ELOOP (review 160/5).
    plugin = BlockBackend({"device": unstattable_device})
    fields: dict[str, str] = {}
    try:
        state = _inactive_state(plugin, unstattable_device, fields, False)
    finally:
        plugin.close()

    assert (state, fields["observed_error"]) == (
        "error",
        f"cannot read the store: {unstattable_device}: Too many levels of symbolic links",
    )
