"""What libblkid recognises on a store: ``wipefs --no-act --json``, read in one place.

Every refusal that protects data on a device (the block kind's "holds data", mkswap's wipe
of old signatures, an adoption's "it holds ext4") reads this one listing. A listing that
could not be made is an error, never an empty list: an empty list means "nothing there",
and the block kind would then format a device whose filesystem wipefs failed to read.

wipefs alone cannot say when its listing is short: on a device it opens but cannot read,
libblkid's probe loop ends at the first read error and wipefs exits 0 with a short or empty
listing (review 148/1). Probers follow offsets stored on the disk, so no fixed set of
regions covers what they read (review 154/1): a listing that gates a write
(:func:`signatures_read_whole`) is bracketed by a child running libblkid's whole probe on
the same file (``_blkid_probe.py``), whose own answer tells a broken probe from an ended
one: a broken probe is a refusal, never "nothing there".
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import KernelError, UnsafeError, printable
from .kernel import finish

#: wipefs reads a few sectors at each offset libblkid knows; a minute is a device that no
#: longer answers, not a slow one.
TIMEOUT: Final = 60.0
_COLUMNS: Final = "OFFSET,LENGTH,TYPE,USAGE,LABEL,UUID"
#: The child that runs libblkid's whole probe, as wipefs does, and says whether it ended
#: or broke on a read error (which wipefs cannot tell apart).
PROBE: Final = Path(__file__).with_name("_blkid_probe.py")


@dataclass(frozen=True)
class Signature:
    """One magic string libblkid recognises. ``type`` (``ext4``, ``gpt``, ``swap``) and
    ``usage`` (``filesystem``, ``partition-table``, ``raid``, ``other``) are libblkid's
    words; ``label`` and ``uuid`` are made printable (a label is any bytes)."""

    offset: int
    length: int
    type: str
    usage: str
    label: str = ""
    uuid: str = ""


def signatures(where: str | int, name: str = "") -> list[Signature]:
    """Every signature on a path, or on an open descriptor (``/dev/fd/N``: the very store
    the caller holds and proved, not a name looked up again; ``name`` is its path, which a
    message names instead of the descriptor). Reads only. KernelError when wipefs is
    missing, fails or hangs."""
    fds: tuple[int, ...] = (where,) if isinstance(where, int) else ()
    argv = ["wipefs", "--no-act", "--json", "--output", _COLUMNS]
    argv.append(f"/dev/fd/{where}" if isinstance(where, int) else where)
    target = name or argv[-1]
    returncode, stdout, stderr = _run(argv, fds, "wipefs", target)
    if returncode != 0:
        reason = stderr.strip().split("\n")[-1] or f"exit status {returncode}"
        raise KernelError(
            f"wipefs could not read {target}, so what it holds is not known: {reason}"
        )
    if not stdout.strip():
        return []  # wipefs prints nothing at all when there is no signature
    try:
        return [_signature(row) for row in json.loads(stdout)["signatures"]]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise KernelError(f"wipefs's listing of {target} is not understood: {e}") from e


def signatures_read_whole(fd: int, name: str) -> list[Signature]:
    """Every signature on the store open on ``fd`` (``name`` is its path, for messages),
    for a decision that gates a write. Before and after wipefs lists them, a child runs
    libblkid's whole probe on the same file with its cache dropped, and reads its first 8
    and last 32 MiB: a probe broken by a read error, or a region that cannot be read, is an
    UnsafeError (what the store holds is not known; only force may format it), saying what
    could be read. The second run catches an error that came and went for wipefs's reads."""
    try:
        _probe_completes(fd, name)
    except UnsafeError as e:
        try:
            seen = signatures(fd, name)
        except KernelError:
            seen = []
        if seen:
            listed = ", ".join(f"{s.type} at {s.offset:#x}" for s in seen)
            e.message += f" What could be read holds: {listed}."
        raise
    found = signatures(fd, name)
    # Only the probe again: the regions were just read, and a second read of 40 MiB on a
    # slow device would only add to the time the provision waits.
    again = _probe_completes(fd, name, probe_only=True)
    if again and not found:
        # libblkid found something and wipefs listed nothing: a read that came back short
        # for wipefs (libblkid takes that for "not this type"), not an empty device.
        raise UnsafeError(
            f"libblkid found {again} signature(s) on {name} that wipefs could not list: "
            "what it holds is not known. Confirm with force to make it swap anyway."
        )
    return found


def _probe_completes(fd: int, name: str, *, probe_only: bool = False) -> int:
    """How many signatures libblkid's whole probe found on ``fd``; UnsafeError when it
    broke on a read error or a region could not be read."""
    argv = [sys.executable, "-I", str(PROBE), str(fd)]
    if probe_only:
        argv.append("--probe-only")
    returncode, stdout, stderr = _run(argv, (fd,), "libblkid's probe", name)
    try:
        answer = json.loads(stdout.strip().splitlines()[-1])
        assert isinstance(answer, dict)
    except (ValueError, IndexError, AssertionError):
        said = stderr.strip().split("\n")[-1] or f"exit status {returncode}"
        raise KernelError(
            f"the probe of {name} failed, so what it holds is not known: {said}"
        ) from None
    if answer.get("complete") is True:
        found = answer.get("found")
        return found if isinstance(found, int) else 0
    if "unreadable" in answer:
        start, length = answer["unreadable"]
        why = answer.get("why")
        if why == "it ends before its size":
            raise KernelError(
                f"{name} ended before its size at byte {start:#x}: is it changing size? "
                "Try again once it is settled.",
                retryable=True,
            )
        raise UnsafeError(
            f"{name} cannot be read within bytes {start:#x}-{start + length:#x} ({why}), "
            "where filesystems, RAID members and partition tables keep their metadata: what "
            "it holds is not known. Confirm with force to make it swap anyway (a scan then "
            "finds the pages that fail)."
        )
    if "broken" in answer:
        raise UnsafeError(
            f"libblkid's probe of {name} for filesystems, RAID members and partition tables "
            f"broke off on a read error ({answer['broken']}): what it holds is not known. "
            "Confirm with force to make it swap anyway (a scan then finds the pages that "
            "fail)."
        )
    raise KernelError(
        f"the probe of {name} failed, so what it holds is not known: "
        f"{answer.get('failed') or answer}"
    )


def _run(argv: list[str], fds: tuple[int, ...], tool: str, target: str) -> tuple[int, str, str]:
    """``argv``'s exit status, stdout and stderr, bounded by :data:`TIMEOUT`; ``tool`` and
    ``target`` name it and what it reads in the KernelError for one that cannot be
    started or does not finish. Output is decoded as names are (surrogateescape): labels
    are any bytes, and wipefs's JSON carries them raw."""
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="surrogateescape",
            pass_fds=fds,
        )
    except FileNotFoundError:
        raise KernelError(
            f"{tool} is not installed; install util-linux (Debian: apt-get install util-linux)"
        ) from None
    except OSError as e:  # not executable, no memory to fork: still "not known", said so
        raise KernelError(
            f"{tool} cannot be run ({e.strerror}), so what {target} holds is not known",
            errno=e.errno,
        ) from None
    try:
        stdout, stderr = finish(proc, TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KernelError(
            f"{tool} did not finish reading {target} within {TIMEOUT:.0f} s: "
            "the device is not answering, so what it holds is not known",
            retryable=True,
        ) from None
    return proc.returncode, stdout, stderr


def _signature(row: dict[str, Any]) -> Signature:
    def text(key: str) -> str:
        return printable(str(row.get(key) or ""))

    return Signature(
        offset=int(str(row["offset"]), 0),  # "0x438"
        length=int(row["length"]),  # asked for: a row without it is not understood
        type=text("type"),
        usage=text("usage"),
        label=text("label"),
        uuid=text("uuid"),
    )
