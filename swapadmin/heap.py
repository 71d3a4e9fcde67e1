"""The web server's start-up heap, out of the collector's sight.

A full (generation 2) collection walks every object the collector tracks. In a server's
process most of them are start-up's: the ~110,000 objects of Django, DRF and the project,
30-70 ms a walk on the benchmark VM, paid by whichever request crosses the threshold. A
1,000-row API page allocates enough to cross it about one request in ten: through gunicorn,
its p95 was 176 ms with start-up in sight and 109 ms with it frozen, at the same p50 of
71 ms (docs/BENCHMARKS-control-plane.md). ``gc.freeze()`` moves what exists into a permanent
generation that is never walked nor freed; start-up's own garbage is collected first so that
none of it is kept for good.
"""

from __future__ import annotations

import gc

from django.urls import get_resolver


def freeze_start_up() -> None:
    """Load what the first request would (the URLconf, and with it every view, serializer
    and form module), collect, and freeze. Called once, when the app is loaded."""
    get_resolver().url_patterns  # noqa: B018 (the property imports the URLconf)
    gc.collect()
    gc.freeze()
