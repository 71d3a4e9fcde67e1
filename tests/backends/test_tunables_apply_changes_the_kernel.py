"""apply_tunables really changes the kernel's values; each test puts the host back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import tunables
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]
ZSWAP = Path("/sys/module/zswap/parameters")


@pytest.fixture
def restored() -> Iterator[tunables.Tunables]:
    """The host's tunables before the test, written back afterwards whatever happened."""
    before = tunables.read_tunables()
    try:
        yield before
    finally:
        (Path("/proc/sys/vm/swappiness")).write_text(str(before.swappiness))
        (Path("/proc/sys/vm/page-cluster")).write_text(str(before.page_cluster))
        if before.zswap_enabled is not None:
            (ZSWAP / "enabled").write_text("Y" if before.zswap_enabled else "N")
            (ZSWAP / "compressor").write_text(str(before.zswap_compressor))
            (ZSWAP / "max_pool_percent").write_text(str(before.zswap_max_pool_percent))
        assert tunables.read_tunables() == before


def test_it_sets_swappiness_and_page_cluster(restored: tunables.Tunables) -> None:
    swappiness = 17 if restored.swappiness != 17 else 18
    page_cluster = 0 if restored.page_cluster else 1
    after = tunables.apply_tunables({"vm.swappiness": swappiness, "page_cluster": page_cluster})
    assert (after.swappiness, after.page_cluster) == (swappiness, page_cluster)
    assert Path("/proc/sys/vm/swappiness").read_text().strip() == str(swappiness)


def test_it_accepts_swappiness_above_100(restored: tunables.Tunables) -> None:
    assert tunables.apply_tunables({"swappiness": "200"}).swappiness == 200


@pytest.mark.skipif(not ZSWAP.is_dir(), reason="this kernel has no zswap")
def test_it_turns_zswap_on_with_a_compressor_and_off_again(
    restored: tunables.Tunables,
) -> None:
    other = next(c for c in tunables.compressors() if c != restored.zswap_compressor)
    on = tunables.apply_tunables(
        {"zswap_enabled": True, "zswap_compressor": other, "zswap.max_pool_percent": 7}
    )
    assert (on.zswap_enabled, on.zswap_compressor, on.zswap_max_pool_percent) == (True, other, 7)
    assert (ZSWAP / "enabled").read_text().strip() == "Y"
    off = tunables.apply_tunables({"zswap.enabled": "N"})
    assert off.zswap_enabled is False
