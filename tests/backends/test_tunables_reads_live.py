"""read_tunables reports what /proc/sys and zswap's parameters hold now."""

from __future__ import annotations

from pathlib import Path

from backends import tunables


def test_it_reads_the_values_in_force() -> None:
    t = tunables.read_tunables()
    assert t.swappiness == int(Path("/proc/sys/vm/swappiness").read_text())
    assert t.page_cluster == int(Path("/proc/sys/vm/page-cluster").read_text())
    zswap = Path("/sys/module/zswap/parameters")
    if zswap.is_dir():
        assert t.zswap_compressor == (zswap / "compressor").read_text().strip()
        assert t.zswap_enabled == ((zswap / "enabled").read_text().strip() == "Y")
        assert t.zswap_max_pool_percent == int((zswap / "max_pool_percent").read_text())
    assert set(t.to_dict()) == {
        "swappiness",
        "page_cluster",
        "zswap_enabled",
        "zswap_compressor",
        "zswap_max_pool_percent",
    }


def test_it_lists_the_kernels_compressors() -> None:
    offered = tunables.compressors()
    assert "lzo" in offered
    assert "aes" not in offered and "crc32c" not in offered
