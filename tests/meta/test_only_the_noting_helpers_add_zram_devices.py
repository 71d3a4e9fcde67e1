"""Only the zram kind's ``_hot_add`` and the harness's ``hot_add_zram`` add a zram device (a
read of ``/sys/class/zram-control/hot_add`` makes one): both note it in the test session's
ledger. A device added anywhere else would fall outside the harness's take-down, which acts
only on devices in the ledger (tests/fixtures/host.py), and be named at the end as a
stranger's instead of failing the test that leaked it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: A path to the control file written as code does: "hot_add" or 'hot_add' after a slash or
#: as a literal of its own.
HOT_ADD = re.compile(r"""(["'/])hot_add["']""")

#: Where reading it is right: the product's one hot_add, the harness's, and the inner run
#: that adds a device as a stranger would, to show it is left alone (and this module's
#: samples of the pattern).
ALLOWED = {
    "backends/plugins/zram.py",
    "tests/fixtures/host.py",
    "tests/meta/inner_run_makes_zram_devices.py",
    "tests/meta/test_only_the_noting_helpers_add_zram_devices.py",
}


def test_no_other_code_reads_the_hot_add_file() -> None:
    found = {
        f"{path.relative_to(REPO)}:{number}"
        for top in ("backends", "swapadmin", "tests", "contrib", "bench", "scripts")
        for path in (REPO / top).rglob("*.py")
        if str(path.relative_to(REPO)) not in ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HOT_ADD.search(line)
    }
    assert not found, "reads hot_add without noting the device in the ledger: " + ", ".join(
        sorted(found)
    )


def test_the_pattern_finds_a_read_written_either_way() -> None:
    assert HOT_ADD.search("""(ZRAM_CONTROL / "hot_add").read_text()""")
    assert HOT_ADD.search("""Path('/sys/class/zram-control/hot_add').read_text()""")
    assert not HOT_ADD.search("""def hot_add_zram() -> str:""")
