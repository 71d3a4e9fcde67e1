"""A zram device whose identity cannot be read is neither known by its number alone, nor
taken for someone else's.

A zram device is this backend's by boot, number and disk sequence number: a number is given
again within a boot once freed, a disk sequence number never. Two reads failed open:
- the disk sequence number read as none on any error. Recorded so when the device was
  added, the device was known by boot and number alone, so a destroy after the number had
  gone to another tool's device would reset and remove that one. Read so when the device
  was proven, ours looked like another's, and a destroy forgot it, still configured;
- /proc/devices read as "zram is not loaded" when it could not be read: every zram device
  then looked like another kind's, and a destroy forgot ours the same way.
Now only a missing diskseq file (a kernel before 5.15 has none) reads as none, and any
other failure is raised, naming the file; nothing is recorded or forgotten. A recorded disk
sequence number that now reads as none is still a mismatch, never skipped.

None of these failures happens on this VM: root reads sysfs and procfs files whatever their
mode, they do not fail with EIO, and this kernel has diskseq. Each is made by failing the
open of that one file (``io.open``, which ``Path.read_text`` calls) with the errno the real
failure gives, and of no other file.
"""

from __future__ import annotations

import errno
import io
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends.errors import KernelError, NotOursError
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.by_hand import Zram, zram_devices, zram_of
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB


def _failing(which: Callable[[str], bool], err: int, seen: list[str]) -> Callable[..., object]:
    """``io.open`` failing with ``err`` for the paths ``which`` accepts (noted in ``seen``),
    and opening every other file as it does."""
    real = io.open

    def opening(file: object, *args: object, **kw: object) -> object:
        if isinstance(file, str | os.PathLike) and which(os.fspath(file)):
            seen.append(os.fspath(file))
            raise OSError(err, os.strerror(err), os.fspath(file))
        return real(file, *args, **kw)  # type: ignore[call-overload]

    return opening


def _diskseq_of(name: str) -> Callable[[str], bool]:
    """``name``'s diskseq, by /sys/block or by the /sys/devices path /sys/dev/block
    resolves to."""
    return lambda path: path.endswith(f"/{name}/diskseq")


def _made(zram, policy: Policy) -> tuple[ZramBackend, Zram]:  # type: ignore[no-untyped-def]
    made = zram.track(provisioned("zram", {}, size=SIZE, policy=policy))
    made.close()
    zram.note(made.state)
    assert isinstance(made, ZramBackend)
    ours = zram_of(Path(made.state["device"]).name)
    assert ours.diskseq and ours.diskseq == made.record["diskseq"]
    return made, ours


def _destroyed(job: ZramBackend, ours: Zram) -> None:
    """Destroyed for real, once the failure is gone: the device was kept ours throughout."""
    job.swapfile(False)
    assert "device" not in job.state and not ours.alive()


def test_a_device_added_whose_disk_sequence_cannot_be_read_is_not_recorded(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name for p in Path("/sys/block").glob("zram*")}
    seen: list[str] = []

    def new_diskseq(path: str) -> bool:
        found = re.search(r"/(zram[0-9]+)/diskseq$", path)
        return found is not None and found[1] not in before

    with zram_devices() as zram:
        backend = ZramBackend(
            {}, size_bytes=SIZE, policy=policy, provisioning=True, owner=str(uuid.uuid4())
        )
        zram.track(backend)
        raised: KernelError | None = None
        with monkeypatch.context() as m:
            m.setattr(io, "open", _failing(new_diskseq, errno.EIO, seen))
            try:
                backend.swapfile(True)
            except KernelError as e:
                raised = e
            finally:
                backend.close()  # a store taken stays open, and a device open is not removed
        assert seen, "no new device's diskseq was read"
        name = Path(seen[0]).parent.name
        added = zram_of(name)  # read now, as it is
        zram.made.append(added)  # whatever the backend did: the test's to remove
        assert raised is not None, "the device was taken without its disk sequence number"
        assert raised.errno == errno.EIO
        assert (
            f"/dev/{name} was added, but neither recorded nor used: cannot read the disk "
            f"sequence number of /dev/{name}"
        ) in raised.message
        assert "Input/output error" in raised.message
        assert "device" not in backend.state and not backend.record.get("devnum")
        assert added.alive() and added.attr("disksize") == "0"  # never configured


def _proc_devices(_name: str) -> Callable[[str], bool]:
    return lambda path: path == "/proc/devices"


@pytest.mark.parametrize(
    ("unreadable", "err", "said"),
    [
        pytest.param(_diskseq_of, errno.EIO, "disk sequence number of /dev/{name}", id="diskseq"),
        pytest.param(_proc_devices, errno.EACCES, "cannot read /proc/devices", id="proc-devices"),
    ],
)
def test_an_identity_that_cannot_be_read_keeps_the_device(
    policy: Policy,
    monkeypatch: pytest.MonkeyPatch,
    unreadable: Callable[[str], Callable[[str], bool]],
    err: int,
    said: str,
) -> None:
    with zram_devices() as zram:
        made, ours = _made(zram, policy)
        job = rebuilt(made)  # the destroy job's plugin
        assert isinstance(job, ZramBackend)
        with monkeypatch.context() as m:
            m.setattr(io, "open", _failing(unreadable(ours.name), err, []))
            with pytest.raises(KernelError, match=said.format(name=ours.name)) as raised:
                job.swapfile(False)
        assert raised.value.errno == err
        assert job.state == made.state
        assert ours.alive() and ours.attr("disksize") == str(SIZE)
        _destroyed(job, ours)


def test_a_recorded_disk_sequence_that_now_reads_as_none_is_not_ours(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    with zram_devices() as zram:
        made, ours = _made(zram, policy)
        job = rebuilt(made)
        assert isinstance(job, ZramBackend)
        with monkeypatch.context() as m:
            # No diskseq file, as on a kernel before 5.15: read as none, never skipped.
            m.setattr(io, "open", _failing(_diskseq_of(ours.name), errno.ENOENT, []))
            with pytest.raises(
                NotOursError, match=f"sequence number .*is none, not {ours.diskseq}"
            ):
                job.verify()
        assert job.state == made.state and ours.alive()
        _destroyed(job, ours)
