"""The worker as the host's agent: Celery signal handlers run by `celery -A swapadmin worker`.

- ``celeryd_after_setup``: consume ``host.<SWAPADMIN_HOST>`` besides the default ``control``
  queue, so a plain ``celery -A swapadmin worker`` serves its host (no ``-Q`` to forget).
- ``worker_ready``: register or refresh the Host row, settle jobs left running by a worker
  of this host that died, refresh every backend's observed state from the kernel, send
  again jobs that never reached the broker, and start the sampler thread.
- ``worker_shutdown``: stop the sampler.

This module is imported by ``tasks.py`` (which Celery autodiscovers) before the worker
starts, so the handlers are connected in every worker process and nowhere else matters.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from django.conf import settings
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

_sampler: Any = None
#: The exit status of a worker refused as another machine's host (EX_CONFIG, sysexits.h).
EX_WRONG_MACHINE = 78


def host_queue() -> str:
    return f"host.{settings.SWAPADMIN_HOST}"


@signals.celeryd_after_setup.connect
def _add_host_queue(sender: str, instance: Any, **kwargs: Any) -> None:
    instance.app.amqp.queues.select_add(host_queue())


def register_host() -> Any:
    """Create or refresh this host's row from what its kernel says. A row registered by
    another machine (its machine id differs) is refused: HostIdentityError."""
    from importlib.metadata import PackageNotFoundError, version

    from backends import Policy, kernel
    from backends.store import boot_id

    from .models import Host
    from .runner import check_machine, machine_id

    try:
        worker_version = version("swapadmin")
    except PackageNotFoundError:
        worker_version = ""
    now = timezone.now()
    fields = {
        "kernel_release": kernel.kernel_release(),
        "page_size": kernel.page_size(),
        "mem_total_bytes": kernel.mem_total(),
        "swap_roots": [str(r) for r in Policy.from_env().swap_roots],
        "worker_version": worker_version,
        "boot_id": boot_id(),
        "last_heartbeat": now,
    }
    mine = machine_id()
    with transaction.atomic():
        host, created = Host.objects.select_for_update().get_or_create(
            name=settings.SWAPADMIN_HOST, defaults={**fields, "machine_id": mine}
        )
        if not created:
            check_machine(host)
            if not host.machine_id:
                fields["machine_id"] = mine
            Host.objects.filter(pk=host.pk).update(**fields)
            for k, v in fields.items():
                setattr(host, k, v)
    return host


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` is a live swapadmin/celery process on this machine (a reused pid of
    another program does not count)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, IndexError):
        return False
    return any(w in cmdline for w in (b"celery", b"swapadmin", b"manage.py", b"pytest"))


def fail_orphan(job: Any, reason: str) -> bool:
    """Mark a running job failed because its worker is gone; True if this call did it."""
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from .models import Job

    done = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, worker_pid=job.worker_pid)
    now = timezone.now()
    line = f"{now:%H:%M:%S} failed: {reason}\n"
    changed = done.update(
        state=Job.State.FAILED,
        finished_at=now,
        error=reason,
        progress_message=reason[:255],
        log=Concat(F("log"), Value(line)),
    )
    if changed:
        log.warning("job %s: %s", job.uuid, reason)
    return bool(changed)


def settle_orphans(host: Any) -> int:
    """On the host itself: fail running jobs whose process is gone and refresh their
    backends from the kernel; keep the heartbeat of those still running."""
    from .models import Backend, Job
    from .sampler import observe_backend

    settled = 0
    alive: list[int] = []
    for job in Job.objects.filter(host=host, state=Job.State.RUNNING):
        if pid_alive(job.worker_pid):
            alive.append(job.pk)
            continue
        reason = (
            f"the worker running it stopped (pid {job.worker_pid} on {job.worker or 'unknown'} "
            "is gone); the backend's state was read again from the kernel"
        )
        # Observed state first, so whoever sees the job failed sees the backend settled.
        backend = Backend.objects.filter(pk=job.backend_id).first()
        if backend is not None:
            try:
                observe_backend(backend)
            except Exception:
                log.exception("could not refresh backend %s", backend.pk)
        settled += fail_orphan(job, reason)
    if alive:
        Job.objects.filter(pk__in=alive).update(heartbeat_at=timezone.now())
    return settled


def refresh_all_backends(host: Any) -> None:
    from .models import Backend, Job
    from .sampler import observe_backend

    busy = Job.objects.filter(host=host, state=Job.State.RUNNING).values_list(
        "backend_id", flat=True
    )
    for backend in Backend.objects.filter(host=host).exclude(pk__in=list(busy)):
        try:
            observe_backend(backend)
        except Exception:
            log.exception("could not refresh backend %s", backend.pk)


def restore_persisted_zswap() -> dict[str, object]:
    """Apply the zswap values a ``tune`` job kept in the sysctl file. systemd-sysctl applies
    the vm.* lines at boot, but nothing else knows the zswap line (module parameters are not
    sysctls), so the worker keeps the file's promise here. The vm.* values are left alone:
    re-applying them would undo a change a sysadmin made by hand since."""
    from backends import BackendError, tunables

    zswap = {
        k: v
        for k, v in tunables.read_persisted(settings.SWAPADMIN_SYSCTL_FILE).items()
        if k.startswith("zswap.")
    }
    if zswap:
        try:
            tunables.apply_tunables(zswap)
        except BackendError as e:
            log.warning("could not restore zswap from %s: %s", settings.SWAPADMIN_SYSCTL_FILE, e)
            return {}
        log.info("restored zswap from %s: %s", settings.SWAPADMIN_SYSCTL_FILE, zswap)
    return zswap


def start_host_agent(worker_name: str) -> Any:
    """Everything a worker does once at start; returns the running sampler."""
    from .sampler import Sampler
    from .services import resend_undispatched

    restore_persisted_zswap()
    host = register_host()
    settled = settle_orphans(host)
    if settled:
        log.warning("settled %d job(s) left running by a stopped worker of %s", settled, host)
    refresh_all_backends(host)
    resend_undispatched(older_than_seconds=0)
    sampler = Sampler(host.name, worker_name)
    sampler.start()
    log.info("swapadmin worker for host %s is ready (queue %s)", host.name, host.queue)
    return sampler


@signals.worker_ready.connect
def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    global _sampler
    name = getattr(sender, "hostname", None) or f"worker@{settings.SWAPADMIN_HOST}"
    from .runner import HostIdentityError

    try:
        _sampler = start_host_agent(name)
    except HostIdentityError as e:
        # Not this machine's host: serving its queue could run its jobs on the wrong disks.
        log.critical("refusing to start: %s", e)
        raise SystemExit(EX_WRONG_MACHINE) from None
    except Exception:
        log.exception("the worker could not register host %s", settings.SWAPADMIN_HOST)
        raise


@signals.worker_shutdown.connect
def _on_worker_shutdown(**kwargs: Any) -> None:
    if _sampler is not None:
        _sampler.stop()
