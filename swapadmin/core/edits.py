"""Editing a backend after creation: the request side of ``PATCH`` and the edit page.

What may change: the swap header's ``label`` (rewritten in place on an inactive area that
swapadmin made), the swapon options ``priority`` and ``discard`` (on an active area either
applied now, by the same swapoff with the RAM check and swapon again, or recorded for the
next activation), ``persist`` (the fstab line) and ``auto_repair`` (a database field only).

Like every other change, anything that touches the host is a signed job (``edit``, or the
existing ``persist`` job when only that changes), refused with ``Conflict`` while another
job holds the backend, and audited; a database-only change is saved with its audit event.
Bad input raises ``InvalidRequest`` naming the field, before anything is written; a change
this backend cannot take (an adopted area's label, a persist its kind cannot do) raises it
too, and is audited as refused, as a request's refusals are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from .actions import BY_NAME
from .models import Backend, Job
from .services import (
    MAX_PRIORITY,
    Actor,
    Conflict,
    InvalidRequest,
    NotReady,
    _clean_action_params,
    _clean_discard,
    _clean_label,
    _new_job,
    action_job,
    audit,
    backend_kind_refusal,
    discard_refusal,
    indeterminate_reason,
    live_job_for,
    not_provisioned_reason,
)

#: Apply new swapon options to an active area now (swapoff with the RAM check, swapon).
APPLY_NOW = "now"
#: Record them; the next activation uses them.
APPLY_LATER = "next_activation"
APPLY_CHOICES = (APPLY_NOW, APPLY_LATER)

#: The fields a backend's edit takes; anything else is refused by name.
EDITABLE = ("label", "priority", "discard", "persist", "auto_repair", "apply")


@dataclass
class Edit:
    """What an edit did: the backend as it is now, the job that carries the host's part
    (None when only the database changed), and each changed field as ``[before, after]``."""

    backend: Backend
    job: Job | None
    changes: dict[str, list[Any]] = field(default_factory=dict)


def clean_edit(data: Mapping[str, Any]) -> dict[str, Any]:
    """Types and bounds of each field given, or InvalidRequest naming the first bad one."""
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise InvalidRequest(
            {
                name: [f"{name!r} cannot be edited; a backend's editable fields are: "
                       f"{', '.join(EDITABLE)}"]
                for name in unknown
            }
        )  # fmt: skip
    if not set(data) - {"apply"}:
        raise InvalidRequest.one(
            "fields", f"name at least one field to change: {', '.join(EDITABLE[:-1])}"
        )
    out: dict[str, Any] = {}
    if "label" in data:
        if not isinstance(data["label"], str):
            raise InvalidRequest.one("label", "label must be a string")
        out["label"] = _clean_label(clean_label_text(data["label"]))
    if "priority" in data:
        out["priority"] = clean_priority(data["priority"])
    if "discard" in data:
        if data["discard"] is not None and not isinstance(data["discard"], str):
            raise InvalidRequest.one("discard", "discard must be a string")
        out["discard"] = _clean_discard(data["discard"])
    for name in ("persist", "auto_repair"):
        if name in data:
            if not isinstance(data[name], bool):
                raise InvalidRequest.one(name, f"{name} must be true or false")
            out[name] = data[name]
    apply = data.get("apply", APPLY_LATER)
    if apply not in APPLY_CHOICES:
        raise InvalidRequest.one("apply", f"apply must be one of {', '.join(APPLY_CHOICES)}")
    out["apply"] = apply
    return out


def clean_label_text(label: str) -> str:
    """What a label must be besides its 16 bytes: UTF-8 (JSON can carry a lone surrogate,
    which no encoder turns into bytes), printable (a newline or tab would break the fstab
    comment swapadmin keeps it in, and the worker would find that out only after writing
    the header) and without leading or trailing spaces (which that comment cannot keep).
    An empty label clears it."""
    try:
        label.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest.one(
            "label", "a swap label must be valid UTF-8 text (it holds a lone surrogate)"
        ) from None
    if not label.isprintable():
        raise InvalidRequest.one(
            "label", "a swap label must be printable: no newline, tab or other control character"
        )
    if label != label.strip():
        raise InvalidRequest.one(
            "label", "a swap label must not begin or end with spaces (nor be spaces only)"
        )
    return label


def clean_priority(value: Any) -> int | None:
    """-1..32767 as swapon(8) takes it; -1 (or empty) leaves the choice to the kernel,
    stored as None like a backend created without one."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRequest.one("priority", "priority must be a whole number")
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest.one("priority", "priority must be a whole number") from None
    if not -1 <= number <= MAX_PRIORITY:
        raise InvalidRequest.one(
            "priority", f"priority must be from -1 (the kernel's choice) to {MAX_PRIORITY}"
        )
    return None if number == -1 else number


class Refused(InvalidRequest):
    """A change this backend cannot take, whatever the body says (an adopted area's label, a
    persist its kind cannot do): 400 on its field as bad input is, but audited, as the same
    refusals of a request are."""


def _refusals(backend: Backend, changed: dict[str, Any]) -> None:
    """What the backend cannot take now, before anything is written. What no provision
    could mend comes first, as in a request (``services.request_action``): the way out a
    later refusal names (provision it) would not help."""
    if "label" in changed and backend.adopted:
        raise Refused.one(
            "label",
            f"{backend.name} was adopted, not made by swapadmin: its swap header is never "
            "written, so its label cannot be changed here",
        )
    refusal = discard_refusal(backend.kind, changed.get("discard") or "")
    if refusal is not None:
        raise Refused.one("discard", refusal)
    if changed.get("persist"):
        refusal = backend_kind_refusal(backend, BY_NAME["persist"])
        if refusal is not None:
            raise Refused.one("persist", refusal)
    touches_host = set(changed) - row_only(backend, changed)
    if touches_host and backend.provisioned_at is None:
        raise NotReady(not_provisioned_reason(backend, "change on the host"))
    if touches_host and backend.observed_state == Backend.Observed.INDETERMINATE:
        # Recorded for later, a priority or discard would be promised to an area that may
        # be on now; a label is written to its header.
        raise NotReady(indeterminate_reason(backend, "change on the host"))
    if "label" in changed and backend.observed_state == Backend.Observed.ACTIVE:
        raise NotReady(
            f"{backend.name} is active: its label is rewritten only on an inactive area "
            "(the header is part of the area the kernel uses). Deactivate it first."
        )


def row_only(backend: Backend, changed: Mapping[str, Any]) -> set[str]:
    """The changes that touch only the row, nothing on the host: auto-repair, and persist
    turned off where the persist action would be refused by the kind (``kind_can``): the
    worker can spell no line of it to remove, so none is asked (a stray line is for a person
    to remove, as the fstab probe says). A kind not installed here is refused so too."""
    out = {"auto_repair"}
    if changed.get("persist") is False and backend_kind_refusal(backend, BY_NAME["persist"]):
        out.add("persist")
    return out


def edit_backend(backend: Backend, actor: Actor, data: Mapping[str, Any]) -> Edit:
    """Change ``backend`` as ``data`` asks (see the module's docstring). Raises
    InvalidRequest (bad input, or a change this backend cannot take: an adopted area's
    label, a persist its kind cannot do), NotReady (cannot now, for a reason no job holds)
    or Conflict (another job holds the backend); each refusal changes nothing."""
    cleaned = clean_edit(data)  # bad input: refused before the backend is read, unaudited
    apply = cleaned.pop("apply")
    try:
        return _edit(backend, actor, cleaned, apply)
    except (Conflict, NotReady, Refused) as e:
        # What the backend refused is audited, as a request's refusals are, outside the
        # transaction the refusal rolled back so that it is kept.
        detail: dict[str, Any]
        if isinstance(e, Refused):
            # One field today (Refused.one); every field's words if ever more.
            said = [m for messages in e.errors.values() for m in messages]
            detail = {"reason": " ".join(said), "field": ", ".join(e.errors)}
        elif isinstance(e, Conflict):
            detail = {"reason": e.message, "busy_with": str(e.job.uuid)}
        else:
            detail = {"reason": e.message}
        audit(actor, "edit", backend, "refused", detail)
        raise


def _edit(backend: Backend, actor: Actor, cleaned: dict[str, Any], apply: str) -> Edit:
    with transaction.atomic():
        # The row's lock makes the check for a live job and the new job one step. The
        # backend's row only: a job's claim locks the host's row before the backend's
        # (plugins.record_store), and taking both here in the other order could deadlock it.
        locked = (
            Backend.objects.select_for_update(of=("self",))
            .select_related("host")
            .get(pk=backend.pk)
        )
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        changes = {k: [getattr(locked, k), v] for k, v in changed.items()}
        if not changed:
            return Edit(locked, None, {})
        _refusals(locked, changed)
        holder = live_job_for(locked) if set(changed) - row_only(locked, changed) else None
        if holder is not None:
            raise Conflict(holder)
        options = {"priority", "discard"} & set(changed)
        # Recorded now (the next activation reads them); the label is the header's, so the
        # row takes it when the worker has written it.
        recorded = {k: v for k, v in changed.items() if k != "label"}
        if recorded:
            Backend.objects.filter(pk=locked.pk).update(**recorded, updated_at=timezone.now())
            locked.refresh_from_db()
        job = _job_for(locked, actor, changed, options, apply)
        detail: dict[str, Any] = {"changes": changes}
        if options:
            detail["apply"] = apply
        if job is not None:
            detail["job"] = str(job.uuid)
        audit(actor, "edit", locked, "queued" if job is not None else "ok", detail)
    return Edit(locked, job, changes)


def _job_for(
    backend: Backend, actor: Actor, changed: dict[str, Any], options: set[str], apply: str
) -> Job | None:
    """The job that carries the host's part of the edit, or None when there is none: the
    swapon options of an area that is not active (and not in the fstab) are only recorded."""
    active = backend.observed_state == Backend.Observed.ACTIVE
    fstab_follows = backend.persist and (options or "label" in changed)
    host_options = options and ((active and apply == APPLY_NOW) or fstab_follows)
    if "label" not in changed and not host_options:
        if "persist" in changed and "persist" in row_only(backend, changed):
            return None
        if "persist" in changed:
            # Only the fstab line changes: the persist job does exactly that, built and its
            # body cleaned as a request of it is (the action table's entry).
            spec = BY_NAME["persist"]
            body = _clean_action_params(backend, spec, {"persist": changed["persist"]})
            return action_job(backend, spec, actor, body)
        return None
    params: dict[str, Any] = {}
    if "label" in changed:
        params["label"] = changed["label"]
    if options:
        # Both options, as they are to be: the worker applies them from the signed params.
        # Which of them this edit changes is said too: an adopted area's fstab line (the
        # sysadmin's) changes only in those, whatever the row holds for the other.
        params.update(
            priority=backend.priority, discard=backend.discard, apply=apply,
            options=sorted(options),
        )  # fmt: skip
    if "persist" in changed:
        params["persist"] = changed["persist"]
    return _new_job(backend.host, Job.Kind.EDIT, actor, backend=backend, params=params)
