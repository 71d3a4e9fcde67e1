"""A resize writes the swap header again, keeping its label and UUID: the header it replaces
is this backend's own, and so are its bad pages, which a scan found failing. They are kept
(those still inside the area); before, the new header listed none, and the kernel would
swap to the pages the scan had found bad. A loop backend over a file of its own: the
kernel takes a bad-page list on a block device only."""

from __future__ import annotations

import pytest

from backends import Policy, header
from swapadmin.core.models import Backend, Job
from swapadmin.core.plugins import build_plugin
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

PAGES = 4096  # 16 MiB of 4 KiB pages


def read_header(backend: Backend) -> header.SwapHeader:
    backend.refresh_from_db()
    with build_plugin(backend, Policy.from_env()) as plugin:
        return header.read_header(plugin)


@pytest.mark.parametrize(
    ("size", "kept"),
    [(24 * MiB, [7, 9, PAGES - 2]), (12 * MiB, [7, 9])],
    ids=["grown", "shrunk"],
)
def test_a_resize_keeps_the_bad_pages_inside_the_area(host_row, swap_root, size, kept):
    path = swap_root / "l.img"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="l", params={"path": str(path)}, size_bytes=16 * MiB
    )
    try:
        made = run(job_for(backend, Job.Kind.PROVISION))
        assert made.state == Job.State.SUCCEEDED, made.error
        backend.refresh_from_db()
        with build_plugin(backend, Policy.from_env()) as plugin:
            header.set_badpages(plugin, [7, 9, PAGES - 2])  # as a scan records them
        before = read_header(backend)

        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=size))

        assert job.state == Job.State.SUCCEEDED, job.error
        after = read_header(backend)
        assert (after.uuid, after.size_pages) == (before.uuid, size // 4096)
        assert list(after.badpages) == kept
    finally:
        device = backend.state.get("device")
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
        assert device not in attached_loops() and not path.exists()
