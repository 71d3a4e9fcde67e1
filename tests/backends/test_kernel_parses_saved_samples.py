"""The /proc and /sys parsers read text the kernel really printed, and refuse what it never
would."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends import kernel
from backends.errors import KernelError
from tests.backends.samples import sample


def test_it_reads_file_areas_with_escaped_spaces_and_default_priority() -> None:
    areas = kernel.parse_swaps(sample("proc_swaps.txt"))
    assert [a.path for a in areas] == [
        "/var/lib/swapadmin/swap/with space.swap",
        "/var/lib/swapadmin/swap/plain.swap",
        "/var/lib/swapadmin/swap/gone.swap",
    ]
    assert areas[0].priority == 7
    assert areas[1].priority == -2
    assert areas[0].size_bytes == 40956 * 1024
    assert {a.type for a in areas} == {"file"}
    assert not any(a.deleted for a in areas)


def test_it_reads_a_zram_partition_padded_to_forty_columns() -> None:
    zram, swapfile = kernel.parse_swaps(sample("proc_swaps_zram.txt"))
    assert (zram.path, zram.type, zram.size_bytes, zram.used_bytes, zram.priority) == (
        "/dev/zram1",
        "partition",
        32764 * 1024,
        0,
        100,
    )
    assert swapfile.path.endswith("/a") and swapfile.type == "file"


def test_it_marks_a_deleted_file_and_keeps_its_old_path() -> None:
    # seq_file_path() escapes the space d_path() puts before "(deleted)".
    text = "Filename\tType\tSize\tUsed\tPriority\n/srv/old\\040(deleted) file\t1024\t8\t-3\n"
    (area,) = kernel.parse_swaps(text)
    assert area.path == "/srv/old" and area.deleted and area.used_bytes == 8 * 1024


def test_it_reads_an_empty_table() -> None:
    assert kernel.parse_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n") == []


def test_it_refuses_a_line_it_cannot_read() -> None:
    with pytest.raises(KernelError, match="unexpected line in /proc/swaps"):
        kernel.parse_swaps("Filename Type Size Used Priority\n/x file 12 3\n")
    with pytest.raises(KernelError, match="unexpected numbers"):
        kernel.parse_swaps("Filename Type Size Used Priority\n/x file 12 3 high\n")


def _kernel_escape(path: str) -> str:
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


@given(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
    ).map(lambda s: "/" + s)
)
def test_it_round_trips_any_path_the_kernel_escapes(path: str) -> None:
    text = f"Filename\tType\tSize\tUsed\tPriority\n{_kernel_escape(path)} file\t4\t0\t-2\n"
    if path.endswith(" (deleted)"):
        return  # indistinguishable from a deleted file, in the kernel's format too
    (area,) = kernel.parse_swaps(text)
    assert area.path == path


def test_it_reads_meminfo_in_bytes() -> None:
    mem = kernel.parse_meminfo(sample("proc_meminfo.txt"))
    assert mem.mem_total == 24683656 * 1024
    assert 0 < mem.mem_available <= mem.mem_total
    # Saved while the three 40 MiB areas of proc_swaps.txt were active and unused.
    assert mem.swap_total == mem.swap_free == 3 * 40956 * 1024
    assert mem.swap_cached == 0


def test_it_names_the_missing_meminfo_field() -> None:
    with pytest.raises(KernelError, match="MemAvailable"):
        kernel.parse_meminfo(
            "MemTotal: 100 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nSwapCached: 0 kB\n"
        )


def test_it_reads_vmstat_counters() -> None:
    counters = kernel.parse_vmstat(sample("proc_vmstat.txt"))
    assert counters["pswpin"] >= 0 and counters["pswpout"] >= 0
    assert "nr_free_pages" in counters
    with pytest.raises(KernelError, match="pswpout"):
        kernel.parse_vmstat("pswpin 3\n")


def test_it_reads_memory_pressure() -> None:
    assert kernel.parse_psi(sample("proc_pressure_memory.txt")) == kernel.Psi(
        0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0
    )
    busy = kernel.parse_psi(
        "some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\n"
        "full avg10=0.75 avg60=0.10 avg300=0.01 total=6543\n"
    )
    assert (busy.some_avg10, busy.full_avg60, busy.some_total, busy.full_total) == (
        1.5,
        0.1,
        123456,
        6543,
    )
    with pytest.raises(KernelError, match="full_avg10"):
        kernel.parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_it_reads_zram_mm_stat_and_its_compression_ratio() -> None:
    stat = kernel.parse_mm_stat(sample("zram_mm_stat.txt"))
    assert stat.orig_data_size == 16 * 2**20
    assert stat.compr_data_size == 4319232
    assert stat.same_pages == 1024 and stat.huge_pages == 1024
    assert stat.compression_ratio == pytest.approx(16 * 2**20 / 4319232)


def test_it_reads_the_seven_column_mm_stat_of_old_kernels() -> None:
    stat = kernel.parse_mm_stat("4096 0 0 0 0 1 0\n")
    assert stat.huge_pages == 0 and stat.compression_ratio == 0.0
    with pytest.raises(KernelError, match="at least 7"):
        kernel.parse_mm_stat("1 2 3\n")


def test_it_reads_vmswap_from_status_and_skips_kernel_threads() -> None:
    proc = kernel.parse_status(42, sample("proc_pid_status.txt"))
    assert proc is not None and proc.name == "cat" and proc.swap_bytes == 0
    assert kernel.parse_status(2, sample("proc_kthread_status.txt")) is None
