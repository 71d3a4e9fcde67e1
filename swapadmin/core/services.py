"""The request side of every change: validate, record, dispatch.

Pages, the API and the health checks all come through here, so a rule (a conflict, a role,
the typed confirmation for force) is written once. A request becomes a ``Job`` row
committed to the database first; only then (``transaction.on_commit``) is the task sent
to the host's queue. If the broker is down the row stays queued with the reason, and the
sweep sends it again later: nothing accepted is lost.
"""

from __future__ import annotations

import enum
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Now
from django.utils import timezone

from backends import BackendError, Policy, registry
from backends.dynamic import RESERVED_PREFIX
from backends.errors import printable
from backends.registry import kind_says
from swapadmin.celery import app as celery_app

from . import actions, signing
from .models import AuditEvent, Backend, Host, Job

log = logging.getLogger(__name__)

RUN_JOB_TASK = "swapadmin.core.run_job"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_PRIORITY = 32767


@dataclass(frozen=True)
class Actor:
    """Who asks: a user through a page or the API, or the scheduler/system."""

    user: AbstractBaseUser | None
    via: str
    ip: str | None = None

    @property
    def name(self) -> str:
        if self.user is not None:
            return str(self.user.get_username())
        return self.via

    @property
    def account(self) -> User | None:
        """The user as the rows' foreign keys take it: this project keeps Django's own user
        model (no AUTH_USER_MODEL), whatever type a request gives its user."""
        return cast("User | None", self.user)

    @classmethod
    def schedule(cls) -> Actor:
        return cls(None, Job.Via.SCHEDULE)

    @classmethod
    def system(cls) -> Actor:
        return cls(None, Job.Via.SYSTEM)


class InvalidRequest(Exception):
    """Bad input; ``errors`` maps each field to its messages. Nothing was changed."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    @classmethod
    def one(cls, field_name: str, message: str) -> InvalidRequest:
        return cls({field_name: [message]})


@dataclass
class Conflict(Exception):
    """The backend, or a host, is busy with another job; ``job`` is the one holding it."""

    job: Job
    message: str = field(default="")

    def __post_init__(self) -> None:
        self.message = f"{self.job.backend_name or self.job.host.name} is busy: {self.job.doing}"
        super().__init__(self.message)


class NotReady(Exception):
    """The backend cannot do this now, for a reason no job holds (409 with the reason):
    its store was never proven to be swapadmin's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_provisioned_reason(backend: Backend, kind: str) -> str:
    """Why ``kind`` is refused on a backend whose store was never proven ours, with what
    its last provision said."""
    last = (
        backend.jobs.filter(kind=Job.Kind.PROVISION).order_by("-queued_at").first()
        if backend.pk
        else None
    )
    if last is None:
        why = "it was never provisioned"
    elif last.state in Job.LIVE:
        why = f"its provision job {last.uuid} is {last.state}"
    else:
        why = f"its provision job {last.uuid} {last.state}" + (
            f": {last.error}" if last.error else ""
        )
    return (
        f"{backend.name} has no store proven to be swapadmin's ({why}), so a {kind} is "
        f"refused: it could write to someone else's data. {way_out_of_unproven(backend)}."
    )


#: What brings an adopted area back under a row: the way out for an adopted backend whose
#: store was never proven (and whose area was there when last looked at), since a provision
#: is never asked of an adopted area.
ADOPT_AGAIN = (
    "Destroy it, which leaves its area as it is, then adopt the area again: from its host's "
    "page (Adopt, which lists the active areas swapadmin does not manage), or with the API's "
    "discover, which also takes an inactive swap area named in the host's fstab"
)


def indeterminate_reason(backend: Backend, what: str) -> str:
    """Why ``what`` is refused while whether ``backend``'s area is active cannot be told
    (observed indeterminate): a guess either way could swapon, swapoff or write an area in
    use. The worker refuses a queued job too; this refuses the request before it changes
    the row (a destroy asked would mark it leaving)."""
    return (
        f"whether {backend.name}'s area is active cannot be told ({backend.observed_error}), "
        f"so this {what} is refused: it would act on a guess. Mend what stops its path being "
        "named, then ask for a check, which looks again"
    )


def way_out_of_unproven(backend: Backend) -> str:
    """What a person can do about ``backend``'s store never proven its own."""
    if backend.adopted and backend.observed_state == Backend.Observed.ABSENT:
        # An area gone from its host cannot be adopted again (as the plugins' way_out says);
        # the row says what was seen last, which a store not yet mounted also reads as.
        return (
            "Destroy it, which then removes only its row: its area was not found on the host "
            "when last looked at. If it is there again, adopt it again from its host's page "
            "(Adopt) or with the API's discover"
        )
    if backend.adopted:
        return ADOPT_AGAIN
    return (
        "Provision it again (with force if what is there may be destroyed), or destroy it, "
        "which then removes only the row"
    )


def policy_for(host: Host) -> Policy:
    """The host's policy as its worker reported it; the worker re-checks with its own."""
    if host.swap_roots:
        return Policy(swap_roots=tuple(Path(r) for r in host.swap_roots))
    return Policy()


# ---- auditing ----


def audit(
    actor: Actor,
    action: str,
    obj: Host | Backend | Job | None,
    outcome: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    host = None
    if isinstance(obj, Host):
        host = obj
    elif obj is not None:
        host = obj.host
    return AuditEvent.objects.create(
        actor=actor.account,
        actor_name=actor.name,
        via=actor.via,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_uuid=getattr(obj, "uuid", None),
        object_repr=str(obj)[:255] if obj is not None else "",
        host=host,
        source_ip=actor.ip,
        outcome=outcome,
        detail=_printable_json(detail or {}),
    )


def _printable_json(value: Any) -> Any:
    """``value`` with every string in it printable: a reason may quote a third party's kind
    (its label, its refusal's own ``message`` default), and PostgreSQL's jsonb keeps no NUL,
    so the audit row of a refusal failed with it (review 182/5)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): _printable_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable_json(v) for v in value]
    return value


# ---- validation ----


def _check_force(force: bool, confirm: str, name: str) -> None:
    if force and confirm != name:
        raise InvalidRequest.one(
            "confirm", f"force needs the backend's name typed exactly as confirmation ({name!r})"
        )


def _clean_priority(priority: Any) -> int | None:
    if priority in (None, ""):
        return None
    if isinstance(priority, bool) or not isinstance(priority, int):
        try:
            priority = int(priority)
        except (TypeError, ValueError):
            raise InvalidRequest.one("priority", "priority must be a whole number") from None
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidRequest.one("priority", f"priority must be from 0 to {MAX_PRIORITY}")
    return int(priority)


def _clean_label(label: str) -> str:
    if len(label.encode()) > 16:
        raise InvalidRequest.one("label", "a swap label is at most 16 bytes")
    if "\x00" in label:
        raise InvalidRequest.one("label", "a swap label must not contain a NUL byte")
    return label


def _clean_discard(discard: str | None) -> str:
    discard = discard or ""
    if discard not in Backend.Discard.values:
        choices = ", ".join(v for v in Backend.Discard.values if v)
        raise InvalidRequest.one("discard", f"discard must be empty or one of {choices}")
    return discard


def _backend_error(e: BackendError, default_field: str) -> InvalidRequest:
    return InvalidRequest.one(e.field or default_field, e.message)


def validate_backend(
    host: Host,
    kind: str,
    name: str,
    size_bytes: int | None,
    params: dict[str, Any],
    *,
    dynamic: bool = False,
) -> tuple[dict[str, Any], int | None]:
    """The plugin's own validation (pure, lexical), as the web side can do it. Names
    starting with ``dyn-`` are the dynamic swap policy's (``dynamic``) and no one else's."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest.one(
            "name",
            "a name is 1 to 100 letters, digits, '.', '_' or '-', starting with one "
            "of the first two",
        )
    if name.lower().startswith(RESERVED_PREFIX) and not dynamic:
        raise InvalidRequest.one(
            "name",
            f"names starting with {RESERVED_PREFIX!r} are reserved for the files dynamic swap "
            "adds; choose another name",
        )
    try:
        cls = registry().get(kind)
    except BackendError as e:
        raise _backend_error(e, "kind") from None
    if not isinstance(params, dict):
        raise InvalidRequest.one("params", "params must be an object")
    try:
        cleaned = cls.clean_params(params, policy_for(host))
        size = cls.clean_size(size_bytes)
    except BackendError as e:
        raise _backend_error(e, "params") from None
    # The host's backends read once, for both checks (a round trip the user waits for).
    others = list(Backend.objects.filter(host=host).only("name", "params"))
    if any(other.name == name for other in others):
        raise InvalidRequest.one("name", f"{host.name} already has a backend named {name!r}")
    _check_store_unclaimed(host, cleaned, others)
    return cleaned, size


#: The parameters that name a store's path, by which two backends can be seen to name the
#: same one before a job runs (the worker then compares what the paths really are).
STORE_PARAMS = ("path", "device")


def _check_store_unclaimed(host: Host, params: dict[str, Any], others: list[Backend]) -> None:
    """One store, one backend: refuse a path another backend of the host (``others``, all of
    them) names already, written the same way. Other spellings (links, bind mounts, a
    partition and its disk) are only known on the host; its worker refuses those before
    writing."""
    for name in STORE_PARAMS:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            continue
        for other in others:
            if value in (other.params.get("path"), other.params.get("device")):
                raise InvalidRequest.one(
                    name, f"{value} is the store of backend {other.name!r} on {host.name}"
                )


# ---- creating jobs ----


def live_job_for(backend: Backend) -> Job | None:
    return (
        backend.jobs.filter(state__in=Job.LIVE)
        .exclude(kind__in=actions.READS_ONLY)
        .order_by("queued_at")
        .first()
    )


def _new_job(
    host: Host,
    kind: str,
    actor: Actor,
    *,
    backend: Backend | None = None,
    params: dict[str, Any] | None = None,
) -> Job:
    job = Job(
        kind=kind,
        host=host,
        backend=backend,
        backend_name=backend.name if backend else "",
        params=params or {},
        requested_by=actor.account,
        via=actor.via,
    )
    if not host.online:
        job.waiting_reason = f"host {host.name} is offline; the job runs when its worker is back"
    job.save(force_insert=True)
    # Every job, of every kind, is created here and signed here, as its rows now stand (the
    # caller's transaction holds the backend's or the host's, not always both): the worker
    # runs only what verifies and still matches.
    # Signed from the rows read back, not from the objects in hand: those may be older than
    # the rows (a host re-registered since the caller read it), and what is signed must be
    # what the worker will read.
    signing.sign_job(job.pk)
    transaction.on_commit(lambda: dispatch(job.pk, job))
    return job


def create_backend(
    *,
    host: Host,
    kind: str,
    name: str,
    size_bytes: int | None,
    actor: Actor,
    params: dict[str, Any] | None = None,
    priority: Any = None,
    discard: str | None = "",
    label: str = "",
    persist: bool = False,
    auto_repair: bool = False,
    force: bool = False,
    confirm: str = "",
    dynamic_policy: Any = None,
    activate: bool = False,
) -> Job:
    """Register a backend and queue its provision job (prepare the store and mkswap).
    ``dynamic_policy``: the host's DynamicSwapPolicy adding one of its ``dyn-`` files.
    ``activate``: the same job goes on to swapon (handlers.provision), which makes the
    backend desired active once the area is on, and only then."""
    params = params or {}
    dynamic = dynamic_policy is not None
    cleaned, size = validate_backend(host, kind, name, size_bytes, params, dynamic=dynamic)
    prio = _clean_priority(priority)
    disc = _clean_discard(discard)
    check_discard(kind, disc)
    lab = _clean_label(label or "")
    _check_force(force, confirm, name)
    if persist:
        check_persistable(kind)
    with transaction.atomic():
        backend = Backend.objects.create(
            host=host,
            kind=kind,
            name=name,
            # Chosen now, so the header the worker writes is known before it is written.
            swap_uuid=uuid.uuid4(),
            params=cleaned,
            size_bytes=size,
            priority=prio,
            discard=disc,
            label=lab,
            persist=persist,
            auto_repair=auto_repair,
            desired_state=Backend.Desired.INACTIVE,
            created_by=actor.account,
            dynamic_policy=dynamic_policy,
        )
        job_params: dict[str, Any] = {"force": force}
        if activate:
            job_params["activate"] = True
        job = _new_job(host, Job.Kind.PROVISION, actor, backend=backend, params=job_params)
        detail = {"job": str(job.uuid), "kind": kind, **({"activate": True} if activate else {})}
        audit(actor, "create", backend, "queued", detail)
    return job


def adopted_refusal(backend: Backend, spec: actions.BackendAction) -> str:
    """Why ``spec`` is never asked of ``backend``, an area swapadmin adopted (did not make):
    what it would write (``BackendAction.adopted_writes``), and the way out. The worker
    says it again."""
    if spec.before_provision and backend.provisioned_at is None:
        # A provision of a row adopted before swapadmin recorded provisions: what it was
        # asked for, a store proven the row's, adopting the area again gives.
        way_out = way_out_of_unproven(backend)
    else:
        way_out = (
            "Destroy (release) it, which leaves its area as it is, and create a backend of your own"
        )
    return (
        f"{backend.name} was adopted, not made by swapadmin: {spec.adopted_writes}, and an "
        f"adopted area's store is never taken or written. {way_out}. Nothing was done"
    )


def kind_refusal(kind: str, spec: actions.BackendAction) -> str | None:
    """Why an area of ``kind`` may not be asked ``spec``, or None if it may: the table's
    ``kind_can`` names what the kind's plugin class must say of itself (``resizable``). A kind
    not installed here cannot say, so no."""
    if not spec.kind_can:
        return None
    if kind not in registry():
        return (
            f"the {kind!r} kind is not installed here, so nothing says that an area of it "
            f"can be asked to {spec.label.lower()}"
        )
    if kind_says(kind, spec.kind_can):
        return None
    return f"an area of the {_in_a_sentence(registry().get(kind).label)} kind {spec.kind_cannot}"


def discard_refusal(kind: str, discard: str) -> str | None:
    """Why an area of ``kind`` is never swapped on with ``discard``, as its plugin class
    says (``discard_refusal``); None when it may be, or no discard is asked. A kind not
    installed here says nothing: its worker refuses it before the swapoff."""
    if not discard or kind not in registry():
        return None
    cls = registry().get(kind)
    why = cls.discard_refusal(discard)
    return None if why is None else f"an area of the {_in_a_sentence(cls.label)} kind: {why}"


def check_discard(kind: str, discard: str) -> None:
    """InvalidRequest naming the field when ``kind`` never takes ``discard``: asked by the
    create form's review and by the create itself."""
    refused = discard_refusal(kind, discard)
    if refused is not None:
        raise InvalidRequest.one("discard", refused)


def _in_a_sentence(label: str) -> str:
    """A kind's label as a sentence's middle reads it: "Swap file" as "swap file", an
    initialism ("NFS file") as it is."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def adopted_line(backend: Backend) -> str | None:
    """The fstab line's spelling an adopted area was adopted from, when it was recorded
    (``state["fstab_spec"]``, covered by the job's signature): that line is the area's own,
    whatever its kind can say."""
    state = backend.state if isinstance(backend.state, dict) else {}
    line = state.get("fstab_spec")
    return line if backend.adopted and isinstance(line, str) and line else None


def backend_kind_refusal(backend: Backend, spec: actions.BackendAction) -> str | None:
    """``kind_refusal`` for ``backend``'s row: an adopted area's recorded fstab line is its
    own, so an action whose entry says that will do (``own_line_will_do``: persist) may be
    asked of it whatever its kind. Read by the request, the worker's gate, the page, the
    edits and the health probes and repair alike."""
    if spec.own_line_will_do and adopted_line(backend) is not None:
        return None
    return kind_refusal(backend.kind, spec)


def kept_from_before(backend: Backend, spec: actions.BackendAction) -> str:
    """The way out of a kind's refusal for a row that still holds the action's setting (a
    zram row set to persist before that was refused, or by discover): an edit turning it off
    changes only the row (``edits.row_only``). "" when it holds none."""
    kept = [name for name in spec.kept_on_the_row if getattr(backend, name, None) is True]
    if not kept:
        return ""
    return (
        f"; {backend.name} still has {', '.join(kept)} set: turn it off with Edit settings "
        "(PATCH), which changes only its row"
    )


def persist_refusal(kind: str) -> str | None:
    """Why a new area of ``kind`` cannot be kept in the fstab, or None if it can: only if an
    fstab line brings it back after a reboot, as the kind's plugin says
    (``SwapBackend.persistable``, the table's ``kind_can``). For a row that exists, read
    ``backend_kind_refusal``, which also knows an adopted area's own line."""
    return kind_refusal(kind, actions.BY_NAME["persist"])


def check_persistable(kind: str) -> None:
    """Refuse to keep a new area of ``kind`` in the fstab unless it can be (persist_refusal)."""
    refusal = persist_refusal(kind)
    if refusal is not None:
        raise InvalidRequest.one("persist", refusal)


def _clean_action_params(
    backend: Backend, spec: actions.BackendAction, params: dict[str, Any]
) -> dict[str, Any]:
    p = dict(params)
    force = bool(p.get("force", False))
    if spec.force:
        _check_force(force, str(p.get("confirm", "")), backend.name)
        if spec.name == "deactivate" and p.get("to_change") is True:
            # A swapoff asked only so that the store can be changed after it (the dynamic
            # policy's, before its destroy): the worker refuses it with the area left on
            # while another name reaches the store (236/1). Set by the policy only: the
            # API's serializer and the page's form carry no such field. It only adds a
            # check, and a job without it is a plain deactivate.
            return {"force": force, "to_change": True}
        return {"force": force}
    if spec.settings:
        return {s.name: _int_in(p.get(s.name, s.default), s.name, s.low, s.high)
                for s in spec.settings}  # fmt: skip
    check = CHECKS.get(spec.name)
    return check(backend, p) if check is not None else {}


def clean_resize(backend: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """A resize's body: a size the kind can take (``clean_size``). (An adopted area, and a
    kind that does not resize, were refused already by the table's ``adopted_writes`` and
    ``kind_can``.)"""
    cls = registry().get(backend.kind)  # a kind that resizes (the table's ``kind_can``)
    try:
        size = cls.clean_size(p.get("size_bytes"))
    except BackendError as e:
        raise _backend_error(e, "size_bytes") from None
    return {"size_bytes": size}


def clean_persist(backend: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """A persist's body: true (the default) to add the fstab line, false to remove it. (A
    kind no fstab line can name was refused already, by the table's ``kind_can``.)"""
    persist = p.get("persist", True)
    if not isinstance(persist, bool):
        raise InvalidRequest.one("persist", "persist must be true or false")
    return {"persist": persist}


def clean_activate(backend: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """An activate's body: a priority for this swapon, or none for the backend's own."""
    if "priority" in p:
        return {"priority": _clean_priority(p["priority"])}
    return {}


#: Each action's check of its other parameters: the function its table entry names.
CHECKS: dict[str, Callable[[Backend, dict[str, Any]], dict[str, Any]]] = {
    a.name: globals()[a.checks] for a in actions.BACKEND_ACTIONS if a.checks
}


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidRequest.one(name, f"{name} must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidRequest.one(name, f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise InvalidRequest.one(name, f"{name} must be from {low} to {high}")
    return number


def request_action(
    backend: Backend, kind: str, actor: Actor, params: dict[str, Any] | None = None
) -> Job:
    """Queue ``kind`` on ``backend``; raises Conflict while another job holds it."""
    if kind == Job.Kind.EDIT:
        # An edit's params are its changes, validated and recorded by core.edits only.
        raise InvalidRequest.one("kind", "an edit is asked with edits.edit_backend (PATCH)")
    spec = actions.BY_NAME.get(kind)
    if spec is None:
        raise InvalidRequest.one("kind", f"{kind!r} is not an action on a backend")
    if backend.adopted and spec.adopted_writes:
        # First: no provision, forced or adopted again, would let it write this area.
        reason = adopted_refusal(backend, spec)
        audit(actor, kind, backend, "refused", {"reason": reason})
        raise InvalidRequest.one("kind", reason)
    cannot = backend_kind_refusal(backend, spec)
    if cannot is not None:
        cannot += kept_from_before(backend, spec)
        # Before the unprovisioned refusal too: provisioning would not make the kind able.
        audit(actor, kind, backend, "refused", {"reason": cannot})
        raise InvalidRequest.one("kind", cannot)
    if backend.provisioned_at is None and not spec.before_provision:
        reason = not_provisioned_reason(backend, kind)
        audit(actor, kind, backend, "refused", {"reason": reason})
        raise NotReady(reason)
    cleaned = _clean_action_params(backend, spec, params or {})
    try:
        return _queue_action(backend, spec, actor, cleaned)
    except NotReady as e:
        # Audited outside the transaction the refusal rolled back, so the refusal is kept.
        audit(actor, kind, backend, "refused", {"reason": e.message})
        raise
    except Conflict as e:
        # Audited outside the transaction the conflict rolled back, so the refusal is kept.
        audit(actor, kind, backend, "refused", {"busy_with": str(e.job.uuid)})
        raise


def _queue_action(
    backend: Backend, spec: actions.BackendAction, actor: Actor, cleaned: dict[str, Any]
) -> Job:
    kind = spec.name
    with transaction.atomic():
        # Lock the row so two requests cannot both see the backend free (PostgreSQL; SQLite
        # serialises writers anyway, and the worker's claim is the last line of defence).
        locked = Backend.objects.select_for_update().get(pk=backend.pk)
        if not spec.reads_only:
            holder = live_job_for(locked)
            if holder is not None:
                raise Conflict(holder)
            if locked.observed_state == Backend.Observed.INDETERMINATE:
                # On the locked row: a verdict written since the caller read it counts.
                raise NotReady(indeterminate_reason(locked, spec.label.lower()))
        job = action_job(locked, spec, actor, cleaned)
        # A scheduled job that only reads (the health check) changes nothing and runs once a
        # minute per backend: auditing it would bury the changes the audit log exists to show.
        if not (spec.reads_only and actor.via == Job.Via.SCHEDULE):
            audit(actor, kind, locked, "queued", {"job": str(job.uuid), "params": cleaned})
    return job


def action_job(
    locked: Backend, spec: actions.BackendAction, actor: Actor, cleaned: dict[str, Any]
) -> Job:
    """The job of ``spec`` on ``locked`` (a row its caller holds locked, with no live job),
    and the row's part of it: the state the action leaves it in, the settings the entry
    keeps on the row. ``cleaned`` is what the entry's own check made of the body
    (``_clean_action_params``; not run here, as a forced action's confirmation is read
    once). One builder for a request and for an edit whose only host change is one action
    (persist, when only the fstab line changes), so both jobs have the same body."""
    updates: dict[str, Any] = {}
    if spec.desired_after is not None:
        updates["desired_state"] = spec.desired_after
    updates.update({c: cleaned[c] for c in spec.kept_on_the_row if c in cleaned})
    if updates:
        Backend.objects.filter(pk=locked.pk).update(**updates, updated_at=timezone.now())
    return _new_job(locked.host, spec.name, actor, backend=locked, params=cleaned)


def request_host_job(
    host: Host, kind: str, actor: Actor, params: dict[str, Any] | None = None
) -> Job:
    """Queue a host-wide job: ``discover`` (adopt areas found on the host), ``tune``, or a
    host-level ``check`` (memory pressure on a host with no backends)."""
    if kind not in (Job.Kind.DISCOVER, Job.Kind.TUNE, Job.Kind.CHECK):
        raise InvalidRequest.one("kind", f"{kind!r} is not a host job")
    if kind == Job.Kind.DISCOVER:
        params = _clean_discover_params(params or {})
    try:
        return _queue_host_job(host, kind, actor, params or {})
    except Conflict as e:
        # Audited outside the transaction the conflict rolled back, so the refusal is kept.
        audit(actor, kind, host, "refused", {"busy_with": str(e.job.uuid)})
        raise


def _queue_host_job(host: Host, kind: str, actor: Actor, params: dict[str, Any]) -> Job:
    with transaction.atomic():
        # The host row's lock makes the check and the insert one step: two discover or tune
        # requests at once cannot both be queued.
        Host.objects.select_for_update().filter(pk=host.pk).first()
        holder = host.jobs.filter(kind=kind, state__in=Job.LIVE).first()
        if holder is not None:
            raise Conflict(holder)
        job = _new_job(host, kind, actor, params=params)
        if not (kind == Job.Kind.CHECK and actor.via == Job.Via.SCHEDULE):
            audit(actor, kind, host, "queued", {"job": str(job.uuid), "params": params})
    return job


MAX_ADOPT_PATHS = 64


def _clean_discover_params(params: dict[str, Any]) -> dict[str, Any]:
    """``paths``: adopt only these areas (as /proc/swaps or the fstab names them); none: all."""
    paths = params.get("paths")
    if paths in (None, []):
        return {}
    if not isinstance(paths, list) or len(paths) > MAX_ADOPT_PATHS:
        raise InvalidRequest.one("paths", f"paths must be a list of at most {MAX_ADOPT_PATHS}")
    for p in paths:
        if not isinstance(p, str) or not p or len(p) > 4096:
            raise InvalidRequest.one("paths", "each path is a non-empty string")
        if "\x00" in p or "\n" in p:
            raise InvalidRequest.one("paths", f"{p!r} contains a NUL byte or a newline")
        if not (p.startswith("/") or p.startswith(("UUID=", "LABEL=", "PARTUUID=", "PARTLABEL="))):
            raise InvalidRequest.one(
                "paths", f"{p!r} is neither an absolute path nor UUID=/LABEL=/PARTUUID=/PARTLABEL="
            )
    return {"paths": sorted(set(paths))}


def _end_queued(jobs: QuerySet[Job]) -> int:
    """The queued ones of ``jobs`` cancelled. A retry's failure, kept while it waited
    (``runner._requeue``), stays: its try did fail, and the cancel is why no other came. A
    job no try of which ran has none (words in it are another machine's: 265/3)."""
    return jobs.filter(state=Job.State.QUEUED).update(
        state=Job.State.CANCELLED,
        finished_at=Now(),
        waiting_reason="",
        error=Case(When(attempt=0, then=Value("")), default=F("error"), output_field=TextField()),
        progress_message=Case(
            When(attempt=0, then=Value("cancelled before it started")),
            default=Value("cancelled before its next try"),
        ),
    )


def cancel_before_start(job_pk: int) -> bool:
    """Job ``job_pk`` cancelled if it is still queued: True if this call ended it."""
    return bool(_end_queued(Job.objects.filter(pk=job_pk)))


def end_queued_cancels() -> int:
    """Queued jobs with a cancel asked, ended: no worker claims one (``runner.claim``) and
    ``resend_lost`` sends none again, so one whose message is lost would wait for ever.
    ``cancel_job`` ends one at once, and the runner never queues one now (261/1, 262/1);
    a worker's crash between them, or an older worker's retry, could leave one."""
    return _end_queued(Job.objects.filter(cancel_requested=True))


class Cancel(enum.StrEnum):
    """What a cancel did, read on the locked row: the answer the user gets must be true of
    the row as the cancel found it, not as a page or the API read it a moment earlier."""

    ENDED = "ended"  # queued: cancelled now, before it started or before its next try
    ASKED = "asked"  # running: asked to stop at its next check (again, if asked before)
    CANCELLED = "cancelled"  # cancelled already (a second click, a client's retry)
    REFUSED = "refused"  # ended otherwise, or in a state this version does not know


def not_cancelled(job: Job) -> str:
    """Why a cancel refused ``job``: nothing was changed."""
    if job.state not in Job.FINISHED:
        return (
            f"not cancelled: it is in state {printable(repr(job.state))[:40]}, which this "
            "version does not know; nothing was changed"
        )
    if job.state == Job.State.FAILED and job.cancel_requested:
        # The sweep fails a job whose worker never confirmed a cancel: a client asking
        # again is told what became of the first ask, not only "ended".
        return (
            "not cancelled: it had already ended (failed, after a cancel was asked: its "
            "error says why)"
        )
    return f"not cancelled: it had already ended ({job.state})"


def cancel_job(job: Job, actor: Actor) -> Cancel:
    """Cancel a job that has not started; a running one is asked to stop at its next check.
    The cancel is asked first, of a queued or running row, in one write: a running job
    requeued for a retry between two writes would miss both (263/1); no worker claims
    or requeues a row with the cancel asked (``runner.claim``, ``runner._requeue``).
    ``job`` is refreshed to the row as the cancel left it."""
    with transaction.atomic():
        # The row locked and read first: no runner or sweep ends it between the read and
        # the writes, so a job that ended after the caller looked is answered so, not
        # "asked to stop" (264/1, 265/1). The writes keep their own conditions all the
        # same, and the answer is read from the row they left: a database that takes no
        # row lock (SQLite outside IMMEDIATE transactions) gets no untrue answer (268/1).
        locked = Job.objects.select_for_update().filter(pk=job.pk)
        found = locked.values_list("state", "cancel_requested", "cancel_requested_at").first()
        if found is None:
            raise Job.DoesNotExist(f"job {job.uuid} is gone (its host forgotten, or pruned)")
        state, asked, asked_at = found
        live = Job.objects.filter(pk=job.pk, state__in=Job.LIVE)
        # The sweep's grace for a worker to confirm runs from the first ask; a flag with no
        # time (a row from before the time was kept, or another machine's) gets one now, or
        # the sweep would never end a job whose worker does not answer.
        live.filter(Q(cancel_requested=False) | Q(cancel_requested_at__isnull=True)).update(
            cancel_requested=True, cancel_requested_at=Now()
        )
        cancel_before_start(job.pk)
        job.refresh_from_db()
        answer = _cancel_answer(job, found_live=state in Job.LIVE)
        detail: dict[str, Any] = {"state": job.state}
        if asked and answer is Cancel.ASKED:
            detail["asked_before_at"] = asked_at.isoformat() if asked_at else None
        if answer is Cancel.REFUSED:
            detail["reason"] = not_cancelled(job)
        elif answer is Cancel.CANCELLED:
            detail["reason"] = "cancelled already: nothing changed"
        outcome = {Cancel.ASKED: "queued", Cancel.REFUSED: "refused"}.get(answer, "ok")
        audit(actor, "cancel", job, outcome, detail)
    return answer


def _cancel_answer(job: Job, *, found_live: bool) -> Cancel:
    """The answer of a cancel, from the row it left (``job``, refreshed) and whether it
    found the job queued or running."""
    if job.state == Job.State.CANCELLED:
        return Cancel.ENDED if found_live else Cancel.CANCELLED
    if job.state in Job.LIVE and job.cancel_requested:
        return Cancel.ASKED
    return Cancel.REFUSED


# ---- dispatch ----


def dispatch(job_pk: int, new: Job | None = None) -> bool:
    """Send the job to its host's queue. On a broker failure the row stays queued with the
    reason, and ``resend_undispatched`` tries again later. ``new``: the job this process has
    just committed (``_new_job``'s on_commit), sent without reading it back, one round trip
    sooner. A sweep or a cancel may reach it in the moment since; sending it then is
    harmless, as a duplicate send is: the worker claims only a queued job."""
    job = new
    if job is None:
        job = Job.objects.select_related("host").filter(pk=job_pk, state=Job.State.QUEUED).first()
    if job is None:
        return False
    try:
        celery_app.send_task(RUN_JOB_TASK, args=[job.pk], queue=job.host.queue, retry=False)
    except Exception as e:  # kombu raises many types for an unreachable broker
        log.warning("job %s not sent to %s: %s", job.uuid, job.host.queue, e)
        Job.objects.filter(pk=job.pk).update(
            dispatch_attempts=F("dispatch_attempts") + 1,
            waiting_reason=f"the broker is unreachable ({type(e).__name__}); "
            "the job will be sent when it is back",
        )
        return False
    reason = "" if job.host.online else job.waiting_reason
    Job.objects.filter(pk=job.pk).update(
        dispatched_at=Now(),
        dispatch_attempts=F("dispatch_attempts") + 1,
        waiting_reason=reason,
    )
    return True


def resend_undispatched(older_than_seconds: float = 5.0) -> int:
    """Send again every queued job that never reached the broker. Safe to repeat: a worker
    claims a job with a conditional update, so a duplicate message runs nothing twice."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = Job.objects.filter(state=Job.State.QUEUED, queued_at__lt=cutoff).filter(
        Q(dispatched_at__isnull=True)
    )
    return sum(dispatch(pk) for pk in pending.values_list("pk", flat=True))


def resend_lost(after_seconds: float | None = None) -> int:
    """Send again every queued job whose message was due ``after_seconds`` ago (default
    SWAPADMIN_RESEND_AFTER_SECONDS) on a host that is online, and was not taken: a queue
    purged, a broker restarted without persistence, a database error before the claim.
    The claim (a conditional UPDATE) makes a duplicate message harmless."""
    after = settings.SWAPADMIN_RESEND_AFTER_SECONDS if after_seconds is None else after_seconds
    due = ExpressionWrapper(Now() - timedelta(seconds=after), output_field=DateTimeField())
    online = ExpressionWrapper(
        Now() - timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS),
        output_field=DateTimeField(),
    )
    # A message behind a busy pool (a long burn-in) is not lost: while the host runs
    # something, its queued jobs may be waiting their turn, so nothing is sent twice then.
    busy = Job.objects.filter(host=OuterRef("host"), state=Job.State.RUNNING)
    lost = Job.objects.filter(
        state=Job.State.QUEUED,
        cancel_requested=False,
        dispatched_at__lt=due,
        host__last_heartbeat__gte=online,
    ).exclude(Exists(busy))
    resent = 0
    for pk in lost.values_list("pk", flat=True):
        log.warning("job %s: its message was not taken in %.0f s; sending it again", pk, after)
        resent += dispatch(pk)
    return resent
