"""An adopted area's fstab line is the sysadmin's, kept as they wrote it. A line
``noauto,pri=4,nofail`` gives the adopted backend priority 4 (and its discard), and a real
worker's persist job and edit job leave the line as written: ``noauto``, ``pri=4`` and
``nofail`` stay, its spacing stays, and an edit changes only the option it was asked to."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_persist_and_an_edit_keep_noauto_and_the_priority(worker, alice):
    actor = Actor(alice, Job.Via.API)
    area = worker.swap_root / "sysadmins"
    subprocess.run(["fallocate", "-l", "16M", str(area)], check=True)
    area.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(area)], check=True)
    line = f"{area}   none  swap  noauto,pri=4,nofail   0 0"
    with worker.fstab.open("a") as f:
        f.write(f"{line}\n# a comment of theirs\n")
    fstab_before = worker.fstab.read_bytes()

    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [str(area)]})
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [a["path"] for a in job.result["adopted"]] == [str(area)], job.result
    b = Backend.objects.get(host=worker.host, params__path=str(area))
    assert (b.adopted, b.persist, b.priority, b.discard) == (True, True, 4, "")

    job = wait_for_job(services.request_action(b, Job.Kind.PERSIST, actor, {"persist": True}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert worker.fstab.read_bytes() == fstab_before

    edit = edits.edit_backend(b, actor, {"discard": "once"})
    assert edit.job is not None
    job = wait_for_job(edit.job, 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    want = f"{area}   none  swap  noauto,pri=4,nofail,discard=once   0 0"
    assert worker.fstab.read_bytes() == fstab_before.replace(line.encode(), want.encode())


def test_an_edit_of_discard_keeps_the_lines_priority_whatever_the_row_holds(worker, alice):
    """A row adopted before adoption read ``pri=`` has no priority: an edit of its discard
    alone must not write that None over the line's ``pri=4``."""
    actor = Actor(alice, Job.Via.API)
    area = worker.swap_root / "older"
    subprocess.run(["fallocate", "-l", "16M", str(area)], check=True)
    area.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(area)], check=True)
    line = f"{area} none swap noauto,pri=4 0 0"
    with worker.fstab.open("a") as f:
        f.write(f"{line}\n")
    fstab_before = worker.fstab.read_bytes()
    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [str(area)]})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    b = Backend.objects.get(host=worker.host, params__path=str(area))
    Backend.objects.filter(pk=b.pk).update(priority=None)  # as an older adoption left it
    b.refresh_from_db()

    edit = edits.edit_backend(b, actor, {"discard": "pages"})
    assert edit.job is not None and edit.job.params["options"] == ["discard"]
    job = wait_for_job(edit.job, 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    want = f"{area} none swap noauto,pri=4,discard=pages 0 0"
    assert worker.fstab.read_bytes() == fstab_before.replace(line.encode(), want.encode())
