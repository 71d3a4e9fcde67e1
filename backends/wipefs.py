"""What libblkid recognises on a store: ``wipefs --no-act --json``, read in one place.

Every refusal that protects data on a device (the block kind's "holds data", mkswap's wipe
of old signatures, an adoption's "it holds ext4") reads this one listing. A listing that
could not be made is an error, never an empty list: an empty list means "nothing there",
and the block kind would then format a device whose filesystem wipefs failed to read.

What this cannot catch: wipefs that opens a device but meets read errors ends libblkid's
probe loop early and exits 0 with a short or empty listing (review 148/1). Telling that
apart needs reads of the regions libblkid probes through the same descriptor, not yet done.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Final

from .errors import KernelError, printable

#: wipefs reads a few sectors at each offset libblkid knows; a minute is a device that no
#: longer answers, not a slow one.
TIMEOUT: Final = 60.0
_COLUMNS: Final = "OFFSET,LENGTH,TYPE,USAGE,LABEL,UUID"


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


def signatures(where: str | int) -> list[Signature]:
    """Every signature on a path, or on an open descriptor (``/dev/fd/N``: the very store
    the caller holds and proved, not a name looked up again). Reads only. KernelError when
    wipefs is missing, fails or hangs."""
    fds: tuple[int, ...] = (where,) if isinstance(where, int) else ()
    target = f"/dev/fd/{where}" if isinstance(where, int) else where
    argv = ["wipefs", "--no-act", "--json", "--output", _COLUMNS, target]
    try:
        # Labels are any bytes (mkswap -L under another locale, a FAT label in a DOS code
        # page) and wipefs's JSON carries them raw: decoded as names are, so the JSON still
        # parses, then made printable field by field.
        done = subprocess.run(
            argv,
            capture_output=True,
            encoding="utf-8",
            errors="surrogateescape",
            check=False,
            timeout=TIMEOUT,
            pass_fds=fds,
        )
    except FileNotFoundError:
        raise KernelError(
            "wipefs is not installed; install util-linux (Debian: apt-get install util-linux)"
        ) from None
    except subprocess.TimeoutExpired:
        raise KernelError(
            f"wipefs did not finish reading {target} within {TIMEOUT:.0f} s: "
            "the device is not answering, so what it holds is not known",
            retryable=True,
        ) from None
    if done.returncode != 0:
        reason = done.stderr.strip().split("\n")[-1] or f"exit status {done.returncode}"
        raise KernelError(
            f"wipefs could not read {target}, so what it holds is not known: {reason}"
        )
    if not done.stdout.strip():
        return []  # wipefs prints nothing at all when there is no signature
    try:
        return [_signature(row) for row in json.loads(done.stdout)["signatures"]]
    except (ValueError, KeyError, TypeError) as e:
        raise KernelError(f"wipefs's listing of {target} is not understood: {e}") from e


def _signature(row: dict[str, Any]) -> Signature:
    def text(key: str) -> str:
        return printable(str(row.get(key) or ""))

    return Signature(
        offset=int(str(row["offset"]), 0),  # "0x438"
        length=int(row.get("length") or 0),
        type=text("type"),
        usage=text("usage"),
        label=text("label"),
        uuid=text("uuid"),
    )
