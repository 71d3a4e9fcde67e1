"""A store the observer cannot read is in error, with why, not "absent". Before, any failure
to read an inactive store's size was taken for "no store there": a block device a devices
cgroup denied (or EIO, or a hung mount) was observed gone, and its page offered a provision
of it. Only a kind's own "no device" or "does not exist", or a failed call that says there
is no such file or device (ENOENT, ENOTDIR, ENXIO, ENODEV), means absent (review 157/7);
a kind's refusal of what it reached (a link on the way) never does (review 162/3). Nor is
a swap root to mend (writable by others) "not this backend's store": the name still leads
to the file it made, so the verdict is an error with the fix, not "foreign".

The denial is real: the first test's look at the store runs in a process in a v1 devices
cgroup that denies the loop major (7), about a loop device this test attached, taken as a
block device. The others fail a stat for real (a link to itself, ELOOP) or walk a link."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from backends import BackendError, SwapBackend
from backends.errors import NoDeviceError, UnsafeError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from swapadmin.core.models import Backend
from swapadmin.core.observe import _inactive_state, _proof
from tests.backends.test_a_loop_device_that_cannot_be_asked_serves_no_write import (
    ask_in,
    no_loop_devices,  # noqa: F401 - the fixture
)
from tests.fixtures.host import needs_root
from tests.fixtures.plain_kind import PlainFile
from tests.fixtures.stores import provisioned, rebuilt

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


def _look(plugin: SwapBackend, path: str | None) -> tuple[str, str]:
    fields: dict[str, str] = {}
    try:
        state = _inactive_state(plugin, path, fields, False)
    finally:
        plugin.close()
    return state, fields.get("observed_error", "")


def test_a_device_whose_stat_fails_is_in_error_not_absent(unstattable_device: str) -> None:
    # The kind's own check ("a block device, or refused before any open") fails with a
    # ValidationError carrying no errno; the stat under it says ELOOP (review 160/5).
    got = _look(BlockBackend({"device": unstattable_device}), unstattable_device)

    assert got == (
        "error",
        f"cannot read the store: {unstattable_device}: Too many levels of symbolic links",
    )


class _SaysNoMore(BlockBackend):
    """A third party's kind whose error names no cause: raised while handling the failed
    call, without ``from`` (review 162/3)."""

    name = "says-no-more"

    def capacity_bytes(self) -> int:
        try:
            return super().capacity_bytes()
        except BackendError:
            raise BackendError("the store could not be sized")  # noqa: B904 - the point


def test_a_kinds_error_is_judged_by_the_call_it_was_raised_while_handling(
    unstattable_device: str,
) -> None:
    got = _look(_SaysNoMore({"device": unstattable_device}), unstattable_device)

    assert got == ("error", "cannot read the store: the store could not be sized")


class _WalksRealDirectories(BlockBackend):
    """A third party's kind that refuses a link on the way, as the file kind's walk does:
    O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link, which alone reads "not there"."""

    name = "walks-real-directories"

    def capacity_bytes(self) -> int:
        where = os.path.dirname(self.params["device"])  # as given, not resolved
        try:
            os.close(os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        except OSError as e:
            raise UnsafeError(f"{where} is a symbolic link; it is not walked through") from e
        return super().capacity_bytes()


def test_a_store_the_kind_refuses_is_in_error_not_absent() -> None:
    # The store is there, behind a link the kind will not walk: "absent" would offer a
    # provision of it (review 162/4).
    d = Path(tempfile.mkdtemp(prefix="swapadmin-test-", dir="/dev/shm"))
    try:
        (d / "real").mkdir()
        (d / "link").symlink_to("real")
        path = str(d / "link" / "disk")

        got = _look(_WalksRealDirectories({"device": path}), path)
    finally:
        shutil.rmtree(d)

    assert got == (
        "error",
        f"cannot read the store: {d / 'link'} is a symbolic link; it is not walked through",
    )


def test_a_swap_root_to_mend_is_in_error_not_foreign(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=4 << 20, policy=policy) as made:
        pass
    os.chmod(swap_root, 0o777)
    row = Backend(kind="file", name="f", params={"path": str(path)}, provisioned_at=timezone.now())

    with rebuilt(made) as later:
        assert _proof(row, later) == (None, False)
    state, error = _look(rebuilt(made), str(path))

    assert state == "error"
    assert error.startswith(f"cannot read the store: {swap_root} (the swap root) has mode 777")


class _SaysOnlyInWords(PlainFile):
    """A third party's kind whose error has no errno and no failed call under it: a
    ValidationError of its own about what is at the path (review 167/4)."""

    name = "says-only-in-words"

    def capacity_bytes(self) -> int:
        raise BackendError(f"{self.swap_path} is not the kind of store I take")


def test_a_kinds_error_in_words_is_absent_only_when_nothing_is_there(swap_root: Path) -> None:
    there = swap_root / "there"
    there.write_bytes(b"")
    gone = swap_root / "never-made"

    assert _look(_SaysOnlyInWords({"path": str(there)}), str(there)) == (
        "error",
        f"cannot read the store: {there} is not the kind of store I take",
    )
    assert _look(_SaysOnlyInWords({"path": str(gone)}), str(gone)) == ("absent", "")


class _HasNoDevice(PlainFile):
    """A kind with no device now (``swap_path_if_any`` None), sizing its store (review
    169/6): only its own "no device" says the store is gone, not any error in words."""

    name = "has-no-device"
    failure: BackendError

    def capacity_bytes(self) -> int:
        raise self.failure


@pytest.mark.parametrize(
    ("failure", "state"),
    [
        (NoDeviceError("no device; enable it first"), "absent"),
        (BackendError("the backing file is not the kind I take"), "error"),
    ],
)
def test_with_no_device_only_no_device_is_absent(
    swap_root: Path, failure: BackendError, state: str
) -> None:
    plugin = _HasNoDevice({"path": str(swap_root / "backing")})
    plugin.failure = failure

    assert _look(plugin, None)[0] == state
