"""The fstab probe of a health round resolves each tag line of the fstab once for the
whole round, not once per line per name of each backend: every blkid probe opens every
block device on the host (a distribution's zram reset fails with EBUSY while one runs).
The real blkid runs; a wrapper first in PATH only counts its runs. The findings are the
same as before: the backend's own line is found, by path and by its UUID."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend
from swapadmin.health import probes
from tests.fixtures.host import needs_root

pytestmark = [needs_root]

TAG_LINES = 4


@pytest.fixture
def counted_blkid(scratch: Path, tool_on_path: Callable[..., Path]) -> Path:
    """A ``blkid`` first in PATH that appends a line to the returned file, then runs the
    real one with the same arguments."""
    real = shutil.which("blkid")
    assert real, "util-linux's blkid is needed"
    runs = scratch / "blkid-runs"
    runs.write_text("")
    tool_on_path("blkid", f'#!/bin/sh\necho "$*" >> {runs}\nexec {real} "$@"\n')
    return runs


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines())


def target(name: str, path: Path, swap_uuid: str | None) -> probes.Target:
    row = Backend(
        kind="file", name=name, params={"path": str(path)}, persist=True, swap_uuid=swap_uuid
    )
    return probes.Target(row, None, str(path), kernel.find_area(str(path)))


def test_two_backends_checks_in_one_round_probe_each_tag_line_once(scratch, counted_blkid):
    a, b = scratch / "a.swap", scratch / "b.swap"
    for p in (a, b):
        with open(p, "wb") as f:
            f.truncate(1 << 20)
    b_uuid = str(uuid.uuid4())
    subprocess.run(["mkswap", "-q", "-U", b_uuid, str(b)], check=True)
    # Tags that name nothing here (each costs a probe to find out), then the two areas.
    others = [f"UUID={uuid.uuid4()} none swap sw 0 0" for _ in range(TAG_LINES - 1)]
    tab = scratch / "fstab"
    tab.write_text(
        "\n".join([*others, f"{a} none swap sw 0 0", f"UUID={b_uuid} none swap sw 0 0"]) + "\n"
    )

    first = probes.check_fstab(target("a", a, None), tab)
    after_first = runs(counted_blkid)
    second = probes.check_fstab(target("b", b, b_uuid), tab)

    assert [f.status for f in first] == ["ok"] and first[0].value["lines"] == [TAG_LINES]
    assert [f.status for f in second] == ["ok"] and second[0].value["lines"] == [TAG_LINES + 1]
    # One probe per tag line at most for the round; the second backend's check probes nothing.
    assert after_first <= TAG_LINES, counted_blkid.read_text()
    assert runs(counted_blkid) == after_first, counted_blkid.read_text()


def test_a_changed_fstab_is_read_again(scratch, counted_blkid):
    a = scratch / "a.swap"
    with open(a, "wb") as f:
        f.truncate(1 << 20)
    tab = scratch / "fstab"
    tab.write_text(f"UUID={uuid.uuid4()} none swap sw 0 0\n")
    assert probes.check_fstab(target("a", a, None), tab)[0].status == "warn"

    with tab.open("a") as f:
        f.write(f"{a} none swap sw 0 0\n")
    [finding] = probes.check_fstab(target("a", a, None), tab)
    assert finding.status == "ok" and finding.value["lines"] == [2]
