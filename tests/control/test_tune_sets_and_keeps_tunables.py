"""A tune job sets vm.swappiness on the host and keeps it in the sysctl file when asked; a
worker starting again restores the zswap values that file keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import tunables
from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from swapadmin.core.worker import restore_persisted_zswap
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root]

SWAPPINESS = Path("/proc/sys/vm/swappiness")


@pytest.fixture
def kept_tunables():
    """Whatever the tests change, the host gets its own values back."""
    before = tunables.read_tunables().to_dict()
    try:
        yield before
    finally:
        tunables.apply_tunables(before)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_sets_swappiness_and_keeps_it(worker, alice, kept_tunables) -> None:
    wanted = 17 if kept_tunables["swappiness"] != 17 else 23
    job = services.request_host_job(
        worker.host,
        Job.Kind.TUNE,
        Actor(alice, Job.Via.API),
        {"swappiness": wanted, "persist": True},
    )
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert int(SWAPPINESS.read_text()) == wanted
    assert job.result["before"]["swappiness"] == kept_tunables["swappiness"]
    assert f"vm.swappiness = {wanted}\n" in worker.sysctl_file.read_text()


@pytest.mark.django_db
def test_a_starting_worker_restores_the_kept_zswap_values(
    settings, tmp_path: Path, kept_tunables
) -> None:
    other = 37 if kept_tunables["zswap_max_pool_percent"] != 37 else 41
    kept = tunables.Tunables(**{**kept_tunables, "zswap_max_pool_percent": other})
    settings.SWAPADMIN_SYSCTL_FILE = tmp_path / "90-swapadmin.conf"
    tunables.persist_tunables(settings.SWAPADMIN_SYSCTL_FILE, kept)
    assert tunables.read_tunables().zswap_max_pool_percent != other

    restored = restore_persisted_zswap()

    assert restored["zswap.max_pool_percent"] == str(other)
    assert tunables.read_tunables().zswap_max_pool_percent == other
    # vm.* stay as they are: systemd-sysctl applies those at boot.
    assert "vm.swappiness" not in restored


def test_nothing_is_restored_without_a_kept_file(settings, tmp_path: Path) -> None:
    settings.SWAPADMIN_SYSCTL_FILE = tmp_path / "absent.conf"
    assert restore_persisted_zswap() == {}
