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

``connect()`` connects them; ``CoreConfig.ready()`` calls it, so they are connected in every
process that sets Django up (a worker before it builds its consumers, since Celery's Django
fixup sets Django up as it imports the task modules), and fire only in a worker.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from celery import signals
from celery.worker import state
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models.functions import Now
from kombu import Exchange, Queue

from backends import BackendError, Policy, kernel, tunables
from backends.store import boot_id

from .machines import HostIdentityError, check_machine, machine_id
from .models import Backend, Host, Job
from .observe import observe_backend
from .orphans import settle_orphans
from .sampler import Sampler
from .services import resend_undispatched

log = logging.getLogger(__name__)

_sampler: Any = None
#: The exit status of a worker refused as another machine's host (EX_CONFIG, sysexits.h).
EX_WRONG_MACHINE = 78


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


def _add_host_queue(sender: str, instance: Any, **kwargs: Any) -> None:
    # SWAPADMIN_WORKER_QUEUES: an enrolled host's worker serves its own queue only (its
    # broker user reaches no other), the control plane's worker the control queue only.
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


def _only_the_host_queue(sender: Any = None, **kwargs: Any) -> None:
    # A host's broker user reaches its queue's keys and nothing else: no pub/sub channel.
    # Heartbeat events, gossip and mingle publish on broadcast channels (and read other
    # workers' words), so an enrolled host's worker starts without them, whatever the
    # command line says; liveness is the database's word anyway (manage.py worker-alive).
    if "control" not in settings.SWAPADMIN_WORKER_QUEUES and sender is not None:
        sender.options.update(without_heartbeat=True, without_gossip=True, without_mingle=True)


def register_host() -> Any:
    """Create or refresh this host's row from what its kernel says. A row registered by
    another machine (its machine id differs) is refused: HostIdentityError; so is any row
    when this machine's id cannot be read (MachineIdError, one of those)."""
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
    with transaction.atomic():
        host, created = Host.objects.select_for_update().get_or_create(
            name=settings.SWAPADMIN_HOST,
            # A callable: read only to create the row, so that the refusal of a row another
            # machine registered names that machine. Never "": machine_id() raises when it
            # cannot read the id, and a host registered as no machine's would pass for any.
            defaults={**fields, "machine_id": machine_id},
        )
        if not created:
            mine = check_machine(host)
            if not host.machine_id:
                fields["machine_id"] = mine
            Host.objects.filter(pk=host.pk).update(**fields)
    host.refresh_from_db()  # the heartbeat is the database's value, not an expression
    return host


def refresh_all_backends(host: Any) -> None:
    """Read every backend of ``host`` no job is running on again from the kernel."""
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


def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    global _sampler
    if not serves_a_host():
        return  # the control plane's worker: no host, no sampler
    name = getattr(sender, "hostname", None) or f"worker@{settings.SWAPADMIN_HOST}"
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


def _on_worker_shutdown(**kwargs: Any) -> None:
    if _sampler is not None:
        _sampler.stop()


def connect() -> None:
    """Connect the worker's signal receivers.
    Connecting twice connects once: Celery keys a receiver by its function."""
    signals.task_prerun.connect(_reuse_connections)
    signals.task_postrun.connect(_reuse_connections)
    signals.celeryd_after_setup.connect(_add_host_queue)
    signals.worker_init.connect(_only_the_host_queue)
    signals.worker_ready.connect(_on_worker_ready)
    signals.worker_shutdown.connect(_on_worker_shutdown)
