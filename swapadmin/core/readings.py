"""Figures read from what a host's worker sent.

The worker is another machine's code, and PostgreSQL's jsonb keeps any number: 1e400 comes
back as a 401-digit int, which float() refuses, and a string or a bool may stand where a
figure should. Every reader of a sample or a snapshot asks ``finite`` first, so one odd
reading is left out (or read as 0) rather than a 500 for a whole page, range or scrape.
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> float | None:
    """``value`` as a finite float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
