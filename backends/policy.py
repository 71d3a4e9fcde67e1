"""What swapadmin may touch on a host, and why not.

The policy is read from the worker's own environment: a message from the control plane
can ask, but only the host decides. Checks that need the host (does the path exist, is the
device mounted) run on the worker; lexical checks also run in the web process so that bad
input is refused before a job is queued.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SWAP_ROOTS = "/var/lib/swapadmin/swap"


@dataclass(frozen=True)
class Policy:
    #: Directories under which file and loop backends may create swap files.
    swap_roots: tuple[Path, ...] = (Path(DEFAULT_SWAP_ROOTS),)
    #: RAM that must stay available after a swapoff moves an area's pages back in.
    swapoff_margin_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        roots = tuple(
            Path(r) for r in env.get("SWAPADMIN_SWAP_ROOTS", DEFAULT_SWAP_ROOTS).split(":") if r
        )
        for r in roots:
            if not r.is_absolute():
                raise ValueError(f"SWAPADMIN_SWAP_ROOTS: {str(r)!r} is not an absolute path")
        margin = int(env.get("SWAPADMIN_SWAPOFF_MARGIN_BYTES", str(cls.swapoff_margin_bytes)))
        return cls(swap_roots=roots, swapoff_margin_bytes=margin)
