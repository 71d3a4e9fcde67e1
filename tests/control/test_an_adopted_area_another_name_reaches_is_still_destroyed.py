"""An adopted area is the sysadmin's: its destroy swaps it off and forgets it, writing
nothing of it. A loop device attached to its file is another name for its bytes, which
matters to a write or a swapon, not to a swapoff: the destroy goes through, the file left
as it was. Before review 234/4 the proof before the swapoff asked the kind's look for other
names too, so the same destroy either left the area on with words calling it "not this
backend's" (never why), or was refused with words that spoke of a write."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, adopt, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_the_destroy_swaps_it_off_and_leaves_its_file(host_row, swap_root: Path) -> None:
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)  # a swap area someone else made
    subprocess.run(["swapon", str(path)], check=True)
    try:
        backend = adopt(host_row, path)
        before = path.read_bytes()
        with attached(path) as dev:
            job = run(job_for(backend, Job.Kind.DESTROY))
            assert job.state == Job.State.SUCCEEDED, job.log
            assert kernel.find_area(str(path)) is None, job.log  # swapped off, as asked
            assert f"{dev}" not in job.log, job.log  # nothing refused for it
        assert not Backend.objects.filter(pk=backend.pk).exists()
        assert path.read_bytes() == before  # the sysadmin's file, as it was
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
