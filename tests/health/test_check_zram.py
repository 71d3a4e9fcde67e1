"""A zram area's compression ratio and memory limit, read from its real mm_stat while a
memory hog's pages are stored in it; a zram area released while inactive is not missing."""

from __future__ import annotations

import uuid

import pytest

from backends import Policy, kernel
from swapadmin.core.models import Backend
from swapadmin.health.checks import run_backend_check
from tests.fixtures.host import all_zram
from tests.fixtures.stores import provisioned, row_fields

from .conftest import MiB, check_job, findings_by_check, wait_for

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def zram_area(host_row, zram_cleanup):
    params = {"mem_limit_bytes": 64 * MiB}
    row_uuid = uuid.uuid4()
    # zram_cleanup resets and removes the device if anything below fails.
    plugin = provisioned(
        "zram",
        params,
        size=128 * MiB,
        policy=Policy.from_env(),
        owner=str(row_uuid),
        label="zramtest",
    )
    try:
        plugin.close()
        kernel.swapon(plugin.swap_path, priority=32767)
        yield Backend.objects.create(
            uuid=row_uuid,
            host=host_row,
            kind="zram",
            name="zramtest",
            params=plugin.params,
            size_bytes=128 * MiB,
            priority=32767,
            label="zramtest",
            desired_state=Backend.Desired.ACTIVE,
            **row_fields(plugin),
        )
    finally:
        if plugin.device and kernel.is_active(plugin.device):
            kernel.swapoff(plugin.device, policy=Policy.from_env(), force=True)
        plugin.swapfile(False)


def test_ratio_and_limit_from_the_live_device(zram_area, memory_hog, settings):
    device = zram_area.state["device"]
    memory_hog(96 * MiB, 48 * MiB)
    stat = wait_for(
        lambda: (s := kernel.zram_mm_stat(device)).orig_data_size >= 8 * MiB and s,
        30,
        "the hog's pages in our zram device",
    )
    settings.SWAPADMIN_HEALTH_ZRAM_RATIO_MIN_BYTES = 1 * MiB
    settings.SWAPADMIN_HEALTH_ZRAM_RATIO_WARN = 1.0
    settings.SWAPADMIN_HEALTH_ZRAM_LIMIT_WARN = 0.99
    settings.SWAPADMIN_HEALTH_ZRAM_LIMIT_FAIL = 0.999
    found = findings_by_check(run_backend_check(check_job(zram_area)))
    assert found["zram_ratio"]["status"] == "ok"
    assert found["zram_ratio"]["value"] == pytest.approx(stat.compression_ratio, rel=0.2)
    assert found["zram_limit"]["status"] == "ok"
    assert found["zram_limit"]["value"]["mem_limit"] == 64 * MiB
    assert found["store"]["status"] == "ok"  # /dev/zramN: root's, not readable by others
    assert found["header"]["status"] == "ok"
    assert found["drift"]["status"] == "ok"

    # The same device against thresholds just past what it shows.
    used = stat.mem_used_total / stat.mem_limit
    settings.SWAPADMIN_HEALTH_ZRAM_RATIO_WARN = stat.compression_ratio * 2
    settings.SWAPADMIN_HEALTH_ZRAM_LIMIT_WARN = used / 2
    found = findings_by_check(run_backend_check(check_job(zram_area)))
    assert found["zram_ratio"]["status"] == "warn"
    assert found["zram_limit"]["status"] == "warn"


def test_a_released_zram_area_is_not_reported_missing(host_row, zram_cleanup):
    # Provisioned, then released while inactive: its device is reset and removed, and the
    # row keeps what the provision gave it and the state the release left.
    row_uuid = uuid.uuid4()
    with provisioned(
        "zram", {"mem_limit_bytes": 0}, size=16 * MiB, policy=Policy.from_env(),
        owner=str(row_uuid),
    ) as plugin:  # fmt: skip
        made = row_fields(plugin)
        device = plugin.swap_path
        plugin.swapfile(False)
    assert device not in all_zram()
    backend = Backend.objects.create(
        uuid=row_uuid,
        host=host_row,
        kind="zram",
        name="idle",
        params={"mem_limit_bytes": 0},
        size_bytes=16 * MiB,
        desired_state=Backend.Desired.INACTIVE,
        **{**made, "state": dict(plugin.state)},
    )
    result = run_backend_check(check_job(backend))
    found = findings_by_check(result)
    assert found["store"]["status"] == "ok"
    assert "header" not in found
    assert result["status"] == "ok"
