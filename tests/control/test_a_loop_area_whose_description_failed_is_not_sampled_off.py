"""An active loop area whose last description failed is not sampled as off.

A job whose ``describe`` fails writes only the error to the row's info. The row's path is
then its params' guess, and a loop backend's params name its backing file, not the device
/proc/swaps shows: the sampler found no area at the file, found the file there, and said
READY, offering an activate of an area in use, and listed its device as unmanaged (review
167/3). A failed description now still names the path, as ``describe`` itself does, so the
sample follows the area; one that names none (a row written before) leaves the state as it
was, rather than guess (review 169/1: without the path, a file backend's state froze).

Real: a loop backend provisioned and activated by its jobs, in /proc/swaps as its device."""

from __future__ import annotations

import subprocess

import pytest

from backends import BackendError, kernel
from backends.policy import Policy
from swapadmin.core.handlers import _info
from swapadmin.core.models import Backend, Job
from swapadmin.core.plugins import build_plugin
from swapadmin.core.sampler import Reading, take_sample
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20


@pytest.fixture
def active_loop(host_row, swap_root):
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="l", params={"path": str(swap_root / "l.img")},
        size_bytes=16 * MiB, desired_state=Backend.Desired.ACTIVE,
    )  # fmt: skip
    try:
        for kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE):
            done = run(job_for(Backend.objects.get(pk=backend.pk), kind))
            assert done.state == Job.State.SUCCEEDED, done.error
        yield Backend.objects.get(pk=backend.pk)
    finally:
        # The scratch root's take-down swaps off and detaches whatever this left too.
        run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))


class _CannotDescribe:
    """The row's real plugin, whose ``describe`` fails (sysfs unreadable for a moment)."""

    def __init__(self, plugin):
        self.plugin = plugin

    def describe(self):
        raise BackendError("cannot read /sys/block/loopN/loop/backing_file: I/O error")

    def swap_path_if_any(self):
        return self.plugin.swap_path_if_any()


def unmanaged(host_row) -> list[str]:
    host_row.refresh_from_db()
    return [a["path"] for a in host_row.observed["unmanaged"]]


def test_a_failed_description_still_names_the_device_and_follows_the_area(host_row, active_loop):
    device = active_loop.state["device"]
    assert kernel.find_area(device) is not None
    plugin = build_plugin(active_loop, Policy.from_env())
    try:
        described = _info(_CannotDescribe(plugin))  # what a job writes when describe fails
    finally:
        plugin.close()
    assert described["swap_path"] == device, described
    Backend.objects.filter(pk=active_loop.pk).update(info=described)

    take_sample(host_row, Reading())

    assert Backend.objects.get(pk=active_loop.pk).observed_state == Backend.Observed.ACTIVE
    assert device not in unmanaged(host_row)  # its own area, not offered to adopt

    # Turned off by hand (the test's own area): the next sample says so, nothing frozen.
    subprocess.run(["swapoff", device], check=True)
    take_sample(host_row, Reading())

    assert Backend.objects.get(pk=active_loop.pk).observed_state == Backend.Observed.READY


def test_a_row_whose_failed_description_names_no_path_is_left_as_it_was(host_row, active_loop):
    device = active_loop.state["device"]
    # As a job wrote it before a failed description named the path: only the error.
    Backend.objects.filter(pk=active_loop.pk).update(info={"error": "cannot read sysfs"})

    take_sample(host_row, Reading())

    assert Backend.objects.get(pk=active_loop.pk).observed_state == Backend.Observed.ACTIVE
    assert kernel.find_area(device) is not None  # the area the row was not read as off
