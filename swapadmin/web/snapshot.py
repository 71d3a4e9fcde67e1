"""A host as the pages show it: its worker's latest snapshot (``Host.observed``), read once.

The sampler (core.sampler.take_sample) owns the snapshot's shape; this is the one place the
pages read it, so a renamed key is fixed here and nowhere else. A host whose worker has not
reported yet reads as zeros with ``known`` False, never as an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from swapadmin.core.models import Backend, Host
from swapadmin.core.readings import finite

#: The parts of ``Host.observed`` a page about the whole fleet reads. The rest (every area,
#: the processes holding swap, tunables, zram) is most of a snapshot and only the host page
#: shows it; parsing it for 500 hosts on every poll is wasted.
SUMMARY_KEYS = ("meminfo", "rates", "psi", "unmanaged")


def _num(source: dict[str, Any], *keys: str) -> float:
    """The first of ``keys`` holding a finite number. The worker is another machine and jsonb
    keeps any number (1e400 comes back as a 401-digit int, which float() refuses): one odd
    figure reads as 0, not a 500 for the overview of the whole fleet."""
    for key in keys:
        number = finite(source.get(key))
        if number is not None:
            return number
    return 0.0


def _dict(source: dict[str, Any], key: str) -> dict[str, Any]:
    value = source.get(key)
    return value if isinstance(value, dict) else {}


def _list(source: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    for key in keys:
        value = source.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return []


@dataclass(frozen=True)
class Zram:
    """One zram device's mm_stat as the latest sample read it. Sizes in bytes; the kernel
    counts same-filled pages (all zeros, say) in pages and stores them in no memory at all,
    so they are shown as a count and as the bytes they stand for."""

    device: str
    orig_data_size: int
    compr_data_size: int
    mem_used_total: int
    mem_limit: int
    same_pages: int
    same_bytes: int
    compression_ratio: float
    #: The managed backend on this device, for the host page's rows (None: not managed).
    backend: Backend | None = None


def _zram(path: str, stat: dict[str, Any], page_size: int) -> Zram:
    same = int(_num(stat, "same_pages"))
    return Zram(
        device=path,
        orig_data_size=int(_num(stat, "orig_data_size")),
        compr_data_size=int(_num(stat, "compr_data_size")),
        mem_used_total=int(_num(stat, "mem_used_total")),
        mem_limit=int(_num(stat, "mem_limit")),
        same_pages=same,
        same_bytes=same * page_size,
        compression_ratio=_num(stat, "compression_ratio"),
    )


@dataclass
class Snapshot:
    known: bool
    mem_total: int = 0
    mem_available: int = 0
    swap_total: int = 0
    swap_free: int = 0
    swap_cached: int = 0
    pswpin_rate: float = 0.0
    pswpout_rate: float = 0.0
    psi_some_avg10: float = 0.0
    psi_full_avg10: float = 0.0
    tunables: dict[str, Any] = field(default_factory=dict)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    top: list[dict[str, Any]] = field(default_factory=list)
    #: zram devices in use as swap, by device name (zram1): the sampler reads only those.
    zram: dict[str, Zram] = field(default_factory=dict)

    @property
    def adoptable(self) -> list[dict[str, Any]]:
        """The unmanaged areas a discover could adopt (the sampler names why not the rest)."""
        return [a for a in self.unmanaged if not a.get("unadoptable")]

    @property
    def swap_used(self) -> int:
        return max(0, self.swap_total - self.swap_free)

    @property
    def zswap(self) -> dict[str, Any]:
        """zswap's settings, or {} when the kernel has none (its fields are None then)."""
        t = self.tunables
        if t.get("zswap_enabled") is None:
            return {}
        return {
            "enabled": bool(t.get("zswap_enabled")),
            "compressor": t.get("zswap_compressor"),
            "max_pool_percent": t.get("zswap_max_pool_percent"),
        }


def summaries(hosts: QuerySet[Host]) -> QuerySet[Host]:
    """``hosts`` reading only SUMMARY_KEYS of their snapshot from the database; snapshot()
    of such a host has those parts and empty tunables and process list."""
    parts = {f"observed_{key}": KeyTransform(key, "observed") for key in SUMMARY_KEYS}
    return hosts.defer("observed").annotate(**parts)


def _observed(host: Host) -> dict[str, Any]:
    if "observed" in host.get_deferred_fields():
        # Read through summaries(): touching host.observed would cost a query per host.
        parts = {key: getattr(host, f"observed_{key}", None) for key in SUMMARY_KEYS}
        return {key: value for key, value in parts.items() if value is not None}
    return host.observed if isinstance(host.observed, dict) else {}


def snapshot(host: Host) -> Snapshot:
    obs = _observed(host)
    if not obs:
        return Snapshot(known=False, mem_total=host.mem_total_bytes)
    mem, rates, psi = _dict(obs, "meminfo"), _dict(obs, "rates"), _dict(obs, "psi")
    return Snapshot(
        known=True,
        mem_total=int(_num(mem, "mem_total") or host.mem_total_bytes),
        mem_available=int(_num(mem, "mem_available")),
        swap_total=int(_num(mem, "swap_total")),
        swap_free=int(_num(mem, "swap_free")),
        swap_cached=int(_num(mem, "swap_cached")),
        pswpin_rate=_num(rates, "pswpin"),
        pswpout_rate=_num(rates, "pswpout"),
        psi_some_avg10=_num(psi, "some_avg10"),
        psi_full_avg10=_num(psi, "full_avg10"),
        tunables=_dict(obs, "tunables"),
        unmanaged=_list(obs, "unmanaged"),
        top=_list(obs, "top"),
        zram={
            os.path.basename(path): _zram(path, stat, host.page_size or 4096)
            for path, stat in _dict(obs, "zram").items()
            if isinstance(stat, dict)
        },
    )


def zram_of(snap: Snapshot, backend: Backend) -> Zram | None:
    """``backend``'s device as the latest sample read it, whatever its kind (a third party's
    kind may swap on a zram device too); None when its area is not on a zram device in use
    as swap (the sampler reads only active ones)."""
    if backend.observed_state == Backend.Observed.INDETERMINATE:
        return None  # its path may now be another's device: its figures are not this one's
    if not backend.swap_path or os.path.dirname(backend.swap_path) != "/dev":
        return None  # /srv/zram0 or /dev/vg0/zram0 is not /dev/zram0
    found = snap.zram.get(os.path.basename(backend.swap_path))
    return None if found is None else replace(found, backend=backend)


def zram_rows(snap: Snapshot, backends: Iterable[Backend]) -> list[Zram]:
    """The host page's zram figures: one row per zram backend in use as swap."""
    return [z for b in backends if (z := zram_of(snap, b)) is not None]
