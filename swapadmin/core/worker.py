"""The worker as the host's agent: Celery signal handlers run by `celery -A swapadmin worker`.

- ``celeryd_after_setup``: consume ``host.<SWAPADMIN_HOST>`` besides the default ``control``
  queue, so a plain ``celery -A swapadmin worker`` serves its host (no ``-Q`` to forget);
  SWAPADMIN_WORKER_QUEUES=host (an enrolled host) or =control (the control plane) keeps one.
- ``worker_ready``: register or refresh the Host row, settle jobs left running by a worker
  of this host that died, refresh every backend's observed state from the kernel, send
  again jobs that never reached the broker, and start the sampler thread.
- ``worker_shutdown``: stop the sampler.
- ``task_prerun``/``task_postrun``: keep or close the task's database connection by Django's
  rules (CONN_MAX_AGE, errors, health checks), not by Celery's close-every-time.

This module is imported by ``tasks.py`` (which Celery autodiscovers) before the worker
starts, so the handlers are connected in every worker process and nowhere else matters.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models.functions import Now
from django.utils import timezone

log = logging.getLogger(__name__)

_sampler: Any = None
#: The exit status of a worker refused as another machine's host (EX_CONFIG, sysexits.h).
EX_WRONG_MACHINE = 78


@signals.task_prerun.connect
@signals.task_postrun.connect
def _reuse_connections(sender: Any = None, **kwargs: Any) -> None:
    """Celery's Django fixup closes every connection before and after each task unless
    CELERY_DB_REUSE_MAX says otherwise (settings.py sets it out of reach): every job then
    opened a new PostgreSQL connection, about 7 ms of it SCRAM authentication, while its
    user waited. Django's rule instead, as for a web request: a connection is kept for
    CONN_MAX_AGE, closed after an error or a broken transaction state, and pinged before it
    is used again (CONN_HEALTH_CHECKS), so a restarted server costs no job."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run inline by a caller whose connection (and transaction) this is
    close_old_connections()


def host_queue() -> str:
    return f"host.{settings.SWAPADMIN_HOST}"


@signals.celeryd_after_setup.connect
def _add_host_queue(sender: str, instance: Any, **kwargs: Any) -> None:
    # SWAPADMIN_WORKER_QUEUES: an enrolled host's worker serves its own queue only (its
    # broker user reaches no other), the control plane's worker the control queue only.
    from kombu import Exchange, Queue

    queues = instance.app.amqp.queues
    if "control" in settings.SWAPADMIN_WORKER_QUEUES:
        if "host" in settings.SWAPADMIN_WORKER_QUEUES:
            queues.select_add(host_queue())  # as runall's prepare_shared_state declares it
        return
    # A host's worker alone: its queue bound to an exchange of its own name, the one the
    # control plane publishes to (a bare name binds it in the control exchange's table,
    # which a host's broker user must not write: it could route control's messages to
    # itself, or drop their route).
    name = host_queue()
    queues.select_add(Queue(name, Exchange(name, type="direct"), routing_key=name))
    queues.deselect([settings.CELERY_TASK_DEFAULT_QUEUE])


def serves_a_host() -> bool:
    return "host" in settings.SWAPADMIN_WORKER_QUEUES


@signals.worker_init.connect
def _only_the_host_queue(sender: Any = None, **kwargs: Any) -> None:
    # A host's broker user reaches its queue's keys and nothing else: no pub/sub channel.
    # Heartbeat events, gossip and mingle publish on broadcast channels (and read other
    # workers' words), so an enrolled host's worker starts without them, whatever the
    # command line says; liveness is the database's word anyway (manage.py worker-alive).
    if "control" not in settings.SWAPADMIN_WORKER_QUEUES and sender is not None:
        sender.options.update(without_heartbeat=True, without_gossip=True, without_mingle=True)


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
    fields = {
        "kernel_release": kernel.kernel_release(),
        "page_size": kernel.page_size(),
        "mem_total_bytes": kernel.mem_total(),
        "swap_roots": [str(r) for r in Policy.from_env().swap_roots],
        "worker_version": worker_version,
        "boot_id": boot_id(),
        # The database's clock, as every heartbeat: a host whose clock is off is not offline.
        "last_heartbeat": Now(),
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
    host.refresh_from_db()  # the heartbeat is the database's value, not an expression
    return host


# ---- jobs whose worker is gone (see core/liveness.py) ----


def database_up_for() -> float | None:
    """Seconds since the database server started (PostgreSQL), None where it cannot say."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())")
        return float(cursor.fetchone()[0])


def fail_job(job: Any, reason: str, only_if: Any, *, reread: bool = True) -> bool:
    """running -> failed with ``reason`` if the row still matches ``only_if`` (so a job
    that spoke up meanwhile is left alone); with ``reread``, its backend is read again from
    the kernel before its next job. True if this call failed it."""
    from django.db.models import F, Q, Value
    from django.db.models.functions import Concat, Now

    from .models import Backend, Job

    line = f"{timezone.now():%H:%M:%S} failed: {reason}\n"
    changed = Job.objects.filter(Q(pk=job.pk, state=Job.State.RUNNING) & only_if).update(
        state=Job.State.FAILED,
        finished_at=Now(),
        error=reason,
        progress_message=reason[:255],
        log=Concat(F("log"), Value(line)),
    )
    if changed and reread and job.backend_id is not None:
        Backend.objects.filter(pk=job.backend_id).update(reread_before_next_job=True)
    if changed:
        log.warning("job %s: %s", job.uuid, reason)
    return bool(changed)


def fail_stale(jobs: Any, before: Any = None) -> int:
    """Fail the running jobs among ``jobs`` whose worker has not said it runs them for
    SWAPADMIN_JOB_STALE_SECONDS, by the database's clock. Right after the database itself
    restarted, nobody could say anything: wait one window before judging. ``before(job)``,
    on the host, reads the job's backend again first (instead of flagging it)."""
    from django.db.models import Q

    from .models import Job, db_ago

    window = settings.SWAPADMIN_JOB_STALE_SECONDS
    up = database_up_for()
    if up is not None and up < window:
        return 0
    silent = Q(heartbeat_at__lt=db_ago(window)) | Q(
        heartbeat_at__isnull=True, started_at__lt=db_ago(window)
    )
    failed = 0
    for job in jobs.filter(state=Job.State.RUNNING).filter(silent):
        reason = (
            f"the worker running it stopped (pid {job.worker_pid} on {job.worker or 'unknown'}): "
            f"no heartbeat from it for more than {window:.0f} s (killed, its host down, or cut "
            "off from the database); the backend is read again from the kernel before its next "
            "job"
        )
        if before is not None:
            before(job)
        failed += fail_job(job, reason, silent, reread=before is None)
    return failed


def fail_unconfirmed_cancels() -> int:
    """Fail running jobs someone asked to cancel whose worker did not end them within
    SWAPADMIN_CANCEL_GRACE_SECONDS: the backend is freed for its next job, which reads it
    again from the kernel first (and still waits for the host's lock on the backend, if
    that worker is in fact still in a system call)."""
    from django.db.models import Q

    from .models import Job, db_ago

    grace = settings.SWAPADMIN_CANCEL_GRACE_SECONDS
    unconfirmed = Q(cancel_requested=True, cancel_requested_at__lt=db_ago(grace))
    failed = 0
    for job in Job.objects.filter(state=Job.State.RUNNING).filter(unconfirmed):
        reason = (
            f"cancelled: its worker did not confirm within {grace:.0f} s, so the job is failed "
            "and the backend freed; it is read again from the kernel before its next job"
        )
        failed += fail_job(job, reason, unconfirmed)
    return failed


def settle_orphans(host: Any) -> int:
    """On the host itself (at start, then with every sample): fail its running jobs that
    were claimed during another boot (the host rebooted: nothing of them runs) or whose
    worker fell silent, and read their backends again from the kernel right away."""
    from django.db.models import Q

    from backends.store import boot_id

    from .models import Backend, Job
    from .sampler import observe_backend

    def reread(job: Any) -> None:
        # The backend first, so whoever sees the job failed sees the backend settled.
        backend = Backend.objects.filter(pk=job.backend_id).first()
        if backend is None:
            return
        try:
            observe_backend(backend)
        except Exception:
            log.exception("could not refresh backend %s", backend.pk)

    mine = boot_id()
    running = Job.objects.filter(host=host, state=Job.State.RUNNING)
    settled = 0
    for job in running.exclude(boot_id__in=("", mine)):
        reason = (
            f"its host rebooted while it ran (claimed in boot {job.boot_id}, this is boot "
            f"{mine}); the backend's state was read again from the kernel"
        )
        reread(job)
        settled += fail_job(job, reason, Q(boot_id=job.boot_id), reread=False)
    settled += fail_stale(Job.objects.filter(host=host), before=reread)
    # Failed by a sweep elsewhere: read here, on the host, as soon as this worker can.
    for backend in Backend.objects.filter(host=host, reread_before_next_job=True):
        try:
            observe_backend(backend)
            Backend.objects.filter(pk=backend.pk).update(reread_before_next_job=False)
        except Exception:
            log.exception("could not refresh backend %s", backend.pk)
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


def start_host_agent(worker_name: str, retry_max_seconds: float = 30.0) -> Any:
    """Everything a worker does once at start; returns the running sampler.

    Until the database lets it register the host (busy past its lock timeout, or away),
    it says why and tries again, the wait doubling up to ``retry_max_seconds``: a worker
    that started in a bad moment must not serve its queue without its host, nor give up on
    it. Every step is safe to repeat. A host that another machine registered is refused at
    once (HostIdentityError); a warm or cold shutdown ends the wait."""
    import time

    from celery.worker import state
    from django.db import DatabaseError, connection

    from .runner import HostIdentityError
    from .sampler import Sampler
    from .services import resend_undispatched

    restore_persisted_zswap()
    delay, since, said = 1.0, time.monotonic(), ""
    while True:
        try:
            host = register_host()
            settled = settle_orphans(host)
            if settled:
                log.warning(
                    "settled %d job(s) left running by a stopped worker of %s", settled, host
                )
            refresh_all_backends(host)
            resend_undispatched(older_than_seconds=0)
            break
        except HostIdentityError:
            raise
        except Exception as e:
            if not connection.in_atomic_block:
                connection.close()  # the next try on a fresh connection
            why = f"{type(e).__name__}: {e}"
            if why != said:  # once per reason, not once per try
                log.warning(
                    "cannot register host %s yet (%.0f s so far), trying again with waits "
                    "up to %.0f s: %s", settings.SWAPADMIN_HOST, time.monotonic() - since,
                    retry_max_seconds, why, exc_info=not isinstance(e, DatabaseError),
                )  # fmt: skip
                said = why
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                state.maybe_shutdown()
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, retry_max_seconds)
    if said:
        log.warning("registered host %s after waiting %.0f s", host.name, time.monotonic() - since)
    sampler = Sampler(host.name, worker_name)
    sampler.start()
    log.info("swapadmin worker for host %s is ready (queue %s)", host.name, host.queue)
    return sampler


@signals.worker_ready.connect
def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    global _sampler
    if not serves_a_host():
        return  # the control plane's worker: no host, no sampler
    name = getattr(sender, "hostname", None) or f"worker@{settings.SWAPADMIN_HOST}"
    from .runner import HostIdentityError

    try:
        _sampler = start_host_agent(name)
    except HostIdentityError as e:
        # Not this machine's host: serving its queue could run its jobs on the wrong disks.
        log.critical("refusing to start: %s", e)
        raise SystemExit(EX_WRONG_MACHINE) from None
    except Exception:
        # start_host_agent waits out the database; what is left is a bug, not a busy moment.
        log.exception("the worker could not start the agent of host %s", settings.SWAPADMIN_HOST)
        raise


@signals.worker_shutdown.connect
def _on_worker_shutdown(**kwargs: Any) -> None:
    if _sampler is not None:
        _sampler.stop()
