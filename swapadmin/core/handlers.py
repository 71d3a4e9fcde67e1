"""One function per job kind, run by the JobRunner on the backend's host.

A handler gets a ``JobContext`` whose plugin was rebuilt from the row with the host's own
policy; it does the kernel work through ``backends/``, reports steps, and returns the job's
result (JSON). A ``BackendError`` it lets through becomes the job's error message.
Operations that find the kernel already where the user wants it (activating an active area,
deactivating an inactive one) succeed without touching the kernel.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import uuid as uuid_mod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backends import (
    PAGE_SIZE,
    BackendError,
    HeaderError,
    Policy,
    SwapBackend,
    UnsafeError,
    ValidationError,
    adoption,
    before_any_change,
    burnin,
    cgroups,
    fstab,
    header,
    kernel,
    pageio,
    registry,
    tunables,
)
from backends import store as store_mod
from backends.errors import (
    BUSY_ERRNOS,
    BusyError,
    KernelError,
    NoDeviceError,
    NotOursError,
    PluginError,
    UnprovenAreaError,
    UnprovenDeviceError,
    UnsafeDirectoryError,
    errno_of,
    field_of,
    held_by_another,
    is_retryable,
    printable,
)
from backends.store import Store

from . import observe, signing
from .actions import BACKEND_ACTIONS, BY_NAME
from .context import DB_ERRORS, MAX_RETRIES, Busy, Cancelled, Handler, JobContext
from .locks import HOST_MEMORY_LOCK, HOST_MEMORY_WAIT_SECONDS, exclusive_wait
from .models import Backend, Host, Job
from .plugins import attach_plugin, build_plugin, create_adopted, record_store, store_names
from .services import Actor, audit, kind_refusal

log = logging.getLogger(__name__)
T = TypeVar("T")

# ---- helpers ----


def _swap_uuid(ctx: JobContext) -> uuid_mod.UUID | None:
    assert ctx.backend is not None
    value = ctx.backend.swap_uuid
    if value is None:
        return None
    return value if isinstance(value, uuid_mod.UUID) else uuid_mod.UUID(str(value))


def _mkswap(ctx: JobContext, plugin: SwapBackend, *, provisioned: bool = False) -> dict[str, Any]:
    """Format the area keeping the backend's label and UUID; store the header on the row.
    The plugin proves the store its own on the descriptor it writes through. ``provisioned``
    (a provision's own mkswap): the row also says the area is provisioned, in the same write,
    so no moment has the header recorded without the rest."""
    assert ctx.backend is not None
    _refuse_adopted(ctx, "mkswap writes a new swap header on it")
    swap_uuid = _swap_uuid(ctx)
    hdr = header.mkswap(
        plugin,
        label=ctx.backend.label,
        uuid=swap_uuid,
        badpages=_kept_badpages(plugin, swap_uuid),
    )
    data = hdr.to_dict()
    fields: dict[str, Any] = {"header": data, "swap_uuid": hdr.uuid}
    if provisioned:
        fields.update(info=_info(plugin, _last_info(ctx)), provisioned_at=timezone.now())
    ctx.save_backend(**fields)
    return data


def _kept_badpages(plugin: SwapBackend, swap_uuid: uuid_mod.UUID | None) -> tuple[int, ...]:
    """The bad pages of the header mkswap replaces, when that header is this backend's own
    (the UUID written again): a scan found them failing, and a header without them hands
    them to the kernel as swap. Those past the area's end now (a shrink) are dropped. A
    read that fails is raised: an unread list is not an empty one."""
    if swap_uuid is None:
        return ()
    try:
        old = header.read_header(plugin)
    except HeaderError:
        return ()
    if old.uuid != swap_uuid:
        return ()
    last_page = min(plugin.size_pages, header.MAX_PAGES) - 1
    return tuple(p for p in old.badpages if p <= last_page)


def _header_or_none(plugin: SwapBackend) -> dict[str, Any] | None:
    """The area's swap header, or None when page 0 holds none (HeaderError). A read that
    fails (EIO, a descriptor limit, a device identity that cannot be read) is raised: taken
    for "no header", activate would write one, wiping the bad pages of an intact header."""
    try:
        return header.read_header(plugin).to_dict()
    except HeaderError:
        return None


def _info(plugin: SwapBackend, last: Any = None) -> dict[str, Any]:
    """The plugin's description; when it fails, the error over the ``last`` one's facts
    (the row's, which the page says are the last's: reviews 172/4, 173/4), with the area's
    path still named (or why it cannot be), as ``describe`` names it: without one, the
    sampler had only the params' guess, which for a loop backend is its file, not the
    device /proc/swaps shows (reviews 167/3, 169/1)."""
    # Whatever a third party's kind raises, or describes that no row can hold: after a
    # job's kernel work (mkswap, swapon) a failure here would leave that work unsaved
    # (reviews 172/5, 173/1); before it (an adoption) the row says the error.
    described, failed = observe.describe(plugin)
    if described is not None:
        return described
    assert failed is not None
    path, unnamed = observe.named_path(plugin)
    out = observe.failed_description(last, failed, path)
    if unnamed is not None:
        out["swap_path_error"] = unnamed
    return out


def _last_info(ctx: JobContext) -> Any:
    """The row's description as the job has it, for a failed one to keep its facts: every
    handler's description of its own backend is ``_info(plugin, _last_info(ctx))``."""
    return ctx.backend.info if ctx.backend is not None else None


def _label_of(plugin: SwapBackend, name: str) -> str:
    """What a step names the store by: its file, else its path, else the backend's name.
    Only a label: whatever a third party's kind raises naming it is not a reason to stop a
    job half-way, after its store was released (reviews 174/3, 176/3)."""
    try:
        what = getattr(plugin, "file_path", None)
    except Exception:
        what = None
    if not isinstance(what, str) or not what:
        what = observe.named_path(plugin)[0]
    return what or name


def _swap_path(plugin: SwapBackend) -> str | None:
    """The area's path, or None when its kind has no device now (and then nothing of it is
    active); a path that cannot be read is raised (``SwapBackend.swap_path_if_any``), and
    so is one a kind named that is no path: an empty string read as "no device", so as
    "not active" (review 173/6)."""
    path = plugin.swap_path_if_any()
    unnamed = observe.no_path(path)
    if unnamed is not None:
        raise BackendError(unnamed)
    return path


def _active_area(plugin: SwapBackend) -> kernel.SwapArea | None:
    path = _swap_path(plugin)
    return kernel.find_area(path) if path else None


def _swapon(ctx: JobContext, plugin: SwapBackend) -> None:
    """swapon through a descriptor proven to be this backend's formatted area, so the
    kernel opens exactly that store (not whatever the path names by then)."""
    assert ctx.backend is not None
    store = plugin.open_for_swapon()
    try:
        # No loop device over its device either: another name for the pages handed to the
        # kernel (226/1), asked here, not in the proof that swapoffs and looks share (227/4).
        plugin.check_alone(store)
        plugin.swap_on(store, priority=ctx.backend.priority, discard=ctx.backend.discard or None)
    finally:
        store.close()


@contextmanager
def host_memory(ctx: JobContext, doing: str) -> Iterator[None]:
    """One swapoff or burn-in at a time on this host: each one's RAM check holds only while
    no other one moves pages in or out. The check is made again under the lock."""

    def waiting() -> None:
        ctx.log(f"waiting for another swapoff or burn-in on this host before {doing}")

    with exclusive_wait(
        HOST_MEMORY_LOCK,
        why="another swapoff or burn-in on this host",
        timeout=HOST_MEMORY_WAIT_SECONDS,
        on_wait=waiting,
        check=ctx.stop_if_cancelled,
    ):
        yield


#: Why a deactivate with ``to_change`` refused what a plain one would do (237/2).
_ASKED_TO_CHANGE = (
    "It was asked only so that its store could be removed after it (the dynamic swap "
    "policy's), which this would refuse too. Nothing was changed."
)


def _swapoff(
    ctx: JobContext,
    plugin: SwapBackend,
    *,
    step: str,
    to_change: bool = False,
    then: str = "Nothing was changed.",
) -> None:
    """swapoff of this backend's own area, under the host's memory lock, the RAM check made
    under it. The area is named to the kernel through a descriptor proven to be it (its
    header read, which is fine on an active area): the wait for the lock may be long, and
    the path named again after it may lead to another area by then (its swap root renamed,
    a link put in its place), which must not be turned off.

    ``to_change``: the job swaps the area off to write or release its store (a resize, a
    destroy), which ``check_alone`` refuses while another name reaches its bytes (a loop
    device over its device). Asked here, on the same descriptor, just before the swapoff:
    asked only after it, the refusal left the area off for nothing (228/1). A plain
    deactivate, and the destroy of a store left as it is (an adopted area, the block
    kind's), do not ask, nor the kind's own look (``check_exclusive``): a swapoff writes
    nothing, and turning its own area off is what a person wants then; the proof that it
    is this backend's area (its identity, its UUID) is asked all the same (234/4, 235/5).

    ``step`` is logged once the area is proven and found alone: logged before, a refusal
    read as if the swapoff had been tried."""
    force = signing.forced(ctx.job.params)
    store = plugin.open_for_swapon()
    try:
        if to_change:
            # Refused at once, not after the wait for the lock; and asked again under it.
            _alone_before_the_swapoff(plugin, store, then)
        ctx.step(10, step)
        with host_memory(ctx, f"swapoff {plugin.swap_path}"):
            if to_change:
                _alone_before_the_swapoff(plugin, store, then)
            if force:
                ctx.log("forced: swapadmin does not check that the area's pages fit in RAM")
            swapoff_store(ctx, plugin, store, force=force)
    finally:
        store.close()


def _open_the_active_area(plugin: SwapBackend, then: str) -> Store:
    """The store at the path, proven this backend's formatted area (``open_for_swapon``),
    reached by no other name and the very area active in /proc/swaps (``_look_again``);
    ``then``, said after any refusal, says what is true of the burn-in once refused."""
    try:
        store = plugin.open_for_swapon()
    except Exception as e:
        raise _restated(plugin, e, "open_for_swapon", then=then) from e
    try:
        _look_again(plugin, store, then)
    except BaseException:
        store.close()
        raise
    return store


def _look_again(plugin: SwapBackend, store: Store, then: str) -> None:
    """On the open ``store``, already proven this backend's: no other name reaches its bytes
    now (``check_alone``: a loop device over its file, 239/1), and it is still the area the
    kernel swaps to, matched on the descriptor, not by the path's spelling (243/1). Never
    retried: a burn-in refused here would start again from nothing (244/6)."""
    try:
        plugin.check_alone(store)
        active = store_mod.active_path(store.fd)
    except Exception as e:
        raise _restated(plugin, e, "check_alone", then=then, retryable=False) from e
    if active is None:
        raise UnsafeError(
            f"the store at {store.path} is this backend's, but it is not active in /proc/swaps "
            f"(swapped off meanwhile): whatever the kernel swaps to now is not it. {then}"
        )


def _alone_before_the_swapoff(plugin: SwapBackend, store: Store, then: str) -> None:
    """``check_alone`` on the active area's own descriptor, before a swapoff; its refusal
    is said with what is true of the area then: this job did not swap it off (229/5)."""
    try:
        plugin.check_alone(store)
    except Exception as e:
        raise _restated(
            plugin, e, "check_alone", then=f"This job did not swap the area off. {then}"
        ) from e


def _restated(
    plugin: SwapBackend,
    e: Exception,
    doing: str,
    *,
    then: str,
    before: str = "",
    retryable: bool | None = None,
) -> BackendError:
    """``e``'s words between ``before`` and ``then``, what is true of the area once it
    failed, as a new error of its standing: a BackendError stays one (a KernelError keeps
    its errno; the field is kept), an OSError is a KernelError (EAGAIN and EBUSY worth a
    later try, as ``before_any_change`` says them), anything else is the kind's bug in
    ``doing``, logged with its traceback and said as such (232/4, 233/5). New, so a kind's
    own error is never changed (231/4). To be called while ``e`` is handled."""
    words = observe.said_typed(e)
    code = errno_of(e) if isinstance(e, (KernelError, OSError)) else None
    field = field_of(e)
    if isinstance(e, OSError):
        retryable = retryable if retryable is not None else code in BUSY_ERRNOS
    elif not isinstance(e, BackendError):
        # Whose code the bug is in (the kind's, or the contract's calling the kind's) is
        # for the traceback to say, not the method's name (236/4, 237/4).
        log.exception("%s raised for the %s kind", doing, plugin.name)
        words = (
            f"{doing} failed unexpectedly for the {plugin.name} kind, a bug (its traceback "
            f"is in the worker's log): {words}"
        )
    text = f"{before}{observe.full_stop(words)} {then}"
    retry = is_retryable(e) if retryable is None else retryable
    if code is not None or isinstance(e, (KernelError, OSError)):
        return KernelError(text, errno=code, retryable=retry, field=field)
    kind = BackendError if isinstance(e, BackendError) else PluginError
    return kind(text, retryable=retry, field=field)


def swapoff_store(
    ctx: JobContext, plugin: SwapBackend, store: Store, *, force: bool = False
) -> None:
    """``kernel.swapoff`` of the area open as ``store`` (through ``/proc/self/fd``, so the
    kernel finds exactly that file or device), its errors naming the backend's path."""
    handle = f"/proc/self/fd/{store.fd}"
    try:
        kernel.swapoff(handle, policy=ctx.policy, force=force)
    except BackendError as e:
        e.message = e.message.replace(handle, plugin.swap_path)
        e.args = (e.message,)
        raise


def _refuse_adopted(ctx: JobContext, doing: str) -> None:
    """A step that would write an adopted area's header (a mkswap, whichever job takes
    it) stops here, before anything is opened for writing. The jobs that would write its
    bytes never get this far: the runner refuses them by the action table
    (``adopted_writes``), and the plugins' ``prove`` refuses such a write again on the
    descriptor."""
    assert ctx.backend is not None
    if ctx.backend.adopted:
        raise ValidationError(
            f"{ctx.backend.name} was adopted, not made by swapadmin: {doing}, and an "
            "adopted area's bytes are never written. Nothing was written."
        )


def _refuse_active(plugin: SwapBackend, doing: str) -> None:
    if _active_area(plugin) is not None:
        raise BackendError(
            f"{plugin.swap_path} is active in /proc/swaps, and {doing} writes to every page of "
            "it; deactivate it first"
        )


# ---- backend jobs ----


#: Where on a provision's progress bar its activation starts, when it was asked for.
ACTIVATE_FROM = 80.0


def provision(ctx: JobContext) -> dict[str, Any]:
    """Take the backing store (``swapfile(True)``: it is created, or an existing one passes
    the kind's checks, or force) and write the swap header; from then on the store is the
    backend's, proven by its mark or identity and the swap UUID written here."""
    plugin = ctx.require_plugin()
    backend = ctx.backend
    assert backend is not None
    if ctx.job.params.get("activate") is True:
        ctx.span = (0.0, ACTIVATE_FROM)
    if backend.dynamic_policy_id is not None:
        # The mounts first, said as themselves before anything of the room is (review
        # 178/9); the provision's walk would refuse them anyway.
        _refuse_if_hidden(backend, plugin)
        _keep_room_beside_a_dynamic_file(backend, plugin)
    if backend.persist:
        # The kind's hook asked once before the host changes, so that one that fails stops
        # the job before a store is taken; the line itself needs the UUID mkswap writes.
        _fstab_spec(backend, plugin)
    if ctx.job.params.get("activate") is True:
        # Options the kind would refuse at the swapon are refused before a store is made.
        plugin.check_swapon_options(backend.priority, backend.discard or None)
    ctx.step(5, "preparing the backing store")
    plugin.swapfile(True)
    ctx.save_backend()  # keep what enabling took and attached before anything can fail
    # Each branch's step checks for a cancel request before the header is read or written.
    if _active_area(plugin) is not None:
        ctx.step(60, f"{plugin.swap_path} is already active: its header is left as it is")
        hdr = header.read_header(plugin)
        plugin.note_formatted(str(hdr.uuid))
        data = hdr.to_dict()
        info = _info(plugin, _last_info(ctx))
        ctx.save_backend(header=data, swap_uuid=hdr.uuid, info=info, provisioned_at=timezone.now())
    else:
        ctx.step(60, f"writing the swap header on {plugin.swap_path}")
        data = _mkswap(ctx, plugin, provisioned=True)
        info = backend.info
    result: dict[str, Any] = {"header": data, "info": info}
    spec = _fstab_spec(backend, plugin) if backend.persist else None
    if spec is not None:
        fstab.ensure_entry(
            settings.SWAPADMIN_FSTAB,
            spec,
            priority=backend.priority,
            discard=backend.discard or None,
            label=backend.label or None,
        )
        ctx.log(f"kept {spec} in {settings.SWAPADMIN_FSTAB}")
        result["fstab"] = str(settings.SWAPADMIN_FSTAB)
    if ctx.job.params.get("activate") is True:
        result["activate"] = _activate_after_provision(ctx, plugin)
    return result


def _activate_after_provision(ctx: JobContext, provisioned: SwapBackend) -> dict[str, Any]:
    """Created with "activate" (services.create_backend): the activation runs in the same
    job and under the same lock, so the user waits for one job, not two. It gets a plugin
    of its own, built as an activate job builds it (not provisioning, never forced): the
    store is verified as this backend's, swap UUID and all, not taken again."""
    assert ctx.backend is not None
    ctx.span = (ACTIVATE_FROM, 100.0)
    provisioned.close()
    attach_plugin(ctx, provisioning=False, force=False)
    try:
        done = activate(ctx, continuing=True)
    except BackendError as e:
        # Never tried again as a whole: the provision is done and its signature was for a
        # store not yet provisioned, so a second attempt would be refused for that, hiding
        # why the swapon failed. The backend stays ready and desired inactive.
        raise BackendError(
            f"provisioned, but not activated: {e.message}", retryable=False, field=e.field
        ) from e
    # Desired active only now that it is: a create whose provision or swapon failed, or was
    # cancelled, leaves nothing for drift checks and auto-repair to turn on behind the user.
    ctx.save_backend(desired_state=Backend.Desired.ACTIVE)
    return done


def _refuse_if_hidden(backend: Backend, plugin: SwapBackend) -> None:
    """Raise the kind's answer when its store may be hidden beneath a filesystem that is
    not mounted (``SwapBackend.hidden``). Through a lambda: the attribute read is the
    kind's too (a property that raises), and said as its fault (review 184/3); an answer
    that is neither None nor a BackendError is the kind's fault as well."""
    hidden = _kind_answer(backend.kind, "whether its store may be hidden", lambda: plugin.hidden())
    if isinstance(hidden, BackendError):
        raise hidden
    if hidden is not None:  # a third party's answer that is no refusal: nothing is done
        raise PluginError(
            f"the {backend.kind} plugin answered whether its store may be hidden with "
            f"{printable(repr(hidden))[:200]}, not None or a BackendError"
        )


def _keep_room_beside_a_dynamic_file(
    backend: Backend, plugin: SwapBackend, unchanged: str = "Nothing was made."
) -> None:
    """A file the dynamic swap policy adds is made with no one asking at that moment, often
    under memory pressure at night: it must leave its filesystem (often the root's) far
    more room than the 1% a person's provision keeps. The file kind measures it itself, on
    the directory its walk opened (``FileBackend.keep_free``): measured here by path, the
    name could lead to another disk than the one the file is then made on (review 178/9).
    How much is this worker's own setting, never the row's or the message's: the row says
    only that the file is the policy's."""
    percent = settings.SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT
    try:
        # Through the wrapper, as hidden() is: a third party's slip names its kind.
        _kind_answer(
            backend.kind, "how much room it keeps free", plugin.keep_free,
            percent, ", kept free beside the dynamic swap policy's files",
        )  # fmt: skip
    except ValidationError as e:
        # A kind that makes no file refuses (the policy adds files alone: a row that says
        # otherwise is no row it wrote), as does a value the kind cannot keep.
        raise ValidationError(
            f"{backend.name} belongs to the dynamic swap policy, whose files keep "
            f"{percent:g}% of their filesystem free (SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT): "
            f"{e.message}. {unchanged}"
        ) from e


def activate(ctx: JobContext, *, continuing: bool = False) -> dict[str, Any]:
    """swapon with the backend's priority and discard policy. ``continuing``: the same job's
    provision has just written its last step (and checked for a cancel)."""
    plugin = ctx.require_plugin()
    assert ctx.backend is not None
    area = _active_area(plugin)
    if area is not None:
        plugin.verify()  # the area active at the path is this backend's, not a renamed one
        ctx.log(f"{area.path} is already active (priority {area.priority}): nothing to do")
        return {"already_active": True, "priority": area.priority}
    if ctx.backend.adopted and _swap_path(plugin) is None:
        # An adopted zram device did not outlive a reboot: enabling would hot_add one of our
        # own, which destroy then leaves behind as it leaves every adopted store.
        raise ValidationError(
            f"{ctx.backend.name} was adopted and its device is gone from the host (zram devices "
            "do not outlive a reboot); destroy (release) it and create a backend of your own"
        )
    if continuing:
        # Moments after the provision's last step: the line goes with the next step's write.
        ctx.note("checking the backing store")
    else:
        ctx.step(10, "checking the backing store")
    plugin.swapfile(True)
    ctx.save_backend()
    found = _header_or_none(plugin)
    if found is None:
        # An adopted area is swapped on as it is (auto-repair too): never formatted.
        _refuse_adopted(ctx, f"{plugin.swap_path} has no swap header and would need mkswap")
        # A zram device comes back empty after a reboot (and was just added, so it is ours);
        # any other store without our header is refused by the plugin's proof.
        ctx.step(40, f"{plugin.swap_path} has no swap header: writing one")
        _mkswap(ctx, plugin)
    else:
        _refuse_a_header_not_of_the_rows_size(ctx, plugin, found)
    ctx.step(70, f"swapon {plugin.swap_path}")
    plugin.close()
    _swapon(ctx, plugin)
    area = _active_area(plugin)
    ctx.save_backend(info=_info(plugin, _last_info(ctx)))
    return {"already_active": False, "priority": area.priority if area else None}


def _refuse_a_header_not_of_the_rows_size(
    ctx: JobContext, plugin: SwapBackend, found: Mapping[str, Any]
) -> None:
    """Refuse to swap on an area of swapadmin's whose header is not the one ``_mkswap``
    writes for the row's size: a resize whose header write failed leaves the old header on
    the new size, and the kernel swaps on a grown store up to the old header's last page,
    the area smaller than the row and the page say (review 214/4); a shrunk one it refuses
    with a bare EINVAL.

    The figure is ``header.mkswap``'s, min(size // PAGE_SIZE, MAX_PAGES) pages, for the
    row's size: what swapadmin wrote at the provision and at each resize that completed.
    For a kind whose row holds its size (file, loop, zram), ``swapfile(True)`` has just
    proved the store of that size (the file's length, the zram disksize), so it is what a
    mkswap would write now as well; the row, not a loop device's capacity, since a device
    not told its size would pass the old header. Not for an adopted area: its header is the
    sysadmin's, rightly smaller than its store when made with mkswap's size argument, and
    never rewritten. Not for a block device, whose row has no size: swapadmin formats the
    whole device, and one grown since is swapped on as its header says, which no row
    contradicts."""
    assert ctx.backend is not None
    size = ctx.backend.size_bytes
    if ctx.backend.adopted or size is None:
        return
    want = min(size // PAGE_SIZE, header.MAX_PAGES)
    pages = int(found["last_page"]) + 1
    if pages == want:
        return
    way_out = (
        f"resize it again to {size} bytes to write its header, then activate it"
        if plugin.resizable
        else "destroy the backend and create it again"
    )
    raise HeaderError(
        f"the swap header of {plugin.swap_path} covers {pages} pages "
        f"({pages * PAGE_SIZE} bytes), not the {want} pages ({size} bytes) of "
        f"{ctx.backend.name}: swapped on, the area would not be the size the backend says, "
        f"so it is left off; {way_out}."
    )


def deactivate(ctx: JobContext) -> dict[str, Any]:
    """swapoff, refused when the area's pages would not fit in RAM (unless forced); with
    ``to_change`` (the dynamic policy's, before its destroy), refused too while another
    name reaches the store, as a destroy's own swapoff is (``_swapoff``)."""
    plugin = ctx.require_plugin()
    area = _active_area(plugin)
    if area is None:
        ctx.log("the area is not active: nothing to do")
        return {"already_inactive": True}
    step = f"swapoff {area.path} ({area.used_bytes} bytes in use)"
    if ctx.job.params.get("to_change") is True:
        _swapoff(ctx, plugin, step=step, to_change=True, then=_ASKED_TO_CHANGE)
    else:
        _swapoff(ctx, plugin, step=step)
    return {"already_inactive": False, "moved_bytes": area.used_bytes}


def destroy(ctx: JobContext) -> dict[str, Any]:
    """Deactivate if needed, release the store, remove the file (never an adopted one),
    drop the fstab line, and delete the Backend row (its jobs keep ``backend_name``).
    Only what proves to be this backend's is touched: a backend whose provision never
    completed, or whose path now names another store, loses its row and nothing else."""
    plugin = ctx.require_plugin()
    backend = ctx.backend
    assert backend is not None
    result: dict[str, Any] = {"adopted": backend.adopted}
    if not backend.adopted:
        # Whether the store may be hidden beneath a filesystem that is not mounted is asked
        # before this job changes the host: ``remove`` asks too, but only after the
        # swapoff, which a refusal then left done, the backend kept with its area off
        # (review 182/1). An adopted area's file is left on the host, so nothing hidden is
        # lost. (The dynamic policy swaps a file off in a job of its own first: it turns
        # the file on again when the destroy then fails, ``dynamic._follow_up``.)
        _refuse_if_hidden(backend, plugin)
    # Whose the area is matters only while it is on, and is asked before the host changes;
    # a store gone or unreadable while off is released as far as it proves ours (244/8).
    on = _active_area(plugin) is not None
    ours = on and _proven(ctx, plugin)
    # Asked before the host changes: a kind's hook that fails stops the job here, not with
    # the area swapped off and the row kept.
    # An adopted area's line (the sysadmin's own) is released with the area, as the host had
    # it: never looked up, so a line that no longer names the area stops no release.
    spec = _destroy_spec(ctx, plugin) if backend.provisioned_at and not backend.adopted else None
    # What changed on the host, for the words of a failure after (248/7).
    swapped_off: str | None = None
    done: list[str] = []
    if ours:
        # An adopted area's file or device, or a kind's that releases nothing, is left
        # as it is: nothing to refuse for (229/2).
        changes = not backend.adopted and plugin.release_changes_store
        _swapoff(ctx, plugin, step=f"swapoff {plugin.swap_path}", to_change=changes)
        result["deactivated"] = True
        swapped_off = _area_name(ctx, plugin)
    elif on:
        ctx.log(f"{plugin.swap_path} is active but not this backend's: left as it is")
    try:
        _release_and_forget(ctx, plugin, spec, result, done)
    except (Busy, *DB_ERRORS):
        raise
    except Cancelled:
        if swapped_off or done:
            said = _half_done(swapped_off, done)
            ctx.log(f"cancelled once this destroy had {said}: the backend is kept")
        raise
    except Exception as e:
        if not (swapped_off or done or isinstance(e, OSError)):
            raise
        # A destroy that failed half-way says what it had done, so the person reading it
        # knows the area is off and its device gone, not only the last step's error (248/7).
        # An OSError is the kernel's word even with nothing done (a try after one that
        # swapped the area off): said as such, never an internal error of the worker (254/2).
        # As _restated judges it, an OSError's EAGAIN or EBUSY is worth a later try too; but
        # not once something was released or removed, nor after the last. Whether the rows
        # as this try leaves them still match the signature (a device let go of changes
        # them: 250/1, 252/1) is the runner's to judge, and to say (255/1): these words
        # promise no retry.
        busy = is_retryable(e) or (isinstance(e, OSError) and errno_of(e) in BUSY_ERRNOS)
        retry = busy and not done and ctx.job.attempt < MAX_RETRIES
        raise _restated(
            plugin, e, "destroy", retryable=retry, then=_destroy_kept(ctx, swapped_off, done, retry)
        ) from e
    return result


def _destroy_kept(ctx: JobContext, swapped_off: str | None, done: list[str], retry: bool) -> str:
    """The words after a destroy's failure: what this try had done, and that the backend is
    kept. Nothing is said to be unchanged: a step may fail half-way (a file renamed aside
    before its unlink failed: 259/5). A try after others says where theirs are (258/5)."""
    try_ = "try" if ctx.job.attempt else "destroy"
    if swapped_off or done:
        said = f"Before that, this {try_} had {_half_done(swapped_off, done)}. "
    elif ctx.job.attempt:
        said = "What earlier tries of this destroy did is in the job's log. "
    else:
        said = ""
    if retry:
        return f"{said}The backend is kept."
    if swapped_off or done:
        return f"{said}The backend is kept: destroy it again to finish."
    return f"{said}The backend is kept: mend that and destroy it again."


def _release_and_forget(
    ctx: JobContext,
    plugin: SwapBackend,
    spec: str | None,
    result: dict[str, Any],
    done: list[str],
) -> None:
    """The rest of a destroy once the area is off: release the store, remove what this
    backend made, drop its fstab line, delete the row. Each change that lands is added to
    ``done``, for the words of a failure after it."""
    backend = ctx.backend
    assert backend is not None
    ctx.check_cancel()
    if backend.adopted and backend.persist:
        ctx.log(f"adopted area: its line in {settings.SWAPADMIN_FSTAB} is left as it is")
    if backend.adopted:
        ctx.step(50, "adopted area: its file or device is left on the host")
    else:
        ctx.step(40, "releasing the backing store")
        # A copy, nested records too: the release changes ``plugin.state`` in place.
        before = copy.deepcopy(signing.signed_state(plugin.state))
        released = False
        try:
            plugin.swapfile(False)
            released = True
        finally:
            if signing.signed_state(plugin.state) != before:
                # Its device let go of (a loop or zram kind's): said. A kind with nothing to
                # release (file, block) did nothing worth saying (251/3). A release that
                # failed may have let go of part of the store first (the user-space kind
                # forgets its detached loop device, then finds its daemon busy: 252/1).
                done.append(_RELEASED if released else _RELEASING)
        ctx.save_backend()
        remove = getattr(plugin, "remove", None)
        if callable(remove):
            what = _label_of(plugin, backend.name)
            ctx.step(60, f"removing {what}")
            # remove() keeps a file this backend did not make (and says False): report that.
            result["removed"] = remove() is not False
            if not result["removed"]:
                ctx.log(f"left {what} on the host: this backend did not make it")
            else:
                done.append(f"removed {what}")
    if spec is not None and fstab.remove_entry(settings.SWAPADMIN_FSTAB, spec):
        ctx.log(f"removed {spec} from {settings.SWAPADMIN_FSTAB}")
        result["fstab_removed"] = True
    ctx.step(90, "forgetting the backend")
    with transaction.atomic():
        Job.objects.filter(backend=backend).update(backend_name=backend.name)
        backend.delete()
    ctx.backend_deleted = True


_RELEASED = "released its backing store"
#: Said when the release failed after changing the record (a device detached and forgotten,
#: or only forgotten, being gone already): what the kind did is not told apart (255/3).
_RELEASING = "changed its record of the backing store"


def _half_done(swapped_off: str | None, done: list[str]) -> str:
    """What a destroy had done when it stopped, "a, b and c": its swapoff of the area at
    ``swapped_off`` said with what is true of the area now, as someone may have swapped it
    on since (249/4), then ``done``. Once the store was released the path is not looked at:
    a loop or zram device's number may be another's by then (250/6)."""
    items = list(done)
    if swapped_off is not None and (_RELEASED in done or _RELEASING in done):
        items.insert(0, f"swapped {swapped_off} off")
    elif swapped_off is not None:
        try:
            on: bool | None = kernel.is_active(swapped_off)
        except OSError:
            on = None
        now = {
            False: "it stays off",
            True: "something has swapped it on again since",
            None: "whether it is on now cannot be told",
        }[on]
        items.insert(0, f"swapped {swapped_off} off ({now})")
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _destroy_spec(ctx: JobContext, plugin: SwapBackend) -> str | None:
    """The fstab spec whose line destroy removes. A backend that never persisted has no
    line of its own to remove, so a kind's hook that fails for it is logged and skipped;
    otherwise it would keep the row undestroyable for good."""
    backend = ctx.backend
    assert backend is not None
    try:
        return _fstab_spec(backend, plugin)
    except BackendError as e:
        if backend.persist:
            raise
        ctx.log(f"no fstab line looked for ({e.message}): it was never kept there")
        return None


def _proven(ctx: JobContext, plugin: SwapBackend) -> bool:
    """Whether the active area's store proves to be this backend's formatted area: False,
    with the reason logged, only when it proves not to be (NotOursError, but not the
    UnprovenDeviceError of a device that may be its own) or the backend was never
    provisioned. Any other failure says nothing of whose it is (a swap root to mend,
    EIO, a second name, a kind's bug): the destroy is refused with the area on and the row
    kept, never forgotten with an area on that may well be this backend's (241/1). Whether
    anything else reaches the store is another question, asked before its swapoff
    (``_swapoff``): a loop device attached to an active area's file made it "not this
    backend's", and the area was left on with words that said so, never why (233/1)."""
    assert ctx.backend is not None
    if ctx.backend.provisioned_at is None:
        ctx.log("never provisioned: only what proves to be this backend's is released")
        return False
    try:
        plugin.verify()
    except (UnprovenDeviceError, UnprovenAreaError) as e:
        # A device that may be this backend's without its proof: its words say why and the
        # way out, once, not "not this backend's" and then a refusal (248/5-6).
        raise _restated(
            plugin, e, "verify", then="The destroy changed nothing: the area is left on and "
            "the backend kept."
        ) from e  # fmt: skip
    except NotOursError as e:
        ctx.log(f"not this backend's store: {e.message}")
        return False
    except Exception as e:
        raise _cannot_tell_whose(plugin, e) from e
    return True


def _cannot_tell_whose(plugin: SwapBackend, e: Exception) -> BackendError:
    """A destroy's refusal when the proof of the active area neither proved it this
    backend's nor proved it not: nothing changed, the area left on and the row kept."""
    path = plugin.swap_path
    return _restated(
        plugin,
        e,
        "verify",
        before=f"{path} is active, and whether it is this backend's store cannot be told: ",
        then=(
            "Nothing was changed: the area is left on and the backend kept. Mend that and "
            "destroy it again, or, if the area is not this backend's, swap it off by hand "
            f"(swapoff {path}) first."
        ),
    )


def resize(ctx: JobContext) -> dict[str, Any]:
    """swapoff if active, resize, mkswap keeping label and UUID, swapon again if it was."""
    plugin = ctx.require_plugin()
    assert ctx.backend is not None
    new_size = int(ctx.job.params["size_bytes"])
    old_size = ctx.backend.size_bytes
    if ctx.backend.dynamic_policy_id is not None:
        # A person who grows one of the policy's files grows it on the same filesystem
        # the policy keeps its room on, under the same promise (review 202/7).
        _keep_room_beside_a_dynamic_file(ctx.backend, plugin, "Nothing was changed.")
    was_active = _active_area(plugin) is not None
    if was_active:
        # A size refused, or a growth that cannot fit, is refused while the area is still
        # on: a swapoff pushes every page in use back into RAM, a risk for nothing (review
        # 214/6, 222/4). The kind's resize checks both again after.
        kind = ctx.backend.kind
        _kind_answer(kind, "whether the size is one it takes", plugin.clean_size, new_size)
        _kind_answer(kind, "whether the growth fits", plugin.check_room_for, new_size)
        _swapoff(ctx, plugin, step=f"swapoff {plugin.swap_path} to resize it", to_change=True)
    try:
        with before_any_change():  # a failure here is before the resize (223/4)
            ctx.check_cancel()
            ctx.step(40, f"resizing from {old_size} to {new_size} bytes")
            plugin.close()
        plugin.resize(new_size)
    except Cancelled as e:
        if was_active:  # before the resize: nothing of the store was changed
            _on_again_as_it_was(ctx, e)
        raise
    except Exception as e:
        if was_active and isinstance(e, BackendError) and e.store_unchanged:
            # The kind's word that nothing of the store was changed: a refusal before any
            # change (``before_any_change``: 211/2, 214/5) or no room (``NoRoomError``).
            _on_again_as_it_was(ctx, e)
        elif was_active:
            _left_off(ctx, plugin, e)
        raise
    ctx.save_backend(size_bytes=new_size)
    # The store has its new size now, under a header that may not fit it: no cancel is taken
    # (a step would) until the header is written again and the area is back on.
    ctx.past_cancel = f"{plugin.swap_path} was resized to {new_size} bytes"
    headed = False
    try:
        _unstoppable(ctx, 70, "writing the swap header again (same label and UUID)")
        data = _mkswap(ctx, plugin)
        headed = True
        if was_active:
            _unstoppable(ctx, 85, f"swapon {plugin.swap_path}")
            plugin.close()
            # Someone may swap it on between the header and this (review 224/3).
            _swapon_unless_on_meanwhile(ctx, plugin)
    except _NotProvenOn as e:  # something is on there: neither "stays off" nor refused
        raise BackendError(
            f"{ctx.past_cancel}, but {e.headline}: {e.message}", retryable=False
        ) from e
    except Exception as e:
        # Never tried again: the next attempt's signature check refuses the row's new size,
        # and one that went on would find the area off and finish with it so (review 211/1).
        # Said as the runner says each: a BackendError whole, anything else cut and typed.
        said = observe.said_typed(e)
        area = _area_name(ctx, plugin)
        rewrite = f"resize it again to {new_size} bytes to write its header"
        # Someone may have swapped it on meanwhile (the kernel's ETXTBSY at the header's
        # write, or the header's own look refusing an active area): said so (225/5).
        on = _on_now(ctx, plugin)
        if on:
            caveat = "" if headed else f", under its old header: deactivate it and {rewrite}"
            then = f"; {_said_on_meanwhile(ctx, plugin, area, caveat)}"
        elif headed:  # only a swapon follows the header, and only for an area that was on
            then = f"; {area} {_stays_off(on)} until it is activated"
        elif was_active:  # the old header on the new size: activate refuses it
            then = f"; {area} {_stays_off(on)}: {rewrite}, then activate it"
        else:  # it was off, and stays so; activate refuses it until then
            then = f"; {rewrite} before it is activated"
        raise BackendError(
            f"{ctx.past_cancel}, but {said}{then}",
            retryable=False, field=field_of(e),
        ) from e  # fmt: skip
    ctx.save_backend(info=_info(plugin, _last_info(ctx)))
    return {"old_size_bytes": old_size, "size_bytes": new_size, "header": data}


def _unstoppable(ctx: JobContext, percent: float, message: str) -> None:
    """A step that takes no cancel: logged and shown, the job going on whatever is asked."""
    ctx.log(message)
    ctx.progress(percent, message, force=True)


def _on_again_as_it_was(ctx: JobContext, why: Cancelled | BackendError) -> None:
    """A resize cancelled, or refused with nothing of its store changed (``NoRoomError``,
    a refusal before any change: ``store_unchanged``), after its swapoff: the area was swap
    a moment ago and the host counts on it, so it goes on again rather than staying off
    behind a job that did nothing. Through activate's proof, of a plugin built from the
    row as it stands (the old size): the store is this backend's, of that size, with its
    header. Not for a job the sweep failed meanwhile: the backend may be the next job's by
    now, which reads the host again. Not for an area on again already: something swapped
    it on meanwhile (the kind's refusal may be just that), and it is left so."""
    assert ctx.backend is not None
    said = why.message if isinstance(why, BackendError) else "cancelled"
    where = ctx.backend.name
    if ctx.plugin is not None:
        with contextlib.suppress(BackendError):  # named below, once the row's plugin is
            where = ctx.plugin.swap_path
    tried = False  # from activate's proof on: what fails is said as refused or failed
    looker = ctx.plugin  # what the look at /proc/swaps goes by, the row's plugin once built
    try:
        if not Job.objects.filter(pk=ctx.job.pk, state=Job.State.RUNNING).exists():
            ctx.log("the area is left off: the job was failed meanwhile")
            return
        if ctx.plugin is not None:
            ctx.plugin.close()
        plugin = attach_plugin(ctx, provisioning=False, force=False)
        looker = plugin
        path = plugin.swap_path_if_any()
        if path is None:
            # The store is gone (a zram device removed meanwhile): nothing is made again
            # in its place by a job that only puts back what was (review 219/2).
            raise NoDeviceError(f"{where} has no device any more")
        where = path
        if _active_area(plugin) is not None:
            _say_who_swapped_it_on(ctx, plugin, where)
            return
        ctx.log(f"the resize changed nothing: swapon {where} again as it was")
        tried = True
        # Proven before the kind is asked to enable it, which is told to make nothing (a
        # zram device hot_added, a loop device attached): this only puts back what was,
        # so a store gone or not this backend's meanwhile is refused (review 220/2).
        plugin.verify()
        plugin.may_make_store = False
        plugin.swapfile(True)
        found = _header_or_none(plugin)
        if found is None:
            raise HeaderError(f"{plugin.swap_path} has no swap header any more")
        _refuse_a_header_not_of_the_rows_size(ctx, plugin, found)
        plugin.close()
        _swapon_unless_on_meanwhile(ctx, plugin)
    except _NotProvenOn as e:
        # Not "stays off" (something is on there) nor "refused": this backend's area is
        # not back on, or that cannot be told, and what is on there is left to whoever
        # swapped it on (222/1, 224/5).
        raise BackendError(f"{said}; {e.headline}: {e.message}", retryable=False) from why
    except Exception as e:
        # Not tried again: an attempt would find the area off and leave it so. Said as it
        # is: a step before the proof (the job's row, the plugin) is not a refusal of the
        # swapon (214/7), nor is a database error after it (219/5), nor a read that failed
        # (a sysfs file, a third party's kind: 220/1), which is said, never left to the
        # runner as an internal error that loses the resize's own words.
        if not tried:
            how = "swapon again could not be tried"
        elif isinstance(e, BackendError):
            how = "swapon again was refused"
        else:
            how = "swapon again failed"
        refusal = observe.said_typed(e)
        # Looked at first: someone may have swapped it on meanwhile (226/5).
        on = _on_now(ctx, looker) if looker is not None else None
        if on:
            assert looker is not None
            stands = f"{how}: {refusal}; {_said_on_meanwhile(ctx, looker, where, '')}"
        else:
            stands = f"{where} {_stays_off(on)}, as {how}: {refusal}"
        raise BackendError(f"{said}; {stands}", retryable=False, field=field_of(e)) from why


class _NotProvenOn(BackendError):
    """Something is swapped on at the area's path that does not prove to be this
    backend's, or whose proof could not be read: left as it is, said apart from a refusal
    of the swapon again. ``told`` is False when the proof could not be read (224/5)."""

    def __init__(self, message: str, *, told: bool) -> None:
        super().__init__(message, retryable=False)
        self.told = told

    @property
    def headline(self) -> str:
        if self.told:
            return "this backend's area is not back on"
        return "whether this backend's area is back on cannot be told"


def _area_name(ctx: JobContext, plugin: SwapBackend) -> str:
    """The area's path for a job's words, or the backend's name when it has none (a zram
    device gone: its name went with it) or it cannot be read: words never fail."""
    assert ctx.backend is not None
    try:
        return plugin.swap_path
    except Exception:
        return f"the area of {ctx.backend.name}"


def _on_now(ctx: JobContext, plugin: SwapBackend) -> bool | None:
    """Whether something is swapped on at the area's path now; None, logged, when the look
    fails, so that the caller says neither "on" nor "stays off" (225/5)."""
    try:
        return _active_area(plugin) is not None
    except Exception as e:
        ctx.log(f"whether something is on there now cannot be told: {observe.said_typed(e)}")
        return None


def _stays_off(on: bool | None) -> str:
    """ "stays off", or what is true when the look at /proc/swaps failed."""
    if on is None:
        return (
            "is not swapped on again by this job (whether anything is on there now cannot be told)"
        )
    return "stays off"


def _swapon_unless_on_meanwhile(ctx: JobContext, plugin: SwapBackend) -> None:
    """The swapon again; refused because someone swapped the area on between the look and
    now (the kernel's EBUSY), it is left on and said so, not said "refused" (220/4). The
    refusal is logged all the same, and raised whenever the look cannot tell (221/4); any
    error, not only a kind's own (225/5)."""
    try:
        _swapon(ctx, plugin)
    except Exception as refused:
        ctx.log(f"swapon again refused: {observe.said_typed(refused)}")
        if not _on_now(ctx, plugin):
            raise
        _say_who_swapped_it_on(ctx, plugin, _area_name(ctx, plugin))


#: What a proof that fails says when it was read: the store is not this backend's formatted
#: area (not its own, gone active, no header of its own). Any other error (a read that
#: failed, a device gone, a third party's bug) proves nothing either way (224/5, 225/3).
_PROOF_FAILED = (UnsafeError, HeaderError)
#: Refusals that say nothing of which store the name leads to (errors.py: never taken for
#: "not this backend's store"): a proof that could not be made (226/6).
_PROOF_NOT_MADE = (UnsafeDirectoryError,)


def _say_who_swapped_it_on(ctx: JobContext, plugin: SwapBackend, area: str) -> None:
    """An area on again before the resize's swapon again, or by the time the kernel refused
    it: left as it is, and said whether it proves to be this backend's (review 219/4). One
    not proven is raised, so that the job's error says this backend's area is not back on
    (221/4); one whose proof could not be read, that this cannot be told (223/5, 224/5)."""
    try:
        plugin.verify()
    except Exception as e:
        said = observe.said_typed(e)  # words that raise are said too (225/2)
        if isinstance(e, _PROOF_FAILED) and not isinstance(e, _PROOF_NOT_MADE):
            raise _NotProvenOn(
                f"something is swapped on at {area} meanwhile, not proven this backend's "
                f"({said}); it is left as it is",
                told=True,
            ) from e
        raise _NotProvenOn(
            f"something is swapped on at {area} meanwhile, and its proof could not be read "
            f"({said}); it is left as it is",
            told=False,
        ) from e
    ctx.log(f"{area} is on again already: something swapped it on meanwhile")
    # With whoever's options: said where they are not the row's (225/9).
    assert ctx.backend is not None
    with contextlib.suppress(Exception):
        now = _active_area(plugin)
        want = ctx.backend.priority
        if now is not None and want is not None and now.priority != want:
            ctx.log(
                f"{area} is on at priority {now.priority}, not this backend's {want}: it "
                "was swapped on with other options, which are left as they are"
            )


def _why_left_off(error: Exception) -> str:
    """Why a resize that failed after its swapoff does not swap the area on again."""
    before = isinstance(error, BackendError) and error.before_change
    if before and isinstance(error, BusyError):
        return (
            "another writer holds its store, so it is not swapped on again under that "
            "writer. Activate it once that writer is done"
        )
    if before and held_by_another(error):
        # EAGAIN or EBUSY from the kernel: a lock or a device another holds, or a call
        # the kernel refused for now (a fork); either way, not under another's hands.
        return (
            "a call on the way was refused as busy, which may be another holding its "
            "store, so it is not swapped on again under another's hands. Activate it once "
            "it is free"
        )
    if before and isinstance(error, NoDeviceError):
        return (
            "its store is not there any more. Activate it, or provision it again if "
            "activate cannot make it"
        )
    return (
        "the resize may have changed its store, so it is not swapped on again as it was. "
        "Resize it again, or activate it once its store is as the backend says"
    )


def _left_off(ctx: JobContext, plugin: SwapBackend, error: Exception) -> NoReturn:
    """A resize that failed after its swapoff, in a way that may have changed the store (a
    file cut short, a loop device not told its size): it is not swapped on again as it
    was, since its header may now claim pages the store no longer has. Nor when the kind
    refused before any change because another writer holds the store, or the store is
    gone (a ``BusyError`` or ``NoDeviceError`` marked ``before_change``): said so, as
    neither is a change of the resize's (review 220/3); raised after a change, the same
    errors are said as any other (221/2). Said in the job's error, never tried again (an
    attempt would find the area off and leave it so); a read that failed (an OSError) is
    said too, not left to the runner as an internal error (221/6). An area someone swapped
    on meanwhile is said to be on, not to stay off (224/2)."""
    area = _area_name(ctx, plugin)
    on = _on_now(ctx, plugin)
    if on:
        changed = not (isinstance(error, BackendError) and error.before_change)
        caveat = (
            ", though the resize may have changed its store: deactivate it and resize it "
            "again if its header does not fit it"
            if changed
            else ""
        )
        stays = _said_on_meanwhile(ctx, plugin, area, caveat)
    else:
        stays = f"{area} {_stays_off(on)}: {_why_left_off(error)}"
    ctx.log(stays)
    # Any error, a third party's ValueError too, is said with the words (222/6).
    raise BackendError(
        f"{observe.said_typed(error)}; {stays}",
        retryable=False, field=getattr(error, "field", None),
    ) from error  # fmt: skip


def _said_on_meanwhile(ctx: JobContext, plugin: SwapBackend, area: str, caveat: str) -> str:
    """What is swapped on at the area's path, which a failed resize would have left off,
    said: this backend's (with ``caveat``: what the resize may have left unfit), or not
    proven so."""
    try:
        _say_who_swapped_it_on(ctx, plugin, area)
    except _NotProvenOn as e:
        return f"{e.headline}: {e.message}"
    return f"{area} is on: something swapped it on meanwhile, and it is left so{caveat}"


def scan(ctx: JobContext) -> dict[str, Any]:
    """Write and read back test patterns on every page but the header, and record the pages
    that fail as the header's bad pages (pageio); refused while active."""
    plugin = ctx.require_plugin()
    _refuse_active(plugin, "a scan")
    ctx.step(2, "scanning every page")
    try:
        res = pageio.scan(
            plugin,
            patterns=int(ctx.job.params.get("patterns", 4)),
            progress=ctx.progress_cb(2, 98, "scanning"),
            cancel=ctx.cancelled,
        )
    except pageio.PageIOCancelled as e:
        ctx.log(e.message)
        raise Cancelled() from None
    found = res.to_dict()
    ctx.log(f"scan done: {len(res.bad_pages)} bad page(s) of {res.pages}")
    return {"scan": found, "header": _store_header(ctx, plugin)}


def _store_header(ctx: JobContext, plugin: SwapBackend) -> dict[str, Any] | None:
    data = _header_or_none(plugin)
    if data is not None:
        ctx.save_backend(header=data)
    return data


def benchmark(ctx: JobContext) -> dict[str, Any]:
    """Measure page throughput and latency (pageio keeps the header); refused while active."""
    plugin = ctx.require_plugin()
    _refuse_active(plugin, "a benchmark")
    seconds = float(ctx.job.params.get("seconds", 5))
    ctx.step(2, f"benchmarking for {seconds:.0f} s")
    try:
        res = pageio.benchmark(
            plugin,
            seconds=seconds,
            progress=ctx.progress_cb(2, 98, "benchmark"),
            cancel=ctx.cancelled,
        )
    except pageio.PageIOCancelled as e:
        ctx.log(e.message)
        raise Cancelled() from None
    return {"benchmark": res.to_dict(), "header": _store_header(ctx, plugin)}


def burn_in(ctx: JobContext) -> dict[str, Any]:
    """Make the kernel really swap to this area: a memory hog in a memory cgroup."""
    plugin = ctx.require_plugin()
    if _active_area(plugin) is None:
        raise BackendError(
            "a burn-in makes the kernel swap to this area, so the area must be active; "
            "activate it first"
        )
    # The kernel will write this area's pages: it must be ours, and no other name may reach
    # them (a loop device attached over its file): asked at once, again under the lock
    # after a wait that may be long (239/1), and at each of the hog's samples, so one
    # attached while it runs stops it there (240/4).
    _open_the_active_area(plugin, "Nothing was started.").close()
    p = ctx.job.params
    with (
        host_memory(ctx, "the burn-in"),
        contextlib.closing(_open_the_active_area(plugin, "Nothing was started.")) as store,
    ):

        def looked_then_cancelled() -> bool:
            # On the descriptor proven under the lock, whose store cannot change under it:
            # only what can is asked again, quickly, and never the kind's whole proof (a
            # daemon's round trips) between two samples of the hog (244/5). A refusal
            # stops the hog there, and the job fails; a cancel is asked after (244/13).
            _look_again(plugin, store, "The burn-in stopped its hog here.")
            return ctx.cancelled()

        # v1 where the host binds memory to a v1 hierarchy, else v2: the log says which.
        hierarchy = cgroups.find_hierarchy()
        ctx.step(
            2,
            f"starting the memory hog in a cgroup v{hierarchy.version} memory cgroup "
            f"under {hierarchy.parent}",
        )
        try:
            res = burnin.burn_in(
                plugin,
                memory_limit_bytes=int(p.get("memory_limit_bytes", 64 << 20)),
                hog_bytes=int(p.get("hog_bytes", 160 << 20)),
                seconds=float(p.get("seconds", 30)),
                progress=ctx.progress_cb(2, 98, "burn-in"),
                hierarchy=hierarchy,
                cancel=looked_then_cancelled,
            )
        except burnin.BurnInCancelled as e:
            # Stopped at the hog's next sample, not after its time: it may have been asked
            # to run for a day, and a cancel the runner no longer takes after the handler
            # returned would have ended it as done (review 214/2).
            ctx.log(e.message)
            raise Cancelled() from e
    return {"burn_in": res.to_dict()}


def persist(ctx: JobContext) -> dict[str, Any]:
    """Add (or remove) the area's line in the fstab, keeping every other line as it was."""
    plugin = ctx.require_plugin()
    backend = ctx.backend
    assert backend is not None
    keep = bool(ctx.job.params.get("persist", True))
    path = settings.SWAPADMIN_FSTAB
    spec = _fstab_spec(backend, plugin)
    if spec is None:
        raise ValidationError(f"{_no_fstab_line(plugin)}. Nothing was changed.")
    if keep:
        changed = fstab.ensure_entry(
            path,
            spec,
            priority=backend.priority,
            discard=backend.discard or None,
            label=backend.label or None,
            # An adopted area's line is the sysadmin's: kept as written (noauto, its
            # options, its spelling); only a missing line is written.
            as_written=() if backend.adopted else None,
        )
        ctx.log(f"{'added' if changed else 'kept'} {spec} in {path}")
    else:
        changed = fstab.remove_entry(path, spec)
        ctx.log(f"removed {spec} from {path}" if changed else f"{path} has no line for {spec}")
    return {"fstab": str(path), "spec": spec, "persist": keep, "changed": changed}


def edit(ctx: JobContext) -> dict[str, Any]:
    """Apply an edit (core/edits.py) from the job's signed params: rewrite the header's
    label on an inactive area swapadmin made; apply new swapon options to an active area
    now (swapoff with the RAM check, swapon again) or leave them for the next activation;
    keep the fstab line in step. Every refusal comes before the first change."""
    plugin = ctx.require_plugin()
    backend = ctx.backend
    assert backend is not None
    p = ctx.job.params
    area = _active_area(plugin)
    if "label" in p:
        if backend.adopted:
            raise ValidationError(
                f"{backend.name} was adopted, not made by swapadmin: its header is never "
                "written, so its label is left as it is. Nothing was written."
            )
        if area is not None:
            raise BackendError(
                f"{area.path} is active in /proc/swaps, and its label is rewritten only on an "
                "inactive area; deactivate it first. Nothing was written."
            )
    keep = bool(p.get("persist", backend.persist))
    spec = _fstab_spec(backend, plugin)
    if p.get("persist") and spec is None:
        raise ValidationError(f"{_no_fstab_line(plugin)}. Nothing was changed.")
    if spec is not None and keep:
        _check_edit_fstab_options(ctx)
    result: dict[str, Any] = {}
    if "label" in p:
        ctx.step(10, f"rewriting the label of {plugin.swap_path} as {p['label']!r}")
        hdr = header.set_label(plugin, str(p["label"]))
        plugin.close()
        data = hdr.to_dict()
        ctx.save_backend(label=hdr.label, header=data)
        result["header"] = data
    if "priority" in p or "discard" in p:
        # Refused here, the fstab line is left as it was: the store did not prove to be
        # this backend's (232/3), or the kind refused the options themselves (232/1).
        proven = _proven_to_apply_now(ctx, plugin, area)
        if proven is None:
            result.update(_recorded_for_later(ctx, area))
        else:
            try:
                result.update(_apply_now(ctx, plugin, *proven))
            except Exception as e:
                if spec is not None and (keep or "persist" in p) and _line_follows_the_row(e):
                    # The edit recorded the new options on the row before this job ran, and
                    # the words say they are used at the next activation, which for a line
                    # in fstab is the boot's: the line is kept in step with the row all the
                    # same, whether the area was left on or off (230/2, 231/3).
                    try:
                        _edit_fstab(ctx, spec, keep)
                    except BackendError as not_kept:
                        ctx.log(f"its fstab line was not kept in step: {not_kept.message}")
                        if isinstance(e, BackendError):
                            raise _restated(
                                plugin, e, "edit", then=_fstab_not_kept(ctx, keep, not_kept)
                            ) from e
                raise
    if spec is not None and (keep or "persist" in p):
        result.update(_edit_fstab(ctx, spec, keep))
    return result


def _line_follows_the_row(e: Exception) -> bool:
    """Whether an apply-now that failed once its store was proven this backend's and its
    options taken (``_proven_to_apply_now``) still has the fstab line follow the row: yes
    (a refusal before the swapoff, the RAM check, a failed swapoff or swapon again, a
    cancel), but when the kind refused the options themselves, under the host's lock or in
    its swapon (an error about the field ``priority`` or ``discard``): the boot must not use
    what the kind refused (232/1). Only a proof that passed lets it follow (233/1)."""
    return field_of(e) not in ("priority", "discard")


def _swapon_options(ctx: JobContext) -> tuple[int | None, str | None]:
    p = ctx.job.params
    return p.get("priority"), p.get("discard") or None


def _fstab_not_kept(ctx: JobContext, keep: bool, not_kept: BackendError) -> str:
    """What the boot does now that the fstab line could not follow the row: a line to be
    added is not there, one to be removed still is, one to be changed keeps its old
    options (233/3)."""
    if "persist" not in ctx.job.params:
        line = "was not changed either, so the boot activates it with its old options"
    elif keep:
        line = "was not added either, so the boot does not activate it"
    else:
        line = "was not removed either, so the boot still activates it"
    return f"Its fstab line {line}: {not_kept.message}"


def _options_asked(ctx: JobContext) -> list[str]:
    """The options the edit changed, in words: "priority 9", "discard setting (pages)".
    The params carry both options, as they are to be; ``options`` says which of them the
    edit changed (a discard-only edit said "priority", 233/2)."""
    p = ctx.job.params
    changed = p.get("options") or [k for k in ("priority", "discard") if k in p]
    priority, discard = _swapon_options(ctx)
    words = []
    if "priority" in changed:
        words.append(f"priority {priority if priority is not None else 'auto'}")
    if "discard" in changed:
        words.append(f"discard setting ({discard or 'none'})")
    return words


def _options_said(ctx: JobContext) -> str:
    return " and ".join(_options_asked(ctx)) or "new swapon options"


def _options_recorded(ctx: JobContext) -> str:
    return f"{_options_said(ctx)} {'is' if len(_options_asked(ctx)) == 1 else 'are'} recorded"


def _recorded_for_later(ctx: JobContext, area: kernel.SwapArea | None) -> dict[str, Any]:
    priority, _ = _swapon_options(ctx)
    when = "at the next activation" if area is not None else "when it is activated"
    ctx.log(f"its {_options_recorded(ctx)}: used {when}")
    return {"applied": False, "priority": priority}


def _proven_to_apply_now(
    ctx: JobContext, plugin: SwapBackend, area: kernel.SwapArea | None
) -> tuple[kernel.SwapArea, Store] | None:
    """For an apply-now, the active area and its store open, proven this backend's formatted
    area, the new options taken by the kind; None when they are only recorded (no apply-now,
    or the area is off). One descriptor, proven to be this backend's formatted area, carries
    both the swapoff and the swapon: the swapoff may wait long for the host's memory lock,
    and the path named again after that wait may lead to another area by then (its swap root
    renamed, a link put in its place), which must be neither turned off nor taken for this
    one. The look for other names comes after, in ``_apply_now``, whose refusals say the
    area is left on."""
    if area is None or ctx.job.params.get("apply") != "now":
        return None
    priority, discard = _swapon_options(ctx)
    plugin.close()
    store = plugin.open_for_swapon()
    try:
        # Options the kind refuses are refused while the area is still on, not after.
        plugin.check_swapon_options(priority, discard)
    except BaseException:
        store.close()
        raise
    return area, store


def _apply_now(
    ctx: JobContext, plugin: SwapBackend, area: kernel.SwapArea, store: Store
) -> dict[str, Any]:
    """swapoff the area open as ``store`` (``_proven_to_apply_now``), with the RAM check
    under the host's memory lock, and swapon it again with the new options."""
    try:  # first: whatever raises, the proven descriptor is closed (238/7)
        priority, discard = _swapon_options(ctx)
        # What the swapon after it asks (a loop device over its device, 228/1) is refused
        # while the area is still on; refused after the swapoff, it stayed off. The edit
        # recorded the options before this job ran, and the same edit sent again changes
        # nothing, so no new job: say so (229/3).
        asked = priority if priority is not None else "auto"
        recorded = _options_recorded(ctx)
        then = f"Its {recorded} and used at its next activation."
        # A cancel point: a cancel from here on has the fstab line follow (232/2, 234/2).
        ctx.step(20, f"swapoff {area.path} to apply its {_options_said(ctx)} "
                 f"({area.used_bytes} bytes)")  # fmt: skip
        _alone_before_the_swapoff(plugin, store, then)  # at once, not after the wait
        with host_memory(ctx, f"swapoff {area.path}"):
            if store_mod.active_path(store.fd) is None:
                ctx.log(f"{plugin.swap_path} is no longer active: its {recorded}")
                return {"applied": False, "priority": priority}
            # Asked again under the lock: an area swapped on while this job waited for it
            # may have made the priority one the kind refuses, or reached its bytes.
            plugin.check_swapon_options(priority, discard)
            _alone_before_the_swapoff(plugin, store, then)
            # The RAM check is made here, under the lock, on this very area.
            swapoff_store(ctx, plugin, store)
        # No cancel check from here: the area was active, and it is made active again.
        ctx.log(f"swapon {plugin.swap_path} at priority {asked}")
        ctx.progress(70, f"swapon {plugin.swap_path}", force=True)
        try:
            # Proven again on the same descriptor before the kernel takes it: nothing else
            # may have come to reach its bytes while it was off (a loop device attached).
            doing = "check_identity"
            plugin.check_identity(store)
            doing = "check_swap_uuid"
            plugin.check_swap_uuid(store)
            doing = "check_alone"
            plugin.check_alone(store)
            doing = "swap_on"
            plugin.swap_on(store, priority=priority, discard=discard)
        except Exception as e:
            # The area is off now, by this job: say so, whatever the kind raised (233/7),
            # and do not let a retry run the job again, which would find it inactive and
            # only record the priority, "succeeding".
            ctx.log(f"swapon {plugin.swap_path} failed after its swapoff: {observe.said_typed(e)}")
            back = store_mod.active_path(store.fd)
            state = (
                f"It was activated meanwhile by someone else, as {back}, at the priority they chose"
                if back is not None
                else "It is inactive now; activate it once that is fixed"
            )
            raise _restated(
                plugin,
                e,
                doing,
                before=f"{area.path} was swapped off to apply its new swapon options but "
                "could not be swapped on again: ",
                then=f"{state} (its {recorded}).",
                retryable=False,
            ) from None
        now_path = store_mod.active_path(store.fd)
    finally:
        store.close()
    now = kernel.find_area(now_path) if now_path else None
    ctx.save_backend(info=_info(plugin, _last_info(ctx)))
    return {"applied": True, "priority": now.priority if now else None}


def _check_edit_fstab_options(ctx: JobContext) -> None:
    """What the fstab line will say, checked as ``fstab.ensure_entry`` checks it but before
    the header or the kernel is touched: the job's params are trusted no more than any
    input, and a label the fstab comment cannot hold (a newline) must not be found out
    only after the header already holds it."""
    backend = ctx.backend
    assert backend is not None
    p = ctx.job.params
    label = p.get("label", backend.label)
    try:
        fstab._check_options(
            p.get("priority", backend.priority),
            p.get("discard", backend.discard) or None,
            label if not isinstance(label, str) else (label or None),
        )
    except ValidationError as e:
        raise ValidationError(f"{e.message}. Nothing was written.", field=e.field) from None


def _edit_fstab(ctx: JobContext, spec: str, keep: bool) -> dict[str, Any]:
    backend = ctx.backend
    assert backend is not None
    path = settings.SWAPADMIN_FSTAB
    p = ctx.job.params
    if not keep:
        changed = fstab.remove_entry(path, spec)
        ctx.log(f"removed {spec} from {path}" if changed else f"{path} has no line for {spec}")
        return {"fstab": str(path), "persist": False, "fstab_changed": changed}
    changed = fstab.ensure_entry(
        path,
        spec,
        priority=p.get("priority", backend.priority),
        discard=p.get("discard", backend.discard) or None,
        label=backend.label or None,
        # An adopted area's line changes only in what this edit asked for.
        as_written=[k for k in fstab.CHANGEABLE if k in p.get("options", p)]
        if backend.adopted
        else None,
    )
    ctx.log(f"{'updated' if changed else 'kept'} {spec} in {path}")
    return {"fstab": str(path), "persist": True, "fstab_changed": changed}


def _no_fstab_line(plugin: SwapBackend) -> str:
    """Why no fstab line can keep this area, in the words the request's gate says it."""
    return kind_refusal(plugin.name, BY_NAME["persist"]) or "no fstab line can name this area"


def _fstab_spec(backend: Backend, plugin: SwapBackend) -> str | None:
    """What the fstab names the area by, as its kind's plugin says (``fstab_spec``: a file's
    path, a block device's UUID; None for kinds whose device does not exist at boot, loop
    and zram). An adopted area keeps the name
    the sysadmin's own fstab line gives it (``UUID=...``), so that line is kept, not
    rewritten under another spelling, once it proves to name this very area: a line that
    names another area (a row's state edited, or the area changed since it was adopted)
    would have persist add a swap line for it, or remove that area's own line."""
    adopted_spec = backend.state.get("fstab_spec") if isinstance(backend.state, dict) else None
    if backend.adopted and isinstance(adopted_spec, str) and adopted_spec:
        try:
            own: str | None = plugin.swap_path
        except NoDeviceError:
            own = None  # any other failure to name it is the job's error, not "no device"
        if own is None or not fstab.same_area(adopted_spec, own):
            raise ValidationError(
                f"the fstab line recorded for {backend.name} names {adopted_spec}, which is "
                f"not its area {own or '(no device now)'}: the fstab is left as it is. "
                "Discover the area again to record its line. Nothing was changed."
            )
        return adopted_spec
    # The plugin's own params, as this worker cleaned them, not the row's.
    swap_uuid = str(backend.swap_uuid) if backend.swap_uuid else None
    spec = _kind_answer(
        backend.kind,
        f"how the fstab names {backend.name}",
        type(plugin).fstab_spec,
        plugin.params,
        swap_uuid,
    )
    if spec is not None and not isinstance(spec, str):
        raise BackendError(f"the {backend.kind} plugin named its fstab line with {spec!r}")
    return spec


# ---- host jobs ----


def discover(ctx: JobContext) -> dict[str, Any]:
    """Adopt swap areas active on the host or listed in its fstab that no backend covers,
    wherever they live and however fstab names them (``UUID=``, ``LABEL=``... resolved as
    findfs does); with ``paths`` in the job's params, only those (a path or an fstab
    source). A distribution's zram device adopted before is followed to the device its
    distribution recreated at boot."""
    host = ctx.job.host
    ctx.step(5, "reading /proc/swaps and the fstab")
    followed = _follow_recreated(ctx)
    covered = _covered_paths(host)
    found: dict[str, kernel.SwapArea | None] = {
        a.path: a for a in kernel.swap_areas() if not a.deleted
    }
    named: dict[str, str] = {}  # real path -> the fstab source that names it
    lines: dict[str, Any] = {}  # real path -> that fstab line (its priority and discard)
    unresolved: dict[str, str] = {}  # fstab source -> why it names nothing here
    for entry, real, how in _fstab_swaps():
        if real is None:
            unresolved[entry.spec] = how
            continue
        if real != entry.spec:
            ctx.log(f"fstab line {entry.line_no}: {entry.spec} is {real} ({how})")
        found.setdefault(real, None)
        named.setdefault(real, entry.spec)
        lines.setdefault(real, entry)
    adopted: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    wanted = ctx.job.params.get("paths")
    if wanted:
        # The page offers an area by the name it shows: one that is not UTF-8 is asked for
        # by its printable form, and meant is the area itself (passed over below, saying
        # why), not "not active".
        known = set(found) | set(named.values()) | set(unresolved)
        shown = {kernel.printable(p): p for p in found if kernel.printable(p) != p}
        # A name that is itself known (valid text that reads like an escape) means itself.
        wanted = [w if w in known else shown.get(w, w) for w in wanted]
        for path in sorted(set(wanted) - known):
            skipped.append({"path": path, "reason": "not active and not in the fstab"})
            ctx.log(f"not adopted {path}: not active and not in the fstab")
        found = {p: a for p, a in found.items() if p in wanted or named.get(p) in wanted}
        unresolved = {s: why for s, why in unresolved.items() if s in wanted}
    for spec, why in unresolved.items():
        skipped.append({"path": kernel.printable(spec), "reason": kernel.printable(why)})
        ctx.log(f"not adopted {spec}: {why}")
    for path, area in found.items():
        why_not = adoption.unadoptable_name(path)
        if why_not is not None:
            why = why_not  # said with the name's bytes shown
            skipped.append({"path": kernel.printable(path), "reason": why})
            ctx.log(f"not adopted {kernel.printable(path)}: {why}")
            continue
        real = os.path.realpath(path)
        owner = covered.get(path) or covered.get(real)
        if owner is not None:
            if owner.host_id != host.pk:
                why = owner.covers_words()
                skipped.append({"path": path, "reason": why})
                ctx.log(f"not adopted {path}: {why}")
            continue
        try:
            adopted.append(_adopt(ctx, real, area, named.get(path), lines.get(path)))
        except BackendError as e:
            why = observe.said(e, limit=None)  # a kind's words, however it set them
            skipped.append({"path": kernel.printable(path), "reason": why})
            ctx.log(f"not adopted {path}: {why}")
        except DB_ERRORS:
            raise  # the job's failure, once persistent() has waited: not one area's reason
        except Exception as e:
            # A kind's plugin (a third party's, say) failing in its constructor or its
            # reads: this area is skipped, the others are still adopted.
            log.exception("adopting %s failed", path)
            # ``said``: its words may raise, or hold what no row keeps (review 177/2).
            skipped.append({"path": kernel.printable(path), "reason": observe.said(e)})
            ctx.log(f"not adopted {path}: {observe.said(e)}")
    ctx.progress(95, f"adopted {len(adopted)} area(s)", force=True)
    return {"adopted": adopted, "skipped": skipped, "followed": followed}


def _follow_recreated(ctx: JobContext) -> list[dict[str, str]]:
    """Adopted backends whose store its owner recreated since they were recorded (a
    distribution's zram device after a reboot): each kind that looks for its stores again
    (``SwapBackend.follow_recreated``) finds the new one, and the row gets its identity."""
    kinds = [
        cls.name for cls in registry() if cls.follow_recreated is not SwapBackend.follow_recreated
    ]
    out: list[dict[str, str]] = []
    adopted = Backend.objects.filter(host=ctx.job.host, kind__in=kinds, adopted=True)
    for b in adopted.order_by("pk"):  # the oldest row first, should two find one store
        try:
            dev = _follow_one(ctx, b)
        except BackendError as e:
            # One backend's plugin failing to look, or its store found to be another
            # backend's: that backend is not followed; the others are, and discovery goes on.
            ctx.log(f"{b.name}: not followed: {e.message}")
            continue
        except Exception as e:
            # A row in a shape no plugin or check expected (another machine's, a hand's).
            log.exception("following %s failed", b.name)
            ctx.log(f"{b.name}: not followed: {observe.said(e)}")
            continue
        if dev is not None:
            ctx.log(f"{b.name}: {dev} was made again by its owner; it is the same backend")
            out.append({"name": b.name, "device": dev})
    return out


def _follow_one(ctx: JobContext, b: Backend) -> str | None:
    """Where ``b``'s store is now, if its kind found it recreated (its row then records
    it); None if it is not. NotOursError, and nothing recorded, when another backend of
    the machine names those bytes."""
    before = b.state.get("store") if isinstance(b.state, dict) else None
    what = f"where {b.name}'s store is now"
    plugin = _kind_answer(b.kind, what, build_plugin, b, ctx.policy)
    try:
        _kind_answer(b.kind, what, plugin.follow_recreated)
        record = plugin.record
        dev = _swap_path(plugin)
        if record == before or dev is None:
            return None
        if not isinstance(record.get("key"), str) or not record["key"]:
            ctx.log(f"{b.name}: its plugin found its store again but named no key; not followed")
            return None
        record_store(
            b,
            dev,
            record["key"],
            store_names(record.get("overlaps")),  # read from the row: any shape
            state=plugin.state,
            swap_uuid=record.get("uuid"),
            header=_header_or_none(plugin) or {},
            info=_info(plugin, b.info),
        )
        return dev
    finally:
        # The header read keeps the store open: a zram device held open would refuse its
        # distribution's reset, and a file would refuse the next job's lease. A plugin
        # failing to close changes nothing of what was found.
        try:
            plugin.close()
        except Exception:
            log.exception("closing %s's plugin after following it failed", b.name)


def _covered_paths(host: Host) -> dict[str, Backend]:
    """Each path a backend of the host's machine names (as given, and its real path), with
    that backend: every host name the machine is known by sees the same disks, so an area
    another name manages is not this name's to adopt. This host's own win a path named
    twice."""
    machine = (
        Backend.objects.filter(host__machine_id=host.machine_id)
        if host.machine_id
        else Backend.objects.filter(host_id=host.pk)
    )
    # Another name's destroyed rows name nothing any more (this host's own are skipped as
    # before: the area comes back through its backend).
    gone = Q(desired_state=Backend.Desired.ABSENT, observed_state=Backend.Observed.ABSENT)
    machine = machine.exclude(gone & ~Q(host_id=host.pk))
    out: dict[str, Backend] = {}
    for b in sorted(machine.select_related("host"), key=lambda b: b.host_id != host.pk):
        # Another name's row by what it was asked to manage only: the path it last saw (a
        # loop or zram device's number) may since name another area, which the key check
        # of the adoption (plugins.create_adopted) judges exactly.
        seen = (b.swap_path,) if b.host_id == host.pk else ()
        params = b.params if isinstance(b.params, dict) else {}  # a row another wrote
        for p in (*seen, params.get("path"), params.get("device")):
            if isinstance(p, str) and p:
                out.setdefault(p, b)
                out.setdefault(os.path.realpath(p), b)
    return out


def _fstab_swaps() -> list[tuple[Any, str | None, str]]:
    """Each swap line of the host's fstab, with the real path it names (or None and why);
    none when there is no fstab. One that cannot be read fails the discovery, saying so:
    ``os.path.exists`` took it for none, and its areas were silently left out."""
    return fstab.resolve_entries(settings.SWAPADMIN_FSTAB)


def _kind_for(
    path: str, policy: Policy, *, active: bool
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The plugin kind, params and state that describe an existing area at the real path
    ``path``: the kind whose plugin claims it most closely (``SwapBackend.adoption_claim``)
    adopts it (``adopt``). Any area, file or device, is adopted only if it is swap (active,
    or a swap signature on it): a device is checked here, a file by its kind, which also
    requires a single name, as its activation will, and records a file outside the swap
    roots with its directory as its own root."""
    if path.startswith("/dev/"):
        adoption.check_is_swap(path, active=active)
    else:
        # Whichever kind claims it: a file is adopted only with one name, only if it is
        # swap, and outside the roots only as adoption.check_adoptable allows (all reads).
        adoption.check_one_name(path)
        adoption.root_state(path, policy, active=active)
        adoption.check_is_swap(path, active=active)
    top = sorted(cls.name for cls in registry().claimants(path))
    if not top:
        raise BackendError(f"no kind installed here adopts {path}")
    if len(top) > 1:
        raise BackendError(
            f"{path} is claimed alike by the {' and '.join(top)} kinds: which one it is "
            "would be a guess, so it is not adopted"
        )
    cls = registry().get(top[0])
    answer = _kind_answer(cls.name, f"how it adopts {path}", cls.adopt, path, policy, active=active)
    if not (
        isinstance(answer, tuple | list)
        and len(answer) == 2
        and all(isinstance(part, Mapping) for part in answer)
    ):
        raise BackendError(f"the {cls.name} plugin answered how it adopts {path} with {answer!r}")
    return cls.name, dict(answer[0]), dict(answer[1])


def _kind_answer(kind: str, what: str, hook: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A kind's plugin's answer to ``hook``; an error other than a BackendError (a third
    party's bug) is logged with its traceback and becomes one that names the kind."""
    try:
        return hook(*args, **kwargs)
    except BackendError:
        raise
    except Exception as e:
        log.exception("the %s plugin failed to say %s", kind, what)
        raise BackendError(f"the {kind} plugin failed to say {what}: {observe.said(e)}") from e


def _adopt(
    ctx: JobContext,
    path: str,
    area: kernel.SwapArea | None,
    spec: str | None = None,
    line: Any = None,
) -> dict[str, Any]:
    """Record the area at the real path ``path`` as an adopted backend; ``spec`` is how the
    fstab names it, if it does (the backend then persists, under that same name), and
    ``line`` that fstab line: its ``pri=`` and ``discard`` are the backend's, so swapadmin
    activates it as a boot would and never finds cause to rewrite the line."""
    host = ctx.job.host
    kind, params, state = _kind_for(path, ctx.policy, active=area is not None)
    if spec is not None and spec != path:
        state["fstab_spec"] = spec
    cls = registry().get(kind)
    size = _existing_size(cls, path, params)
    policy = adoption.policy_for(ctx.policy, params, state)
    plugin = cls(params, size_bytes=size, policy=policy, state=state)
    actual = plugin.capacity_bytes() if cls.takes_size else None
    hdr = _header_or_none(plugin)
    # What it is now is what it must stay: swapon and swapoff of it check this record.
    plugin.adopt_store()
    plugin.close()
    backend = create_adopted(
        host.pk,
        path,
        plugin.record.get("key"),
        plugin.record.get("overlaps"),
        lambda: _free_name(host.pk, os.path.basename(path)),
        kind=kind,
        params=plugin.params,
        size_bytes=actual,
        priority=_adopted_priority(area, line),
        discard=_adopted_discard(line),
        label=(hdr or {}).get("label", "") or "",
        swap_uuid=(hdr or {}).get("uuid") or None,
        adopted=True,
        provisioned_at=timezone.now(),
        # Already in the fstab: kept there (a health check would otherwise call the
        # sysadmin's own line drift).
        persist=spec is not None,
        desired_state=Backend.Desired.ACTIVE if area else Backend.Desired.INACTIVE,
        observed_state=Backend.Observed.ACTIVE if area else Backend.Observed.READY,
        observed_at=timezone.now(),
        used_bytes=area.used_bytes if area else 0,
        active_priority=area.priority if area else None,
        state=dict(plugin.state),
        info=_info(plugin),
        header=hdr or {},
    )
    where = f" (fstab names it {spec})" if spec and spec != path else ""
    ctx.log(f"adopted {path}{where} as {kind} backend {backend.name!r}")
    audit(Actor.system(), "adopt", backend, "ok", {"path": path, "job": str(ctx.job.uuid)})
    out = {"path": path, "kind": kind, "name": backend.name, "uuid": str(backend.uuid)}
    if spec is not None and spec != path:
        out["fstab_spec"] = spec
    return out


def _adopted_priority(area: kernel.SwapArea | None, line: Any) -> int | None:
    """The priority to activate an adopted area at: its fstab line's ``pri=``, which a boot
    uses; else the one it is active at, unless the kernel chose it (negative)."""
    if line is not None and line.priority is not None and 0 <= line.priority <= kernel.MAX_PRIORITY:
        return int(line.priority)
    return area.priority if area and area.priority >= 0 else None


def _adopted_discard(line: Any) -> str:
    """The discard policy its fstab line gives an adopted area ("" for none, or for a value
    swapon would not take either)."""
    d = line.discard if line is not None else None
    return d if d in kernel.DISCARD_FLAGS else ""


def _existing_size(cls: type[SwapBackend], path: str, params: dict[str, Any]) -> int | None:
    """The size of an area that exists already, read from the host by its kind."""
    try:
        return cls.existing_size(path, params)
    except (OSError, ValueError) as e:
        why = (e.strerror if isinstance(e, OSError) else None) or str(e)
        raise BackendError(f"cannot read the size of {path}: {why}") from None


def _free_name(host_pk: int, base: str) -> str:
    base = "".join(c if c.isalnum() or c in "._-" else "-" for c in base).lstrip("._-") or "swap"
    name = base[:90]
    n = 2
    while Backend.objects.filter(host_id=host_pk, name=name).exists():
        name = f"{base[:90]}-{n}"
        n += 1
    return name


def tune(ctx: JobContext) -> dict[str, Any]:
    """Set vm.swappiness, vm.page-cluster and zswap; keep them in the sysctl file if asked."""
    params = dict(ctx.job.params)
    keep = bool(params.pop("persist", False))
    ctx.step(10, f"setting {', '.join(sorted(params)) or 'nothing'}")
    before = tunables.read_tunables().to_dict()
    after = tunables.apply_tunables(params)
    result: dict[str, Any] = {"before": before, "after": after.to_dict()}
    if keep:
        tunables.persist_tunables(settings.SWAPADMIN_SYSCTL_FILE, after)
        ctx.log(f"kept in {settings.SWAPADMIN_SYSCTL_FILE}")
        result["persisted_to"] = str(settings.SWAPADMIN_SYSCTL_FILE)
    return result


HANDLERS: dict[str, Handler] = {
    # Each of core's backend actions of the one table's, by the function of its name; the
    # others are registered by the app that handles them (``register``).
    **{a.name: globals()[a.name] for a in BACKEND_ACTIONS if a.handled_by == "core"},
    Job.Kind.DISCOVER: discover,
    Job.Kind.TUNE: tune,
    Job.Kind.EDIT: edit,
}


def register(kind: str, handler: Handler) -> None:
    """Another app's handler for job ``kind``, from its ``AppConfig.ready()``: the health app
    runs the ``check`` job. A kind has one handler; a second, different one is a mistake
    that must not pass silently."""
    if HANDLERS.get(kind, handler) is not handler:
        raise ImproperlyConfigured(
            f"a {kind!r} job is already handled by {HANDLERS[kind].__module__}; "
            f"{handler.__module__} cannot handle it too"
        )
    HANDLERS[kind] = handler
