"""Run only by test_a_test_run_takes_down_only_the_zram_devices_its_processes_made.py, in a
pytest of its own (not named test_*, so no other run collects it): a test that leaves three
zram devices behind. One it adds itself and one a process it starts adds, both noted in
the session's ledger (the process inherits the ledger's variable); one a process adds
that, like another test session or a distribution's zram-generator, notes nothing. Each is
written to INNER_RUN_OUT as "device diskseq", for the outer test to look at and take down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backends.plugins import zram
from tests.fixtures.host import hot_add_zram, zram_diskseq

#: A child process adding a device as the zram kind does: noted only where its environment
#: names a ledger.
CHILD = """
from pathlib import Path
from backends.plugins import zram
name = f"zram{int((zram.ZRAM_CONTROL / 'hot_add').read_text())}"
zram.note_added(name, Path(f"/sys/block/{name}/diskseq").read_text().strip())
print(f"/dev/{name}")
"""


def _child(env: dict[str, str]) -> str:
    repo = str(Path(__file__).resolve().parents[2])
    run = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=repo, check=True, capture_output=True, text=True
    )
    return run.stdout.strip()


def _write(name: str, dev: str) -> None:
    out = Path(os.environ["INNER_RUN_OUT"])
    (out / name).write_text(f"{dev} {zram_diskseq(Path(dev).name)}")


def test_leaves_three_zram_devices_behind() -> None:
    _write("own", hot_add_zram())
    _write("child", _child(dict(os.environ)))
    strangers = {k: v for k, v in os.environ.items() if k != zram.LEDGER_ENV}
    _write("stranger", _child(strangers))
