"""The web server's process freezes what start-up made (``swapadmin/wsgi.py``), with the
URLconf and so every view loaded first: its full collections then walk only what requests
made. Unfrozen, the ~110,000 objects of Django, DRF and the project cost a 30-70 ms pause to
whichever request crosses the collector's threshold, and a 1,000-row API page crosses it
about one request in ten (issue 14's API row, docs/BENCHMARKS-control-plane.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json, sys
import swapadmin.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "views": [m for m in ("swapadmin.web.views", "swapadmin.api.views") if m in sys.modules],
}))
"""


def test_start_up_is_frozen_with_the_views_loaded(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "swapadmin.settings",
           "SWAPADMIN_DATA_DIR": str(tmp_path)}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    heap = json.loads(done.stdout.splitlines()[-1])
    assert heap["views"] == ["swapadmin.web.views", "swapadmin.api.views"]
    # Start-up is tens of thousands of objects; what is left in the collector's sight is
    # what the probe's own lines made after the freeze.
    assert heap["frozen"] > 50_000, heap
    assert heap["tracked"] < heap["frozen"] // 100, heap
