"""Sizes in the words a sysadmin reads: IEC units, since swap sizes are powers of two."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def iec(value: object) -> str:
    """1536 -> "1.5 KiB"; "—" for what is not a number (a figure not read yet)."""
    try:
        n = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    unit = 0
    while abs(n) >= 1024 and unit < len(_UNITS) - 1:
        n /= 1024
        unit += 1
    if unit == 0:
        return f"{int(n)} B"
    return f"{n:.1f} {_UNITS[unit]}" if abs(n) < 100 else f"{n:.0f} {_UNITS[unit]}"
