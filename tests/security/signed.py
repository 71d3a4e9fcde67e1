"""What the signed-job tests share: a host's worker as a fleet runs it (the public key
only), someone's disk (a loop device over a file holding ext4), and a look at whether a
job touched anything.

The attacker in these tests holds a host's worker.env: it can write rows and publish the
message that names a job, but it has no signing key.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from swapadmin.core import signing
from swapadmin.core.models import Job
from tests.fixtures.signing import VERIFY_ONLY
from tests.ownership.conftest import MiB, digest, ext4_image, fsck_clean

__all__ = [
    "VERIFY_ONLY", "MiB", "Disk", "attackers_signature", "host_worker", "refused",
    "signed_forced_provision",
]  # fmt: skip


def host_worker(start_worker: Any, **options: Any) -> Any:
    """A host's worker as docker-compose and DEPLOY.md run it: the prefork pool, and the
    public key alone."""
    env = {**VERIFY_ONLY, **options.pop("env", {})}
    return start_worker(pool="prefork", env=env, **options)


class Disk:
    """Someone's filesystem on a block device: ext4 in a file, a loop device over it."""

    def __init__(self, scratch: Path, loops: Any, name: str = "precious") -> None:
        self.image = ext4_image(scratch / f"{name}.img", 64 * MiB, label=name)
        self.device = loops(self.image)
        self.digest = digest(self.image)

    def untouched(self) -> bool:
        return digest(self.image) == self.digest and fsck_clean(self.image)


def attackers_signature(job: Job) -> None:
    """Sign ``job`` exactly as the control plane would (the very specification its rows
    make, valid for a day), but with a key of the attacker's own making."""
    job = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    text = signing.canonical(signing.spec_for(job, "2099-01-01T00:00:00Z"))
    signature = base64.b64encode(Ed25519PrivateKey.generate().sign(text.encode())).decode()
    Job.objects.filter(pk=job.pk).update(signed_spec=text, signature=signature)


def refused(job: Job) -> bool:
    """Failed before the worker claimed it: no worker, no start, no progress."""
    return (
        job.state == Job.State.FAILED
        and job.started_at is None
        and job.worker == ""
        and "refused, nothing was done" in job.error
    )


def signed_forced_provision(worker: Any, backend: Any) -> Job:
    """A forced provision of ``backend`` as the control plane authorises it (signed as
    ``_new_job`` signs), sent to ``worker`` and waited for; returns its row at the end."""
    from swapadmin.core import services
    from tests.fixtures.workers import wait_for_job

    job = Job.objects.create(
        kind=Job.Kind.PROVISION, host=worker.host, backend=backend, backend_name=backend.name,
        params={"force": True},
    )  # fmt: skip
    assert signing.sign_job(job.pk)
    services.dispatch(job.pk)
    return wait_for_job(job, 60, worker=worker)
