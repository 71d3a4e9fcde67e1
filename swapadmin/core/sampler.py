"""The host's live state: what the worker sees of its kernel, written to the database.

A ``Sampler`` thread in each worker takes a reading every ``SWAPADMIN_SAMPLE_SECONDS``
(or ``SWAPADMIN_HEARTBEAT_SECONDS`` if shorter) and at once when /proc/swaps changes (the
kernel wakes a poll on it at every swapon and swapoff), so an area someone deactivated by
hand shows as such within a second. Each reading is a ``Sample`` row, the Host's
``observed`` snapshot and heartbeat, and every managed backend's observed state.

``observe.observe_backend`` is the thorough version for one backend, run after every job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    close_old_connections,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now
from django.utils import timezone

from backends import BackendError, Policy, adoption, fstab, kernel, presence, tunables
from backends.errors import PluginError
from backends.registry import compressed_memory as checked_compressed_memory
from backends.registry import kind_says, registry

from .models import Backend, Host, Job, Sample
from .orphans import settle_orphans

log = logging.getLogger(__name__)


# ---- the whole host, cheaply (every sample) ----


def _tunables() -> dict[str, Any]:
    try:
        return dict(tunables.read_tunables().to_dict())
    except Exception as e:  # a missing zswap directory must not stop sampling
        return {"error": str(e)}


#: (kind, path) pairs whose plugin failed to give figures, so that the failure is logged
#: once (not every 5 s) until that plugin gives them again; bounded by the host's areas.
_FIGURES_FAILED: set[tuple[str, str]] = set()


def _compressed_memory(paths: list[str]) -> dict[str, Any]:
    """The compressed-memory figures of each active area whose kind keeps it in RAM, asked
    of the one kind that claims it (a zram device's mm_stat; whatever a third party's kind
    of the same sort reports) and checked before they are stored. Stored under the sample's
    ``zram`` key, as samples always have been."""
    out: dict[str, Any] = {}
    kinds = registry()
    for p in paths:
        claimants = kinds.claimants(p)
        if len(claimants) != 1:
            continue  # no kind claims it, or two alike: whose figures they are is a guess
        kind = claimants[0]
        said = (kind.name, p)
        try:
            st = checked_compressed_memory(kind, p)
        except PluginError as e:
            if said not in _FIGURES_FAILED:
                log.error("%s; left out of the samples until it gives them", e)
            _FIGURES_FAILED.add(said)
            continue
        except (BackendError, OSError):
            continue  # gone between /proc/swaps and its figures: the next sample says so
        except Exception:
            if said not in _FIGURES_FAILED:
                log.exception("the %s plugin failed to give %s's compressed memory", *said)
            _FIGURES_FAILED.add(said)
            continue
        _FIGURES_FAILED.discard(said)
        if st is not None:
            out[p] = {**asdict(st), "compression_ratio": st.compression_ratio}
    return out


class Reading:
    """The previous counters, to turn pswpin/pswpout into rates."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.pswpin = 0
        self.pswpout = 0


@dataclass(frozen=True)
class HostReading:
    """Everything one sample stores, read from the host's kernel at ``at``, and nothing read
    from the database: ``store_sample`` writes it. Kept apart so the reading (slow: every
    process's VmSwap) never runs while row locks are held, and so a recorded reading can be
    stored again for a synthetic host (bench/bench_control_plane.py, table 4) through the
    very path the worker takes."""

    at: datetime
    meminfo: kernel.MemInfo
    psi: kernel.Psi | None
    areas: list[kernel.SwapArea]
    #: Pages per second since the previous reading: (pswpin, pswpout).
    rates: tuple[float, float] = (0.0, 0.0)
    #: The kernel's counters themselves: (pswpin, pswpout).
    counters: tuple[int, int] = (0, 0)
    tunables: dict[str, Any] = field(default_factory=dict)
    zram: dict[str, Any] = field(default_factory=dict)
    top: list[dict[str, Any]] = field(default_factory=list)


def read_host(previous: Reading) -> HostReading:
    """Read this host's kernel once; ``previous`` turns the swap counters into rates."""
    at = timezone.now()
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
    return HostReading(
        at=at, meminfo=mem, psi=psi, areas=areas, rates=(rate_in, rate_out),
        counters=(vm["pswpin"], vm["pswpout"]), tunables=_tunables(),
        zram=_compressed_memory([a.path for a in areas]),
        top=[asdict(p) for p in kernel.top_swap_processes(10)],
    )  # fmt: skip


def take_sample(host: Host, previous: Reading) -> Sample:
    """Read the host once and write a Sample, the Host snapshot and the backends' state."""
    # Every kernel read before the transaction: reading each process's VmSwap is slow, and
    # the backend rows stay locked from their update to the commit.
    return store_sample(host, read_host(previous))


def store_sample(host: Host, reading: HostReading) -> Sample:
    """Write ``reading`` as ``host``'s Sample, its Host snapshot and heartbeat, and its
    backends' observed state, all or nothing.

    Two round trips on PostgreSQL: one query reads the backends (and which a job holds),
    one statement writes everything, atomic as any statement. A transaction around them
    would add two more (BEGIN, COMMIT) and guard nothing: under READ COMMITTED a job may
    start or end between the read and the write either way, and the write's own condition
    (a fresher observation is kept) is what stops a sample undoing a job's. SQLite (one
    machine, `make run`) keeps one IMMEDIATE transaction around both, which does hold the
    job back. Figures: docs/BENCHMARKS-control-plane.md, table 4."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
    now = reading.at
    on_postgresql = db.vendor == "postgresql"
    with contextlib.nullcontext() if on_postgresql else transaction.atomic():
        by_backend: dict[str, int] = {}
        managed: set[str] = set()
        observations: dict[int, dict[str, Any]] = {}
        for backend, busy in _backends_of(host):
            if backend.observed_state == Backend.Observed.FOREIGN:
                # Only a thorough look (after a job, at a check) clears that verdict; the
                # area at its path is someone else's, so it is listed as unmanaged.
                continue
            area = _match(backend, reading.areas)
            if backend.observed_state == Backend.Observed.INDETERMINATE:
                # The thorough look could not name its path: the one recorded may now be
                # another's (a zram device of another boot), so an area there is neither
                # counted as this backend's use nor offered to adopt, and the verdict stays
                # until a thorough look can tell (after a job, at a check someone asks for).
                if area is not None:
                    managed.add(area.path)
                continue
            if area is not None:
                managed.add(area.path)
                by_backend[str(backend.uuid)] = area.used_bytes
            if busy:
                continue  # the job refreshes it thoroughly when it ends
            observations[backend.pk] = _observation(backend, area, now)
        mem, psi = reading.meminfo, reading.psi
        sample = Sample(
            host=host,
            at=now,
            mem_total=mem.mem_total,
            mem_available=mem.mem_available,
            swap_total=mem.swap_total,
            swap_free=mem.swap_free,
            swap_cached=mem.swap_cached,
            pswpin_rate=reading.rates[0],
            pswpout_rate=reading.rates[1],
            psi_some_avg10=psi.some_avg10 if psi else 0.0,
            psi_full_avg10=psi.full_avg10 if psi else 0.0,
            backends=by_backend,
        )
        snapshot = _snapshot(reading, managed)
        if on_postgresql:
            _write_in_one_statement(host, observations, snapshot, sample)
        else:
            _write_observations(host.pk, observations, now)
            # The heartbeat in the database's clock: a host whose own clock is off is not
            # offline for it.
            Host.objects.filter(pk=host.pk).update(
                observed=snapshot, observed_at=now, last_heartbeat=Now()
            )
            sample.save(force_insert=True)
        return sample


def _write_in_one_statement(
    host: Host, observations: dict[int, dict[str, Any]], snapshot: dict[str, Any], sample: Sample
) -> None:
    """PostgreSQL: the backends' observations, the Host's snapshot and heartbeat (in the
    database's clock, STATEMENT_TIMESTAMP(), which Django's Now() writes there: a host
    whose clock is off is not offline for it) and the Sample row, as data-modifying WITHs
    of the Sample's INSERT.

    Committed asynchronously (synchronous_commit off, for this statement's own transaction:
    the Sampler holds none; inside a caller's transaction it is left on, so that no other
    write of the caller's commits that way): the commit returns before its WAL reaches the
    disk, within three wal_writer_delay (600 ms by default). A crash of the database may
    lose the last fraction of a second of samples, which the next reading (5 s on)
    replaces; it reorders nothing, and a job's own commit (synchronous) flushes every
    sample committed before it. On a busy disk, waiting for the flush was the larger part
    of a sample's time.

    The statement's text is the same for every sample of every host (the backends come as
    one JSON parameter, not a VALUES row each), so it is bound and prepared once per
    connection (``_cursor``): neither side parses or plans it again."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
    sql, fields = _statement(db.in_atomic_block)
    params: list[Any] = [
        json.dumps(_observation_rows(observations)),
        Host._meta.get_field("observed").get_db_prep_save(snapshot, db),
        sample.at,
        host.pk,
        sample.at,  # the backends' observed_at
        sample.at,  # a fresher one than this is kept
    ]
    params += [f.get_db_prep_save(getattr(sample, f.attname), db) for f in fields]
    sample.pk = _execute(sql, params)[0][0]
    sample._state.adding, sample._state.db = False, db.alias


@functools.cache
def _statement(in_transaction: bool) -> tuple[str, list[models.Field[Any, Any]]]:
    """The one statement of ``_write_in_one_statement``, and the Sample fields it inserts,
    in the order of its last parameters. Built once: its text never changes. The backends'
    part is ``_observations_update``, the one SQLite runs alone."""
    db = connections[DEFAULT_DB_ALIAS]
    q = db.ops.quote_name
    hosts, samples = Host._meta, Sample._meta

    def col(meta: Any, name: str) -> str:
        return q(meta.get_field(name).column)

    fields = [f for f in samples.concrete_fields if not (f.primary_key or f.generated)]
    commit = (
        "SELECT 1" if in_transaction else "SELECT set_config('synchronous_commit', 'off', true)"
    )
    # One order of row locks, the one a job's claim takes (plugins.record_store): the host's
    # row first, then its backends. The WITHs' textual order orders nothing (PostgreSQL runs
    # the unread ones last to first): b's reading of h's key is what runs h before b locks
    # anything, so that key must never become a parameter. Of the backends, only the rows no
    # one holds: a job's transaction holding a backend's row costs that row one reading (the
    # job writes its own observation when it ends); waiting for it would hold the host's row
    # meanwhile, so that the job's claim, waiting for that, would wait on the sample that
    # waits on the job: a deadlock, or a stalled job.
    sql = (
        f"WITH c AS ({commit}), {_observations_named(db)}, "
        f"h AS (UPDATE {q(hosts.db_table)} SET {col(hosts, 'observed')} = %s, "
        f"{col(hosts, 'observed_at')} = %s, {col(hosts, 'last_heartbeat')} = "
        f"STATEMENT_TIMESTAMP() WHERE {q(hosts.pk.column)} = %s "
        f"RETURNING {q(hosts.pk.column)}), "
        f"b AS ({_observations_update(db, f'(SELECT {q(hosts.pk.column)} FROM h)', True)}) "
        # INSERT ... SELECT FROM c: a WITH that only reads runs if something reads it.
        f"INSERT INTO {q(samples.db_table)} ({', '.join(q(f.column) for f in fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} FROM c RETURNING {q(samples.pk.column)}"
    )
    return sql, fields


def _observation_rows(observations: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """``observations`` (by backend key) as the rows the statement's JSON parameter holds.
    Only the fields ``_observation`` gives are there; observed_at is the reading's own."""
    return [
        {
            "pk": pk,
            "state": fields.get("observed_state"),
            "used": fields.get("used_bytes"),
            "priority": fields.get("active_priority"),
            "error": fields.get("observed_error"),
        }
        for pk, fields in observations.items()
    ]


def _execute(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run one of the sampler's statements; its rows."""
    try:
        with _cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    except DatabaseError:
        _forget_prepared()
        raise


def _forget_prepared() -> None:
    """After a failed statement, drop what this connection prepared. A migration that changed
    a column the statement returns ("cached plan must not change result type") fails it on
    every run until then: psycopg checks a prepared statement only when it first prepares
    it. Inside a transaction its rollback does the same (psycopg forgets all on ROLLBACK);
    outside one, nothing else would."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or db.connection is None or db.in_atomic_block:
        return
    with contextlib.suppress(Exception):  # a connection gone bad: the caller's error says it
        db.connection.execute("DEALLOCATE ALL")


def _cursor() -> Any:
    """A cursor for the sampler's statements, which run for every sample of every host.

    On PostgreSQL, psycopg's server-side binding with each statement prepared on the
    connection at its first use: the parameters travel apart from a text that never
    changes, so the client neither quotes them nor parses the text again, and the server
    neither parses nor plans it again (together most of both sides' CPU a sample).
    Django's own connections bind on the client and prepare nothing (its default, for
    poolers in transaction mode); these statements are the sampler's alone, so preparing
    them changes no other query. It is still Django's cursor wrapper: its health check,
    query logging, execute wrappers and errors. SQLite, or SWAPADMIN_SAMPLER_PREPARES off
    (a pooler that cannot carry prepared statements): Django's cursor."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
    if db.vendor != "postgresql" or not settings.SWAPADMIN_SAMPLER_PREPARES:
        return db.cursor()
    # What BaseDatabaseWrapper.cursor() does, with this cursor class instead of Django's.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    if db.connection.prepare_threshold is None:
        # Django's None turns preparing off, even when asked; a threshold no count reaches
        # prepares what asks (these statements) and nothing else: Django's own cursors bind
        # on the client, which never prepares.
        db.connection.prepare_threshold = sys.maxsize
    with db.wrap_database_errors:
        raw = _prepared_cursor_class()(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


@functools.cache
def _prepared_cursor_class() -> type:
    """Django's server-binding psycopg cursor, preparing every statement it runs. Imported
    here: an install on SQLite alone may have no psycopg."""
    # django-stubs 5.2 does not declare ServerBindingCursor (Django 5.0 added it).
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]
    from psycopg.types.numeric import Int8Dumper

    class PreparedCursor(ServerBindingCursor):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Every int as a bigint: psycopg types each by its size (smallint for 0), and
            # each mix of types would be a statement prepared apart.
            self.adapters.register_dumper(int, Int8Dumper)

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, **{**kwargs, "prepare": True})

    return PreparedCursor


#: Every field the sample reads of a backend, ``_observation`` and what it calls included (its
#: kind's flags, whether its store may be hidden): a field left out is loaded by the ORM
#: when read, one query for each backend at every sample (the kind was, for every backend
#: not in /proc/swaps: a writer's CPU a sample grew fourfold, fifty-first session).
_BACKEND_COLUMNS = ("id", "uuid", "kind", "observed_state", "observed_error", "info", "params")


def _backends_of(host: Host) -> list[tuple[Backend, bool]]:
    """``host``'s backends, each with whether a job runs on it, in one query. In SQL, not
    the ORM: building the querysets took longer than running them, and this runs for every
    sample of every host. Only the fields the sample needs are loaded."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
    q = db.ops.quote_name
    backend, job = Backend._meta, Job._meta
    # In the model's order: Model.from_db takes the values so.
    fields = [f for f in backend.concrete_fields if f.attname in _BACKEND_COLUMNS]
    job_col = {name: q(_column(job, name)) for name in ("host", "backend", "state")}
    sql = (
        f"SELECT {', '.join('b.' + q(f.column) for f in fields)}, EXISTS (SELECT 1 FROM "
        f"{q(job.db_table)} j WHERE j.{job_col['backend']} = b.{q(backend.pk.column)} AND "
        f"j.{job_col['host']} = %s AND j.{job_col['state']} = %s) FROM {q(backend.db_table)} b "
        f"WHERE b.{q(backend.get_field('host').column)} = %s"
    )
    rows = _execute(sql, [host.pk, Job.State.RUNNING, host.pk])
    converters = [_converter(f, db) for f in fields]
    names = [f.attname for f in fields]
    out = []
    for row in rows:
        values = [convert(v) for convert, v in zip(converters, row[:-1], strict=True)]
        out.append((Backend.from_db(db.alias, names, values), bool(row[-1])))
    return out


def _column(meta: Any, name: str) -> str:
    """The column of concrete field ``name`` (a foreign key's ``host_id``)."""
    field = meta.get_field(name)
    assert isinstance(field, models.Field), name
    return str(field.column)


def _converter(field: models.Field[Any, Any], db: Any) -> Any:
    """Turns ``field``'s column as the driver returns it into the model's value (a JSON
    text into a dict, SQLite's hex text into a UUID)."""
    if isinstance(field, models.JSONField):
        # The expression is not read (Django's own call passes the column's).
        return lambda v: field.from_db_value(v, cast(Any, None), db)
    if isinstance(field, models.UUIDField):
        return field.to_python
    return lambda v: v


def _snapshot(reading: HostReading, managed: set[str]) -> dict[str, Any]:
    """The Host's ``observed``: its shape is read by swapadmin/web/snapshot.py."""
    # Paths shown, never opened: a name that is not UTF-8 cannot be stored (PostgreSQL's
    # JSON refuses a lone surrogate) and is shown with its bytes escaped; which areas are
    # managed is told on the names themselves (a printable one may equal another's).
    areas = [{**_flat(a), "path": kernel.printable(a.path)} for a in reading.areas]
    unmanaged = [
        _unmanaged(a.path, shown)
        for a, shown in zip(reading.areas, areas, strict=True)
        if a.path not in managed
    ]
    return {
        "meminfo": _flat(reading.meminfo),
        "rates": {"pswpin": reading.rates[0], "pswpout": reading.rates[1]},
        "vmstat": {"pswpin": reading.counters[0], "pswpout": reading.counters[1]},
        "psi": _flat(reading.psi) if reading.psi else None,
        "tunables": reading.tunables,
        "areas": areas,
        "unmanaged": unmanaged,
        "zram": reading.zram,
        "top": reading.top,
        "heartbeat": reading.at.isoformat(),
    }


def _unmanaged(path: str, shown: dict[str, Any]) -> dict[str, Any]:
    # The page offers "Adopt" only for an area a discover could adopt; for the others it
    # says why (the discover job re-checks either way: this is what the page shows).
    why = adoption.unadoptable_name(path)
    if why is None and shown.get("deleted") and presence.there(path, follow=False) is False:
        # Discover passes over a deleted area; a file made at its path since (and named
        # in the fstab) is another matter, which discover judges.
        why = (
            "the file or device node it was swapped on from has been deleted: nothing is "
            "left at its path to adopt"
        )
    return {**shown, "unadoptable": why} if why else shown


def _flat(reading: Any) -> dict[str, Any]:
    """A dataclass of plain figures (MemInfo, Psi, SwapArea) as a dict: what ``asdict``
    gives for these, without its deep copy of every value, a tenth of a sample's Python."""
    return {f.name: getattr(reading, f.name) for f in dataclasses.fields(reading)}


def _match(backend: Backend, areas: list[kernel.SwapArea]) -> kernel.SwapArea | None:
    path = presence.as_path(backend.swap_path)
    if path is None:
        return None  # no path to match (a row another machine wrote): its state stays
    for area in areas:
        if area.path == path:
            return area
    # /proc/swaps shows the resolved path: a backend's path through a link (by-id names)
    # needs resolving, which stats each part of it, so only when the path itself is not there.
    real = os.path.realpath(path)
    if real == path:
        return None
    for area in areas:
        if area.path == real:
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
        return fields
    if _description_failed(backend):
        # The row's path would then be only its params' guess, and a loop backend's file is
        # not the device /proc/swaps shows: an active loop area would be read as off,
        # READY (review 167/3). A failed description names the path when it can
        # (``handlers._info``); one that does not says nothing until the next one does.
        return fields
    path = backend.swap_path
    if not path and _path_unnamed(backend):
        return fields  # the row names no path, or none that is a path: it says nothing
    there = presence.there(path) if path else False
    if there is None:
        # A stat that failed otherwise (EACCES, EIO), a dangling link, or no path at all:
        # this says nothing, not even that the area is off (its real path may be the one
        # /proc/swaps shows, which the failed look could not resolve). State, used bytes
        # and priority stay as last seen (review 161/3).
        return fields
    fields.update(used_bytes=0, active_priority=None)
    # A hidden store's ERROR is this reader's own word (or the observer's in the same
    # words), so found again it is cleared here too: nothing else would (review 182/3).
    # Finding nothing by name may then say only that a filesystem is not mounted.
    beneath = kind_says(backend.kind, "beneath_mounts")
    to_ready = (beneath and backend.store_may_be_hidden) or backend.observed_state in (
        Backend.Observed.ACTIVE,
        Backend.Observed.ABSENT,
        Backend.Observed.UNKNOWN,
    )
    hidden = _hidden(backend, path) if beneath and (there is False or to_ready) else None
    if hidden is not None:
        # Nothing, or something else, by that name beneath a filesystem the machine mounts
        # that is not mounted (or whether it is cannot be told): the store may well be on
        # it, and it is not in use (not in /proc/swaps). Said, not "absent" (the destroy
        # of a backend so read would look done) nor "ready" (reviews 178/1, 181/3, 181/4).
        fields.update(
            observed_state=Backend.Observed.ERROR, observed_error=Backend.HIDDEN_SAID + hidden
        )
    elif there is False:
        fields.update(observed_state=Backend.Observed.ABSENT, observed_error="")
    elif to_ready:
        # Deactivated (or recreated) outside swapadmin: the store is there, not in use.
        fields.update(observed_state=Backend.Observed.READY, observed_error="")
    return fields


def _hidden(backend: Backend, path: str | None) -> str | None:
    """Why finding nothing (or something else) at the row's path by name says nothing of its
    store: a mount missing above it, or above the file its params name (a loop backend's
    path is its device, which after a reboot is gone whatever its file's disk does: review
    181/4), or a mount table that cannot be read. Read only for a row whose store is not
    found, or would turn ready (a small file, once such a row a sample), and never raised:
    one row must not cost the host its sample (review 180/5). Only a kind whose store is a
    file beneath the mount points asks (``beneath_mounts``): a table that cannot be read
    says nothing of a missing zram or block device (review 182/3)."""
    try:
        table = Policy.from_env().mount_table
    except ValueError as e:  # a variable the worker's start would have refused
        return f"cannot tell whether its filesystem is mounted: {e}"
    params = backend.params if isinstance(backend.params, dict) else {}
    for name in dict.fromkeys((path, params.get("path"))):
        if isinstance(name, str) and name.startswith("/"):
            hidden = fstab.hidden_by_a_mount(name, table)
            if hidden is not None:
                return hidden.message
    return None


def _description_failed(backend: Backend) -> bool:
    """Whether the row's last description failed to name the area's path: ``describe``
    could not read what names it, or a job could not describe the store and named no path
    beside its error (a row written before ``handlers._info`` named it)."""
    info = backend.info if isinstance(backend.info, dict) else {}
    return bool(info.get("swap_path_error")) or (
        bool(info.get("error")) and "swap_path" not in info
    )


def _path_unnamed(backend: Backend) -> bool:
    """Whether the row names no path for a reason other than "no device": its description
    named one that is no string, or its params name one that is no path. Then an active
    area read as gone would be offered a provision."""
    info = backend.info if isinstance(backend.info, dict) else {}
    seen = info.get("swap_path")
    if seen is not None and not isinstance(seen, str):
        return True  # a path that is no string (review 168/5): ``swap_path`` names none
    # A path the row names that is no path (0, [], "": another machine wrote it): no
    # look was taken, and "absent" would clear the error that says so (review 165/6).
    params = backend.params
    if not isinstance(params, dict):
        return True  # no params at all: nothing names the path (review 164/1)
    return any(key in params and presence.as_path(params[key]) is None for key in _PATH_KEYS)


#: The params that name a store's path, as ``Backend.swap_path`` reads them.
_PATH_KEYS = ("path", "device")


def _write_observations(host_pk: int, observations: dict[int, dict[str, Any]], now: Any) -> None:
    """Write each of host ``host_pk``'s backends' observation (``observations``, by key) in
    one UPDATE: SQLite's path (`make run`), the same UPDATE as PostgreSQL's one statement."""
    if observations:
        db = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy looks it up
        at = Backend._meta.get_field("observed_at").get_db_prep_save(now, db)
        params = [json.dumps(_observation_rows(observations)), at, host_pk, at]
        with db.cursor() as cursor:
            cursor.execute(f"WITH {_observations_named(db)} {_observations_update(db)}", params)


def _observations_named(db: Any) -> str:
    """The WITH item ``v``: a reading's backend observations, from one JSON parameter (the
    rows of ``_observation_rows``), as rows of (pk, state, used, priority, error). One
    parameter whatever the number of backends, so the statement's text never changes."""
    if db.vendor == "postgresql":
        return (
            "v AS (SELECT * FROM json_to_recordset(%s::json) AS v(pk bigint, state text, "
            "used bigint, priority integer, error text))"
        )
    # Typed as PostgreSQL's are: a number past a 64-bit integer would come out a REAL, and
    # be stored so, where PostgreSQL's bigint refuses it.
    columns = ", ".join(
        f"CAST(json_extract(value, '$.{name}') AS {kind}) AS {name}"
        for name, kind in (("pk", "INTEGER"), ("state", "TEXT"), ("used", "INTEGER"),
                           ("priority", "INTEGER"), ("error", "TEXT"))
    )  # fmt: skip
    return f"v AS (SELECT {columns} FROM json_each(%s))"


def _observations_update(db: Any, host: str = "%s", skip_locked: bool = False) -> str:
    """The UPDATE that writes ``v`` (``_observations_named``) to the backends; its
    parameters: the observations' observed_at, the host's key (unless ``host`` is an
    expression), and the reading's time again. With ``skip_locked`` (PostgreSQL), a row
    another transaction holds is left as it is rather than waited for (``_statement``).

    A state or an error the reading cannot tell is null in ``v`` and keeps the row's value
    (both columns are NOT NULL, so null means nothing else); so are used bytes, with the
    priority beside them (which null cannot stand for: it is an inactive area's). A job
    that ended after this reading wrote a fresher observation: the WHERE keeps that one, row
    by row, against a job committing meanwhile, and keeps a foreign or indeterminate verdict
    written meanwhile.
    UPDATE ... FROM: PostgreSQL, and SQLite from 3.33."""
    q = db.ops.quote_name
    backends = Backend._meta
    table = q(backends.db_table)

    def col(name: str) -> str:
        return str(q(_column(backends, name)))

    pk = q(backends.pk.column)
    # Verdicts only a thorough look clears (the reading skips such rows; this holds if one
    # is written between the reading's look at the rows and this statement).
    kept = ", ".join(f"'{s}'" for s in (Backend.Observed.FOREIGN, Backend.Observed.INDETERMINATE))
    # The rows the UPDATE writes, locked as it would lock them (NO KEY UPDATE: a foreign
    # key's check on the row, a job's or a health row's, is no conflict), each skipped if
    # held; only the reading's own (v), so a busy or foreign backend's row is not touched.
    free = (
        f" AND {table}.{pk} IN (SELECT {pk} FROM {table} WHERE {col('host')} = {host} "
        f"AND {pk} IN (SELECT pk FROM v) FOR NO KEY UPDATE SKIP LOCKED)"
        if skip_locked
        else ""
    )
    return (
        f"UPDATE {table} SET {col('observed_at')} = %s, "
        f"{col('used_bytes')} = COALESCE(v.used, {table}.{col('used_bytes')}), "
        f"{col('active_priority')} = CASE WHEN v.used IS NULL "
        f"THEN {table}.{col('active_priority')} ELSE v.priority END, "
        f"{col('observed_state')} = COALESCE(v.state, {table}.{col('observed_state')}), "
        f"{col('observed_error')} = COALESCE(v.error, {table}.{col('observed_error')}) "
        # The host's own rows by its index: a fleet's whole table is never read (the
        # planner takes the JSON for 100 rows), and no sample writes another host's.
        f"FROM v WHERE {table}.{col('host')} = {host} AND {table}.{pk} = v.pk "
        f"AND ({table}.{col('observed_at')} IS NULL OR {table}.{col('observed_at')} < %s) "
        f"AND {table}.{col('observed_state')} NOT IN ({kept})"
        f"{free}"
    )


def host_settled(name: str) -> Host:
    """Host ``name``'s row for a turn of the sampler, its dead workers' jobs settled first
    (``settle_orphans``). That looks only at the host's running jobs and the backends flagged
    to be read again: when it has neither (nearly every turn), the host's row says so in the
    same query, and the four queries of settling, every few seconds for every host of the
    fleet, are not made (bench_fleet_live.py)."""
    running = Job.objects.filter(host=OuterRef("pk"), state=Job.State.RUNNING)
    flagged = Backend.objects.filter(host=OuterRef("pk"), reread_before_next_job=True)
    host = Host.objects.annotate(running=Exists(running), flagged=Exists(flagged)).get(name=name)
    if cast(Any, host).running or cast(Any, host).flagged:  # the annotations above
        settle_orphans(host)
    return host


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
                    take_sample(host_settled(self.host_name), previous)
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
