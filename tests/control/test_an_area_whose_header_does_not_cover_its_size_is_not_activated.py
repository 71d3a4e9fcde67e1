"""An area swapadmin made is swapped on only under the header ``mkswap`` writes for the
size its row says. A resize that grew the store and then failed to write the header left
the old, smaller one on it, which the kernel takes: the area went on at the old size while
the row and the page said the new one (review 214/4). Activate refuses it, naming both
figures and the way out; a resize to the same size writes the header, and the area then
goes on at its whole size. An adopted area's header is the sysadmin's, and may rightly be
smaller than its file (mkswap with a size): it is swapped on as it is."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backends import KernelError, kernel
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_a_resize_that_may_have_changed_its_store_leaves_the_area_off import (
    _destroyed,
    _provisioned_on,
)
from tests.control.test_run_job_directly import MiB, adopt, job_for, run
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

PAGE = 4096


def _swapped_size(path: str) -> int:
    """The area's size as /proc/swaps shows it: its pages but the header."""
    area = kernel.find_area(path)
    assert area is not None, active_swaps()
    return area.size_bytes


def _activated(backend: Backend) -> Job:
    return run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.ACTIVATE))


@pytest.mark.parametrize("kind", ["file", "loop"])
def test_a_grown_store_whose_header_was_not_written_is_refused_until_resized_again(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = swap_root / "area"
    backend = _provisioned_on(host_row, kind, path)  # 16 MiB, active

    def io_error(ctx, plugin) -> None:
        raise KernelError("mkswap: Input/output error (for the test)", retryable=True)

    try:
        area = backend.state.get("device") or str(path)
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", io_error)
            grown = run(job_for(backend, Job.Kind.RESIZE, size_bytes=32 * MiB))
        assert grown.state == Job.State.FAILED, grown.log
        assert path.stat().st_size == 32 * MiB  # the store grew under the old header

        refused = _activated(backend)
        assert refused.state == Job.State.FAILED, refused.log
        assert refused.error == (
            f"the swap header of {area} covers 4096 pages ({16 * MiB} bytes), not the 8192 "
            f"pages ({32 * MiB} bytes) of area: swapped on, the area would not be the size "
            f"the backend says, so it is left off; resize it again to {32 * MiB} bytes to "
            "write its header, then activate it."
        ), refused.error
        assert area not in active_swaps()

        again = run(
            job_for(Backend.objects.get(pk=backend.pk), Job.Kind.RESIZE, size_bytes=32 * MiB)
        )
        assert again.state == Job.State.SUCCEEDED, again.error
        on = _activated(backend)
        assert on.state == Job.State.SUCCEEDED, on.error
        assert _swapped_size(area) == 32 * MiB - PAGE
    finally:
        _destroyed(backend, path)


def test_an_adopted_area_whose_header_is_smaller_than_its_file_is_activated_as_it_is(
    host_row, swap_root: Path
) -> None:
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    # A swap area someone else made over half of their file (mkswap's size is in KiB).
    subprocess.run(["mkswap", "-q", str(path), str(8 * MiB // 1024)], check=True)
    backend = adopt(host_row, path)
    try:
        assert backend.size_bytes == 16 * MiB
        on = _activated(backend)
        assert on.state == Job.State.SUCCEEDED, on.error
        assert _swapped_size(str(path)) == 8 * MiB - PAGE
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
        path.unlink(missing_ok=True)
