"""The host's live state: what the worker sees of its kernel, written to the database.

A ``Sampler`` thread in each worker takes a reading every ``SWAPADMIN_SAMPLE_SECONDS``
(or ``SWAPADMIN_HEARTBEAT_SECONDS`` if shorter) and at once when /proc/swaps changes (the
kernel wakes a poll on it at every swapon and swapoff), so an area someone deactivated by
hand shows as such within a second. Each reading is a ``Sample`` row, the Host's
``observed`` snapshot and heartbeat, and every managed backend's observed state.

``observe_backend`` is the thorough version for one backend, run after every job: it asks
the plugin (is the store there, does it hold a swap header) instead of only /proc/swaps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from backends import BackendError, SwapBackend, kernel
from backends.errors import NotOursError

from .models import Backend, Host, Job, Sample

log = logging.getLogger(__name__)


# ---- one backend, thoroughly (after a job, when settling a dead worker's job) ----


def observe_backend(backend: Backend, plugin: SwapBackend | None = None) -> str:
    """Refresh ``backend``'s observed state from the kernel and the plugin; returns it."""
    return write_observation(backend, read_observation(backend, plugin))


def read_observation(backend: Backend, plugin: SwapBackend | None = None) -> dict[str, Any]:
    """What the kernel and the plugin say of ``backend`` now, as the row's fields. Reads the
    store (its proof, the header, extents): may be slow on a failing disk, so it is never
    called inside a transaction, where it would hold every other writer (SQLite has one
    write lock for the whole database)."""
    from backends import header

    fields: dict[str, Any] = {"observed_at": timezone.now(), "observed_error": ""}
    if plugin is None:
        from .runner import build_plugin

        try:
            plugin = build_plugin(backend, _policy())
        except BackendError as e:
            fields.update(observed_state=Backend.Observed.ERROR, observed_error=e.message)
            return fields
    foreign = _foreign(backend, plugin)
    if foreign is not None:
        # Whatever is at the path now is not ours: none of its state is this backend's.
        fields.update(
            observed_state=Backend.Observed.FOREIGN,
            observed_error=foreign,
            used_bytes=0,
            active_priority=None,
        )
        plugin.close()
        return fields
    try:
        path: str | None = plugin.swap_path
    except BackendError:
        path = None
    area = kernel.find_area(path) if path else None
    with contextlib.suppress(Exception):
        fields["info"] = plugin.describe()
    if area is not None:
        fields.update(
            observed_state=Backend.Observed.ACTIVE,
            used_bytes=area.used_bytes,
            active_priority=area.priority,
        )
        with contextlib.suppress(BackendError, OSError):
            fields["header"] = header.read_header(plugin).to_dict()
    else:
        fields.update(used_bytes=0, active_priority=None)
        fields["observed_state"] = _inactive_state(plugin, path, fields)
        plugin.close()
    if isinstance(fields.get("header"), dict) and "label" in fields["header"]:
        # The header holds the label: an edit whose worker died between writing it and
        # saving the row must not leave the row's old label, which a later mkswap (resize)
        # would write back.
        fields["label"] = fields["header"]["label"]
    return fields


def write_observation(backend: Backend, fields: dict[str, Any]) -> str:
    """Write what ``read_observation`` found to the row and to ``backend``; returns the
    observed state."""
    Backend.objects.filter(pk=backend.pk).update(**fields)
    for k, v in fields.items():
        setattr(backend, k, v)
    return str(fields["observed_state"])


def _foreign(backend: Backend, plugin: SwapBackend) -> str | None:
    """Why the store at a provisioned backend's path is not its own (another device after a
    reboot, a file replaced, a loop device re-pointed), or None when it is, or when there is
    no store there to judge."""
    if backend.provisioned_at is None:
        return None
    try:
        plugin.verify()
    except NotOursError as e:
        return e.message
    except (BackendError, OSError):
        return None
    return None


def _inactive_state(plugin: SwapBackend, path: str | None, fields: dict[str, Any]) -> str:
    from backends import header

    try:
        plugin.capacity_bytes()
    except (BackendError, OSError):
        return Backend.Observed.ABSENT
    if path is None:
        # The store is there but not attached (a loop file after a reboot): activating
        # attaches it again.
        return Backend.Observed.READY
    try:
        fields["header"] = header.read_header(plugin).to_dict()
    except (BackendError, OSError) as e:
        fields["observed_error"] = (
            f"no usable swap header: {getattr(e, 'message', e)}. Provision it again."
        )
        return Backend.Observed.ERROR
    return Backend.Observed.READY


def _policy() -> Any:
    from backends import Policy

    return Policy.from_env()


# ---- the whole host, cheaply (every sample) ----


def _tunables() -> dict[str, Any]:
    try:
        from backends import tunables
    except ImportError:
        return {}
    try:
        return dict(tunables.read_tunables().to_dict())
    except Exception as e:  # a missing zswap directory must not stop sampling
        return {"error": str(e)}


def _zram_stats(paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in paths:
        if os.path.basename(p).startswith("zram"):
            with contextlib.suppress(BackendError, OSError):
                st = kernel.zram_mm_stat(p)
                out[p] = {**asdict(st), "compression_ratio": st.compression_ratio}
    return out


class Reading:
    """The previous counters, to turn pswpin/pswpout into rates."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.pswpin = 0
        self.pswpout = 0


def take_sample(host: Host, previous: Reading) -> Sample:
    """Read the host once and write a Sample, the Host snapshot and the backends' state."""
    now = timezone.now()
    mono = time.monotonic()
    mem = kernel.meminfo()
    vm = kernel.vmstat()
    psi = kernel.psi_memory()
    areas = kernel.swap_areas()
    rate_in = rate_out = 0.0
    if previous.at is not None and mono > previous.at:
        elapsed = mono - previous.at
        rate_in = max(0, vm["pswpin"] - previous.pswpin) / elapsed
        rate_out = max(0, vm["pswpout"] - previous.pswpout) / elapsed
    previous.at, previous.pswpin, previous.pswpout = mono, vm["pswpin"], vm["pswpout"]
    # Every kernel read before the transaction: reading each process's VmSwap is slow, and
    # the backend rows stay locked from their update to the commit.
    tunables = _tunables()
    zram = _zram_stats([a.path for a in areas])
    top = [asdict(p) for p in kernel.top_swap_processes(10)]

    # One commit a sample, not one per statement: a dozen commits capped a database at
    # 16 samples a second (docs/BENCHMARKS-control-plane.md, table 4).
    with transaction.atomic():
        by_backend: dict[str, int] = {}
        managed: set[str] = set()
        observations: dict[int, dict[str, Any]] = {}
        busy = set(
            Job.objects.filter(host=host, state=Job.State.RUNNING)
            .exclude(backend=None)
            .values_list("backend_id", flat=True)
        )
        backends = (
            Backend.objects.filter(host=host)
            .order_by()
            .only("uuid", "info", "params", "observed_state")
        )
        for backend in backends:
            if backend.observed_state == Backend.Observed.FOREIGN:
                # Only a thorough look (after a job, at a check) clears that verdict; the
                # area at its path is someone else's, so it is listed as unmanaged.
                continue
            area = _match(backend, areas)
            if area is not None:
                managed.add(area.path)
                by_backend[str(backend.uuid)] = area.used_bytes
            if backend.pk in busy:
                continue  # the job refreshes it thoroughly when it ends
            observations[backend.pk] = _observation(backend, area, now)
        _write_observations(observations, now)

        snapshot = {
            "meminfo": asdict(mem),
            "rates": {"pswpin": rate_in, "pswpout": rate_out},
            "vmstat": {"pswpin": vm["pswpin"], "pswpout": vm["pswpout"]},
            "psi": asdict(psi) if psi else None,
            "tunables": tunables,
            "areas": [asdict(a) for a in areas],
            "unmanaged": [asdict(a) for a in areas if a.path not in managed],
            "zram": zram,
            "top": top,
            "heartbeat": now.isoformat(),
        }
        # The heartbeat in the database's clock: a host whose own clock is off is not
        # offline for it.
        Host.objects.filter(pk=host.pk).update(
            observed=snapshot, observed_at=now, last_heartbeat=Now()
        )
        return Sample.objects.create(
            host=host,
            at=now,
            mem_total=mem.mem_total,
            mem_available=mem.mem_available,
            swap_total=mem.swap_total,
            swap_free=mem.swap_free,
            swap_cached=mem.swap_cached,
            pswpin_rate=rate_in,
            pswpout_rate=rate_out,
            psi_some_avg10=psi.some_avg10 if psi else 0.0,
            psi_full_avg10=psi.full_avg10 if psi else 0.0,
            backends=by_backend,
        )


def _match(backend: Backend, areas: list[kernel.SwapArea]) -> kernel.SwapArea | None:
    path = backend.swap_path
    if not path:
        return None
    real = os.path.realpath(path)
    for area in areas:
        if area.path in (path, real):
            return area
    return None


def _observation(backend: Backend, area: kernel.SwapArea | None, now: Any) -> dict[str, Any]:
    """The fields this reading says about ``backend``; a state it cannot tell is left out."""
    fields: dict[str, Any] = {"observed_at": now}
    if area is not None:
        fields.update(
            observed_state=Backend.Observed.ACTIVE,
            observed_error="",
            used_bytes=area.used_bytes,
            active_priority=area.priority,
        )
    else:
        fields.update(used_bytes=0, active_priority=None)
        path = backend.swap_path
        if not path or not os.path.exists(path):
            fields["observed_state"] = Backend.Observed.ABSENT
        elif backend.observed_state in (
            Backend.Observed.ACTIVE,
            Backend.Observed.ABSENT,
            Backend.Observed.UNKNOWN,
        ):
            # Deactivated (or recreated) outside swapadmin: the store is there, not in use.
            fields["observed_state"] = Backend.Observed.READY
    return fields


def _write_observations(observations: dict[int, dict[str, Any]], now: Any) -> None:
    """One UPDATE for each set of fields written (active, gone, unchanged), each row taking
    its own values by a CASE on its key, instead of an UPDATE per backend."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for pk, fields in observations.items():
        groups.setdefault(tuple(sorted(fields)), []).append(pk)
    # A job that ended after this reading wrote a fresher observation: keep that one. The
    # condition is in the UPDATE, so it holds row by row, against a job committing meanwhile.
    fresher = Q(observed_at__isnull=True) | Q(observed_at__lt=now)
    for names, pks in groups.items():
        values: dict[str, Any] = {}
        for name in names:
            per_row = {pk: observations[pk][name] for pk in pks}
            if len(set(per_row.values())) == 1:
                values[name] = per_row[pks[0]]
            else:
                field = Backend._meta.get_field(name)
                whens = [
                    When(pk=pk, then=Value(v, output_field=field)) for pk, v in per_row.items()
                ]
                values[name] = Case(*whens, output_field=field)
        Backend.objects.filter(fresher, pk__in=pks).update(**values)


class Sampler(threading.Thread):
    """Samples the host until ``stop()``; also heartbeats and settles dead workers' jobs."""

    def __init__(self, host_name: str, worker_name: str) -> None:
        super().__init__(name="swapadmin-sampler", daemon=True)
        self.host_name = host_name
        self.worker_name = worker_name
        self._stop_event = threading.Event()
        self.period = min(settings.SWAPADMIN_SAMPLE_SECONDS, settings.SWAPADMIN_HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        from django.db import DatabaseError, connection

        from .worker import settle_orphans

        previous = Reading()
        watcher = kernel.SwapsWatcher()
        # While sampling fails (the database busy past its lock timeout, or away), wait
        # longer each time, but short enough to heartbeat again well before the host is
        # shown offline; say so once per reason and once when it works again, not per try.
        longest = max(self.period, settings.SWAPADMIN_OFFLINE_AFTER_SECONDS / 3)
        failures, failing_since, said = 0, 0.0, ""
        try:
            while not self._stop_event.is_set():
                close_old_connections()
                try:
                    host = Host.objects.get(name=self.host_name)
                    settle_orphans(host)
                    take_sample(host, previous)
                except Exception as e:
                    if not connection.in_atomic_block:
                        connection.close()  # the next try on a fresh connection
                    if not failures:
                        failing_since = time.monotonic()
                    failures += 1
                    why = f"{type(e).__name__}: {e}"
                    if why != said:
                        log.warning(
                            "sampling %s failed, trying again with waits up to %.0f s: %s",
                            self.host_name, longest, why,
                            exc_info=not isinstance(e, DatabaseError),
                        )  # fmt: skip
                        said = why
                else:
                    if failures:
                        log.warning(
                            "sampling %s works again, after %d failed tries over %.0f s",
                            self.host_name, failures, time.monotonic() - failing_since,
                        )  # fmt: skip
                    failures, said = 0, ""
                wait = min(self.period * 2 ** min(failures, 10), longest)
                deadline = time.monotonic() + wait
                while not self._stop_event.is_set():
                    left = deadline - time.monotonic()
                    # Wake early on a swapon/swapoff anywhere on the host, unless backing off.
                    if left <= 0 or (watcher.wait(min(left, 1.0)) and not failures):
                        break
        finally:
            watcher.close()
