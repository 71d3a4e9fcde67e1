"""The live readers parse this host's own /proc and /sys, and agree with what we make."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import KernelError, ValidationError
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import hot_add_zram, needs_root


def test_it_reads_meminfo_vmstat_and_pressure() -> None:
    mem = kernel.meminfo()
    assert 0 < mem.mem_available <= mem.mem_total == kernel.mem_total()
    assert 0 <= mem.swap_free <= mem.swap_total
    counters = kernel.vmstat()
    assert counters["pswpin"] >= 0 and counters["pswpout"] >= 0
    psi = kernel.psi_memory()
    assert psi is not None if Path("/proc/pressure/memory").exists() else psi is None
    if psi is not None:
        assert psi.full_total <= psi.some_total


def test_it_reads_the_host_basics() -> None:
    assert kernel.kernel_release() == os.uname().release
    assert kernel.page_size() == os.sysconf("SC_PAGE_SIZE")


@pytest.mark.root
@needs_root
def test_it_counts_a_new_area_in_swap_areas_and_meminfo(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    before = kernel.meminfo().swap_total
    with swapped_off_after(path):
        kernel.swapon(str(path))
        assert str(path) in [a.path for a in kernel.swap_areas()]
        # Another engineer's area may come or go meanwhile: compare with a tolerance of that.
        grown = kernel.meminfo().swap_total - before
        assert grown % 4096 == 0 and grown != 0


@pytest.mark.root
@needs_root
def test_it_reads_mm_stat_of_a_zram_device_it_made(zram_cleanup: None) -> None:
    dev = hot_add_zram()
    num = dev.removeprefix("/dev/zram")
    Path(f"/sys/block/zram{num}/disksize").write_text(str(16 * 2**20))
    text = b"swapadmin " * (4 * 2**20 // 10)
    with open(dev, "wb") as f:
        f.write(text[: 4 * 2**20])
    stat = kernel.zram_mm_stat(dev)
    assert stat.orig_data_size == 4 * 2**20
    assert stat.compression_ratio > 2
    assert kernel.zram_mm_stat(f"zram{num}") == stat


def test_it_refuses_a_name_that_is_not_zram() -> None:
    with pytest.raises(ValidationError, match="not a zram device"):
        kernel.zram_mm_stat("/dev/vda")
    with pytest.raises(ValidationError):
        kernel.zram_mm_stat("zram0/../../vda")


def test_it_says_a_zram_device_does_not_exist() -> None:
    existing = {p.name for p in Path("/sys/block").glob("zram*")}
    missing = next(f"zram{i}" for i in range(1000, 2000) if f"zram{i}" not in existing)
    with pytest.raises(KernelError, match=f"no zram device {missing}"):
        kernel.zram_mm_stat(missing)


def test_it_lists_only_processes_holding_swap_most_first() -> None:
    procs = kernel.top_swap_processes(5)
    assert len(procs) <= 5
    assert all(p.swap_bytes > 0 for p in procs)
    assert [p.swap_bytes for p in procs] == sorted((p.swap_bytes for p in procs), reverse=True)
