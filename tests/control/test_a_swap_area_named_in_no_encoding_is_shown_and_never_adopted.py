"""A swap area whose name is not UTF-8 (any root tool may swap on such a file) neither
stops the sampler nor a discover. The sampler shows it among the host's areas with its
bytes escaped (PostgreSQL's JSON refuses the lone surrogate its name decodes to, so the
whole sample would be lost); discover passes over it with the reason, since no backend's
path can name it, and adopts the other areas as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import signing
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.sampler import Reading, take_sample
from tests.control.test_run_job_directly import run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def swap_file_by_hand(path: Path) -> None:
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)


def test_it_is_shown_escaped_and_passed_over_by_discover(host_row, swap_root):
    odd = Path(os.fsdecode(os.path.join(os.fsencode(swap_root), b"odd-\xff")))
    plain = swap_root / "plain"
    for area in (odd, plain):
        swap_file_by_hand(area)
    shown = f"{swap_root}/odd-\\xff"
    try:
        for area in (odd, plain):
            subprocess.run(["swapon", str(area)], check=True)

        take_sample(host_row, Reading())
        observed = Host.objects.get(pk=host_row.pk).observed
        paths = [a["path"] for a in observed["areas"]]
        assert shown in paths and str(plain) in paths
        unmanaged = {a["path"]: a for a in observed["unmanaged"]}
        why = "its name is not UTF-8, which no backend's path can be"
        assert unmanaged[shown]["unadoptable"] == why  # the page offers no adopt button
        assert "unadoptable" not in unmanaged[str(plain)]

        job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, params={})
        signing.sign_job(job.pk)
        job = run(Job.objects.get(pk=job.pk))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert {"path": shown, "reason": why} in job.result["skipped"]
        ours = [a["path"] for a in job.result["adopted"] if a["path"].startswith(str(swap_root))]
        assert ours == [str(plain)]
        assert Backend.objects.filter(host=host_row, params__path=str(plain)).exists()
        mine = Backend.objects.filter(host=host_row, params__path__startswith=str(swap_root))
        assert mine.count() == 1
        assert f"not adopted {shown}: its name is not UTF-8" in job.log

        # Asked for by the name the host page shows (its adopt button): the same reason,
        # not "not active".
        job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, params={"paths": [shown]})
        signing.sign_job(job.pk)
        job = run(Job.objects.get(pk=job.pk))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.result["skipped"] == [{"path": shown, "reason": why}]
        assert job.result["adopted"] == []
        assert kernel.is_active(str(odd))
    finally:
        for area in (odd, plain):
            subprocess.run(["swapoff", str(area)], check=False)
