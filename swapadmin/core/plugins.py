"""A job's plugin, built from its backend row: the one place a row becomes a plugin
(``build_plugin``: the runner, the sampler, the handlers and health's checks), and the
control plane's side of the contract's callbacks, a store claimed (``claim_store``) and a
state saved (``save_state``)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Collection
from typing import Any, cast

from django.db import IntegrityError, transaction

from backends import BackendError, Policy, SwapBackend, adoption, registry
from backends.errors import NotOursError, ValidationError
from backends.store import Store

from .context import DB_ERRORS, JobContext, persistent
from .models import Backend, Host


def build_plugin(
    backend: Backend, policy: Policy, *, provisioning: bool = False, force: bool = False
) -> SwapBackend:
    """The plugin for ``backend``, built from the row with the host's policy. The
    constructor validates the parameters again: a tampered row is refused here. Only a
    provision may take a store that is not yet the backend's, and only a provision's force
    overwrites what a store holds; every other job writes to a store proven ours or not at
    all. The owner is the backend's public id, which a file's mark carries."""
    for field in ("params", "state"):
        # A row another machine wrote may hold any JSON: a constructor would fail on a list
        # with a TypeError no caller takes for "cannot build" (review 164/1).
        if not isinstance(getattr(backend, field), dict):
            raise ValidationError(f"the row's {field} is not a mapping", field=field)
    cls = registry().get(backend.kind)
    if backend.adopted:
        # An adopted file outside the swap roots is walked to from its own directory.
        policy = adoption.policy_for(policy, backend.params, backend.state)
    return cls(
        backend.params,
        size_bytes=backend.size_bytes,
        policy=policy,
        force=force and provisioning,
        state=backend.state,
        provisioning=provisioning,
        owner=str(backend.uuid),
    )


def record_store(
    backend: Backend, path: str, key: str, overlaps: Collection[str], **fields: Any
) -> None:
    """Record ``key`` (and ``fields``) on ``backend`` unless another backend of its machine
    names the same bytes or bytes that overlap them: then NotOursError, and nothing is
    written. The check and the write are one step under the machine's host rows' locks."""
    names = _store_names_of(path, key, overlaps)

    def write() -> None:
        with transaction.atomic():
            # The machine's host rows locked (in one order) make the check and the write one
            # step: every name a machine is known by shares its disks. NO KEY UPDATE: claims
            # still take turns, but a transaction inserting a row that names the host (a
            # job, its foreign key's check at commit) does not wait for one; it may hold the
            # backend's row that this claim writes next.
            locked = _lock_machine_hosts(backend.host_id, path, f"the host of {path}'s backend")
            other = _clashing(locked, backend.pk, key, names)
            if other is not None:
                raise NotOursError(
                    f"{path} is the store of {_whose(other, backend.host_id)}: the same "
                    "bytes by another name, or bytes that overlap them. One store serves "
                    "one backend. Nothing was written."
                )
            Backend.objects.filter(pk=backend.pk).update(store_key=key, **fields)

    try:
        persistent(write, "recording the backend's store")
    except IntegrityError:
        raise NotOursError(
            f"{path} is the store of another backend on this host already: one store "
            "serves one backend. Nothing was written."
        ) from None
    except DB_ERRORS as e:
        # Without the database no one can say the store is not another backend's.
        raise BackendError(
            f"the database is unreachable ({type(e).__name__}), so {path} cannot be "
            "checked against the other backends; nothing was written",
            retryable=True,
        ) from e
    backend.store_key = key


def _clashing(
    locked: list[int], exclude_pk: int | None, key: str, overlaps: frozenset[str]
) -> Backend | None:
    """A backend of the locked hosts, other than ``exclude_pk``, that names the bytes ``key``
    names or bytes that overlap them (either side's overlaps), or None."""
    others = Backend.objects.filter(host_id__in=locked)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others.only("name", "host_id", "store_key", "state").order_by("pk"):
        rec = other.state.get("store") if isinstance(other.state, dict) else None
        theirs = store_names(rec.get("overlaps") if isinstance(rec, dict) else None)
        if other.store_key and (
            other.store_key == key or other.store_key in overlaps or key in theirs
        ):
            return other
    return None


def create_adopted(
    host_pk: int,
    path: str,
    key: object,
    overlaps: object,
    name_for: Callable[[], str],
    **fields: Any,
) -> Backend:
    """Create the row of an area adopted from the host, named ``name_for()``, unless another
    backend of its machine names the same bytes or bytes that overlap them (NotOursError
    naming it): adoption never writes the store, but a second row on one area would activate
    and deactivate another backend's swap as its own. The check, the choice of a free name
    and the insert are one step under the machine's host rows' locks, as a claim's are. A
    kind that records no key for what it adopts is taken at its word: nothing to compare.
    The database unreachable past ``persistent``'s patience is its own error (the job's)."""
    names = _store_names_of(path, key, () if overlaps is None else overlaps) if key else None
    # Chosen once: a retry after a commit whose answer was lost finds its own row.
    code = uuid.uuid4()

    def write() -> Backend:
        with transaction.atomic():
            mine = Backend.objects.filter(uuid=code).first()
            if mine is not None:
                return mine
            if names is not None:
                assert isinstance(key, str)  # _store_names_of refused anything else
                locked = _lock_machine_hosts(host_pk, path, "the area's host")
                other = _clashing(locked, None, key, names)
                if other is not None:
                    raise NotOursError(f"it is the store of {_whose(other, host_pk)}")
            return Backend.objects.create(
                uuid=code,
                host_id=host_pk,
                store_key=key if isinstance(key, str) and key else None,
                name=name_for(),
                **fields,
            )

    try:
        return cast(Backend, persistent(write, "recording an adopted area"))
    except IntegrityError:
        # A backend created by hand under the name just chosen, or on the same key (a writer
        # that took no lock): nothing was recorded, and the next discover tries again.
        raise BackendError(
            f"another backend took its name or its store meanwhile; nothing was recorded. "
            f"Discover {path} again",
            retryable=True,
        ) from None


def _whose(other: Backend, host_pk: int) -> str:
    """``backend 'x' on this host already``, or on this machine, with the other name's host."""
    if other.host_id == host_pk:
        return f"backend {other.name!r} on this host already"
    host = Host.objects.filter(pk=other.host_id).values_list("name", flat=True).first()
    return f"backend {other.name!r} on this machine already (host {host})"


def _machine_id(host_pk: int) -> str | None:
    return Host.objects.filter(pk=host_pk).values_list("machine_id", flat=True).first()


def _lock_machine_hosts(host_pk: int, path: str, whose: str) -> list[int]:
    """Lock (FOR NO KEY UPDATE, in key order) the rows of every host name of the machine
    ``host_pk`` is, and return their keys. The machine id is read before the lock, so it is
    read again under it: a registration or a forget-machine that committed in between would
    otherwise leave the check blind to a name the machine took meanwhile. Only then does a
    second pass lock the new set while holding the first's rows, out of key order: two such
    claims at once can deadlock, which PostgreSQL breaks and ``persistent`` retries."""
    machine = _machine_id(host_pk)
    for _ in range(3):
        hosts = (
            Host.objects.filter(machine_id=machine) if machine else Host.objects.filter(pk=host_pk)
        )
        locked = list(
            hosts.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True)
        )
        # Held now (this host's row among them), its machine id cannot change until commit.
        now = _machine_id(host_pk)
        if now is None:
            raise NotOursError(f"{whose} was forgotten meanwhile. Nothing was written.")
        if host_pk in locked and now == machine:
            return locked
        machine = now
    raise BackendError(
        f"the machine id of {path}'s host kept changing while its store was being checked "
        "against the machine's other backends; nothing was written",
        retryable=True,
    )


#: ``Backend.store_key``'s length.
KEY_LENGTH = Backend._meta.get_field("store_key").max_length or 255


def _store_names_of(path: str, key: object, overlaps: object) -> frozenset[str]:
    """``overlaps`` as a set of names, once ``key`` and they are names a clash can be found
    by; else NotOursError. A kind (a third party's too) that named its bytes with nothing,
    or gave one name where a list belongs (a string is iterable, as its characters), would
    let another backend's claim of the same bytes through unseen. So would an iterator:
    ``SwapBackend.claim`` reads the overlaps once before this, and it came here spent."""
    if not isinstance(key, str) or not key.strip():
        raise NotOursError(
            f"the kind named {path}'s bytes with no key ({key!r}), so nothing can tell them "
            "from another backend's store. Nothing was written."
        )
    if len(key) > KEY_LENGTH or "\x00" in key:
        raise NotOursError(
            f"the kind named {path}'s bytes with a key the database cannot hold (more than "
            f"{KEY_LENGTH} characters, or a NUL): {key[:80]!r}. Nothing was written."
        )
    if not isinstance(overlaps, (list, tuple, set, frozenset)) or not all(
        isinstance(name, str) and name.strip() for name in overlaps
    ):
        raise NotOursError(
            f"the kind named what {path}'s bytes overlap as {overlaps!r}, not a list of store "
            "keys, so no clash with another backend's store could be seen. Nothing was "
            "written."
        )
    return frozenset(overlaps)


def store_names(value: object) -> frozenset[str]:
    """The store names in a row's ``overlaps`` (a list of strings); nothing from a row
    another machine or a hand could have left in any other shape, and no empty name."""
    if not isinstance(value, (list, tuple, set, frozenset)):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v.strip())


def attach_plugin(ctx: JobContext, *, provisioning: bool, force: bool) -> SwapBackend:
    """Build the job's plugin from its backend row as it stands, its store claims and state
    going to the rows (``claim_store``, ``save_state``); the caller closed any earlier one."""
    backend = ctx.backend
    assert backend is not None
    plugin = build_plugin(backend, ctx.policy, provisioning=provisioning, force=force)
    plugin.on_store = lambda store: claim_store(backend, store)
    plugin.on_state = lambda state: save_state(ctx, backend, state)
    ctx.plugin = plugin
    return plugin


def save_state(ctx: JobContext, backend: Backend, state: dict[str, Any]) -> None:
    """The plugin made something only its state can find again (a zram device, a loop
    device): saved now (or kept through a database outage), so no crash leaks it."""
    state = copy.deepcopy(state)
    backend.state = state
    ctx.record(
        lambda: Backend.objects.filter(pk=backend.pk).update(state=state),
        "what the job made on the host",
    )


def claim_store(backend: Backend, store: Store) -> None:
    """One store, one backend: refuse (NotOursError) when another backend of this host
    already names the same bytes or bytes that overlap them (a partition and its disk, a
    loop device and its backing file), and record the key on this backend. Called by the
    plugin with each store it opens for writing, after its proof and before any byte."""
    record_store(backend, store.path, store.key, store.overlaps)
