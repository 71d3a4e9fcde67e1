"""The compose worker's persist job lands in the host's fstab.

No Docker engine runs here, so the worker's shape is built by hand: a "host" directory tree
and a "container" one, joined by the bind mount that docker-compose.yml gives the worker for
its SWAPADMIN_FSTAB (`mount --bind`, as Docker does), and a real worker whose SWAPADMIN_FSTAB
is the path compose gives it, under the container root. persist writes a new fstab beside the
old one and renames it over it; a bind mount of the file alone (what the compose file had
before) refuses that rename with EBUSY, as the first test shows, so the second passes only
while the compose file mounts a directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends import fstab
from backends.errors import KernelError
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.deploy import compose
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = needs_root

HOST_FSTAB = (
    "# /etc/fstab: the sysadmin's own words\n"
    "UUID=0a3407de-014b-458b-b5c1-848e92a327a3\t/\text4\terrors=remount-ro\t0 1\n"
    "/dev/vdb1  /srv  xfs  nofail  0 2\n"
)


@contextlib.contextmanager
def bind_mounted(source: Path, target: Path) -> Iterator[None]:
    """``source`` bind-mounted at ``target`` (made first, a file or a directory like the
    source, as Docker makes a mount point), unmounted on every exit path."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True)


def mount_points() -> set[str]:
    # A bind mount within one filesystem keeps its st_dev, so os.path.ismount cannot see it.
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@pytest.fixture
def host_root(scratch: Path) -> Path:
    """A host's root: /etc holds an fstab and a file that persist must leave alone."""
    etc = scratch / "host" / "etc"
    etc.mkdir(parents=True)
    (etc / "fstab").write_text(HOST_FSTAB)
    (etc / "fstab").chmod(0o644)
    (etc / "hostname").write_text("host\n")
    return scratch / "host"


@dataclass(frozen=True)
class ComposeShape:
    host_fstab: Path  # the file the host boots with
    worker_fstab: Path  # SWAPADMIN_FSTAB, as the worker sees it
    mount_point: Path  # where the worker's volume is mounted


def covering_volume(volumes: list[str], path: str) -> tuple[str, str]:
    """(host source, container target) of the volume through which ``path`` reaches the host."""
    pairs = [(v.split(":")[0], v.split(":")[1]) for v in volumes]
    hits = [(s, t) for s, t in pairs if path == t or path.startswith(t.rstrip("/") + "/")]
    assert hits, f"no worker volume holds {path}: the worker's writes stay in its container"
    return max(hits, key=lambda st: len(st[1]))


@pytest.fixture
def compose_shape(host_root: Path, scratch: Path) -> Iterator[ComposeShape]:
    """The host's files mounted under a "container" root as docker-compose.yml mounts them
    for the worker's SWAPADMIN_FSTAB."""
    worker = compose.load()["services"]["worker"]
    in_worker = worker["environment"]["SWAPADMIN_FSTAB"]
    source, target = covering_volume(worker["volumes"], in_worker)
    container = scratch / "container"

    def on_host(p: str) -> Path:
        return host_root / p.lstrip("/")

    def in_container(p: str) -> Path:
        return container / p.lstrip("/")

    with bind_mounted(on_host(source), in_container(target)):
        yield ComposeShape(
            host_fstab=on_host(source + in_worker[len(target) :]),
            worker_fstab=in_container(in_worker),
            mount_point=in_container(target),
        )


def test_a_bind_mount_of_the_file_alone_refuses_the_rename(host_root: Path, scratch: Path) -> None:
    host_fstab = host_root / "etc" / "fstab"
    worker_fstab = scratch / "container" / "host" / "etc" / "fstab"
    with bind_mounted(host_fstab, worker_fstab):
        with pytest.raises(KernelError) as refused:
            fstab.ensure_entry(
                worker_fstab, "/var/lib/swapadmin/swap/s0", priority=None, discard=None
            )
        assert refused.value.errno == errno.EBUSY, refused.value
        assert str(worker_fstab) in str(refused.value)
        # Nothing was half-done: no temp file beside it, the host's file as it was.
        assert os.listdir(worker_fstab.parent) == ["fstab"]
    assert host_fstab.read_text() == HOST_FSTAB


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_persist_replaces_the_hosts_fstab_through_the_compose_mount(
    compose_shape: ComposeShape,
    host_root: Path,
    start_worker: Callable[..., WorkerProcess],
    alice: object,
) -> None:
    assert str(compose_shape.mount_point) in mount_points()
    worker = start_worker(env={"SWAPADMIN_FSTAB": str(compose_shape.worker_fstab)})
    before = compose_shape.host_fstab.stat()
    actor = Actor(alice, Job.Via.API)
    area = worker.swap_root / "kept"
    job = services.create_backend(
        host=worker.host, kind="file", name="kept", size_bytes=16 << 20, actor=actor,
        params={"path": str(area)}, priority=5,
    )  # fmt: skip
    provisioned = wait_for_job(job, 60, worker=worker)
    assert provisioned.state == Job.State.SUCCEEDED, provisioned.error
    backend = Backend.objects.get(host=worker.host, name="kept")

    job = services.request_action(backend, Job.Kind.PERSIST, actor, {})
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["fstab"] == str(compose_shape.worker_fstab)

    text = compose_shape.host_fstab.read_text()
    assert text.startswith(HOST_FSTAB), "the host's own lines must stay byte for byte"
    ours = [ln.split() for ln in text.splitlines() if ln.split()[:1] == [str(area)]]
    assert len(ours) == 1 and ours[0][2:4] == ["swap", "sw,pri=5"], text
    after = compose_shape.host_fstab.stat()
    # Replaced by a rename (a new inode with the old mode and owner), not rewritten in place.
    assert after.st_ino != before.st_ino
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before.st_mode, before.st_uid, before.st_gid,
    )  # fmt: skip
    assert sorted(os.listdir(host_root / "etc")) == ["fstab", "hostname"]
    assert (host_root / "etc" / "hostname").read_text() == "host\n"
