"""A distribution's zram device is followed to its new self only after a reboot. Within the
boot it was recorded in, the same device reset and set up again with the same size and
algorithm (a new swap header, a new UUID) is someone's new device: a real discover does
not follow it, the plugin built from the row leaves its recorded identity as it was, and
an activate job is refused, the device left off. (After a reboot it is followed:
test_a_distributions_zram_device_is_the_same_backend_after_a_reboot.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import BackendError
from backends.policy import Policy
from swapadmin.core import plugins, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.control.test_a_distributions_zram_device_is_the_same_backend_after_a_reboot import (  # noqa: F401, E501  (fixtures)
    algorithm_for,
    boot_id_file,
    distro_zram,
    distro_zram_device,
    set_up_like_zram_generator,
    worker,
)
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_is_not_followed_within_the_boot(worker, alice, distro_zram):  # noqa: F811
    actor = Actor(alice, Job.Via.API)
    dev = f"/dev/{distro_zram}"
    algorithm = algorithm_for(distro_zram)
    first_uuid = set_up_like_zram_generator(distro_zram, algorithm)

    def discover() -> Job:
        job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [dev]})
        job = wait_for_job(job, 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.error
        return job

    job = discover()
    assert [a["path"] for a in job.result["adopted"]] == [dev], job.result
    b = Backend.objects.get(host=worker.host, uuid=job.result["adopted"][0]["uuid"])
    recorded = dict(b.state)

    # Set up again exactly as before, in the same boot (no simulated reboot).
    subprocess.run(["swapoff", dev], check=False, capture_output=True)
    Path(f"/sys/block/{distro_zram}/reset").write_text("1")
    second_uuid = set_up_like_zram_generator(distro_zram, algorithm)
    assert second_uuid != first_uuid
    subprocess.run(["swapoff", dev], check=True)

    # The plugin as a job builds it: following finds nothing to follow.
    plugin = plugins.build_plugin(b, Policy.from_env())
    plugin.follow_distro_device()  # type: ignore[attr-defined]
    assert plugin.state == recorded
    plugin.close()

    job = discover()
    assert job.result["followed"] == [] and job.result["adopted"] == [], job.result
    b.refresh_from_db()
    assert b.state == recorded and str(b.swap_uuid) == first_uuid

    job = wait_for_job(services.request_action(b, Job.Kind.ACTIVATE, actor, {}), 60)
    assert job.state == Job.State.FAILED, job.result
    assert first_uuid in job.error or "not this backend's" in job.error, job.error
    assert not kernel.is_active(dev)
    b.refresh_from_db()
    assert str(b.swap_uuid) == first_uuid and b.state["store"] == recorded["store"]


def test_a_row_naming_no_recorded_boot_is_not_followed(worker, alice, distro_zram):  # noqa: F811
    """With no boot recorded at all (an edited or very old row), nothing says a reboot
    happened since: the device is not taken."""
    actor = Actor(alice, Job.Via.API)
    dev = f"/dev/{distro_zram}"
    set_up_like_zram_generator(distro_zram, algorithm_for(distro_zram))
    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [dev]})
    job = wait_for_job(job, 60, worker=worker)
    b = Backend.objects.get(host=worker.host, uuid=job.result["adopted"][0]["uuid"])
    store = {k: v for k, v in b.state["store"].items() if k != "boot_id"}
    state = {k: v for k, v in b.state.items() if k != "boot_id"} | {"store": store}
    Backend.objects.filter(pk=b.pk).update(state=state)
    b.refresh_from_db()
    plugin = plugins.build_plugin(b, Policy.from_env())
    plugin.follow_distro_device()  # type: ignore[attr-defined]
    assert plugin.state == state
    with pytest.raises(BackendError):
        plugin.swap_path  # noqa: B018 - no boot recorded: no device of this boot
    plugin.close()
