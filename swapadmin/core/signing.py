"""Signed job specifications: a worker obeys only what the control plane authorised.

Whoever can write a row could otherwise make a host's root worker do anything a job can do
(``force`` on another host's backend, a backend's device pointed at a disk holding data).
So the control plane, which holds an Ed25519 private key no host has, signs what each job
is allowed to do when it creates the job (``services._new_job``): the job, its host (name
and machine id), its backend (kind, name, the store's parameters, the identity recorded of
the store), force and the confirmation, and a time after which it is void. The canonical
text and the signature are kept on the Job row.

Before a job runs (``tasks.run_job``, before the claim, any handler or any store is
opened), the worker verifies the signature with the public key and builds the
specification again from the rows it reloads: a row changed after signing (the backend's
device, its recorded identity, the job's force, the host the job is for) no longer matches
what was signed, and the job is failed with a sentence saying what changed. Nothing of the
job is run. One rule for every kind, read-only checks included.

Keys (settings): ``SWAPADMIN_SIGNING_KEY`` (the PEM, usually from
``SWAPADMIN_SIGNING_KEY_FILE``) where jobs are created; ``SWAPADMIN_VERIFY_KEY`` (a path, a
PEM, or the one-line base64 that ``manage.py signing-key --public`` prints) on workers. With
no database configured (``make run``: web, worker and beat on one machine), a key is
generated once in the data directory (``new_private_key_pem``).

This module is imported by ``settings`` (for ``new_private_key_pem``), before the apps are
loaded: the models (and ``services``, which imports them) are imported inside the functions
that need them. Django's helpers are imported at the top: none of them reads a setting or a
model when it is imported.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Concat, Now
from django.utils import timezone

from . import finished
from .machines import MachineIdError, machine_id

if TYPE_CHECKING:
    from .models import Job

log = logging.getLogger(__name__)

#: The layout of the specification; a worker refuses a layout it does not know.
VERSION = 1
#: Where ``make run`` keeps its generated key, under the data directory.
KEY_FILE_NAME = "job-signing-key.pem"
#: The keys of a backend's state a job acts on, besides the recorded identity
#: (``state["store"]``): the loop or zram device it opens, swaps on and off and resets; the
#: boot that device was recorded in, and a distribution zram device's signature (size,
#: algorithm, name), which decide whether a device is followed after a reboot; the name an
#: adopted area's own fstab line gives it, which persist, edit and destroy write or remove;
#: the directory an adopted file outside the swap roots is opened under. No process writes
#: these between signing and running but the backend's own jobs (one at a time) and a
#: discover following a rebooted zram device; the sampler and health rounds never write
#: ``state``. Keys a row does not have are signed as null.
SIGNED_STATE_KEYS = ("device", "boot_id", "distro", "fstab_spec", "adopted_root")


class Unauthorised(Exception):
    """The job is not one the control plane authorised as it stands; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---- keys ----


def new_private_key_pem() -> bytes:
    """A fresh Ed25519 private key as PEM (PKCS#8): ``make run``'s key, which settings keeps
    in the data directory with ``secretfiles.read_or_create_secret`` (0600 from the first
    byte, made once when web, worker and beat start together)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@functools.lru_cache(maxsize=4)
def _private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("SWAPADMIN_SIGNING_KEY is not an Ed25519 private key")
    return key


@functools.lru_cache(maxsize=4)
def _public_key(text: str) -> Ed25519PublicKey:
    """A public key from a PEM, the one-line base64 of its DER, or a file holding either."""
    text = text.strip()
    if not text.startswith("-----BEGIN") and text.startswith(("/", ".")):
        text = Path(text).read_text().strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        try:
            der = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError(
                "SWAPADMIN_VERIFY_KEY is neither a file, a PEM, nor the base64 line that "
                "`manage.py signing-key --public` prints"
            ) from None
        key = serialization.load_der_public_key(der)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("SWAPADMIN_VERIFY_KEY is not an Ed25519 public key")
    return key


def signing_key() -> Ed25519PrivateKey | None:
    """This process's signing key, or None where jobs are not to be signed (a host)."""

    pem = getattr(settings, "SWAPADMIN_SIGNING_KEY", "") or ""
    return _private_key(pem) if pem else None


def verify_key() -> Ed25519PublicKey:
    """The key this worker checks signatures with: SWAPADMIN_VERIFY_KEY, or the public half
    of this process's own signing key (``make run``, one machine). Raises Unauthorised
    when there is none or it cannot be read: such a worker runs nothing."""

    configured = getattr(settings, "SWAPADMIN_VERIFY_KEY", "") or ""
    try:
        if configured:
            return _public_key(configured)
        private = signing_key()
    except (OSError, ValueError) as e:
        raise Unauthorised(
            f"this worker cannot read its key to verify job signatures ({e}): it runs no job "
            "until SWAPADMIN_VERIFY_KEY is fixed; refused, nothing was done"
        ) from None
    if private is None:
        raise Unauthorised(
            "this worker has no key to verify job signatures with (set SWAPADMIN_VERIFY_KEY "
            "to what `manage.py signing-key --public` prints on the control plane): it runs "
            "no job without one; refused, nothing was done"
        )
    return private.public_key()


def public_key_line(key: Ed25519PublicKey) -> str:
    """The public key as one line of base64 (its DER): what worker.env takes."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


# ---- the specification ----


def canonical(spec: dict[str, Any]) -> str:
    """One text for one specification: sorted keys, no spaces, no NaN."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)


def forced(params: Any) -> bool:
    """Whether a job's parameters ask for force: exactly ``True``. A row's ``1`` or
    ``"true"`` is signed as no force, so the worker must not force on it either; the
    signature and every place the worker acts on force read it through this one test."""
    return isinstance(params, dict) and params.get("force") is True


def spec_for(job: Job, not_after: str) -> dict[str, Any]:
    """What ``job`` is allowed to do, from its rows (``job.host`` and ``job.backend``
    loaded): built the same way where the job is signed and where it is run."""
    params = job.params if isinstance(job.params, dict) else {"(not an object)": job.params}
    backend = job.backend
    force = forced(params)
    return {
        "v": VERSION,
        "job": {"uuid": str(job.uuid), "kind": job.kind, "params": params},
        "host": {"name": job.host.name, "machine_id": job.host.machine_id},
        "backend": None if backend is None else _backend_spec(backend),
        # The request side takes force only with the backend's name typed as confirmation.
        "force": force,
        "confirm": backend.name if force and backend is not None else "",
        "not_after": not_after,
    }


def _backend_spec(backend: Any) -> dict[str, Any]:
    return {
        "id": backend.pk,
        "uuid": str(backend.uuid),
        "host": backend.host.name,
        "kind": backend.kind,
        "name": backend.name,
        # The store's parameters (path, device, size...): where the job may write.
        "params": backend.params,
        "size_bytes": backend.size_bytes,
        "label": backend.label,
        "swap_uuid": str(backend.swap_uuid) if backend.swap_uuid else None,
        # What the worker proves the store against before it writes a byte: the identity
        # recorded when the store was taken (state["store"]), and the key of its bytes.
        "identity": {
            "store_key": backend.store_key,
            "adopted": backend.adopted,
            "provisioned": backend.provisioned_at is not None,
            **signed_state(backend.state),
        },
    }


def signed_state(state: Any) -> dict[str, Any]:
    """What of a backend's state a job's signature names: the identity recorded when the
    store was taken (``store``), and what else decides what the worker opens, swaps on or
    off, or writes (``SIGNED_STATE_KEYS``). Beside the identity's other keys, not nested: a
    job signed before these were (none of them in its text) still matches a row that has
    none of them either. Its values are ``state``'s own, not copies: a caller that keeps it
    while ``state`` changes copies it (``handlers._release_and_forget``). A state that is
    no mapping (another machine's row) names nothing."""
    if not isinstance(state, dict):
        state = {}
    return {"store": state.get("store"), **{k: state.get(k) for k in SIGNED_STATE_KEYS}}


def load_job(job_pk: int) -> Job | None:
    """Job ``job_pk`` with the rows its signature names, in one query."""
    from .models import Job

    return Job.objects.select_related("host", "backend__host").filter(pk=job_pk).first()


def sign_job(job_pk: int, *, now: datetime | None = None) -> bool:
    """Sign job ``job_pk`` as its rows stand (call it in the transaction that made them):
    the spec is built from the rows read back, exactly as the worker will build it. Returns
    False when this process holds no signing key: the job stays unsigned, and its worker
    will refuse it."""

    from .models import Job

    key = signing_key()
    job = load_job(job_pk)
    if job is None:
        return False
    if key is None:
        log.warning(
            "job %s (%s) is not signed: this process has no SWAPADMIN_SIGNING_KEY, so its "
            "worker will refuse it",
            job.uuid,
            job.kind,
        )
        return False
    ttl = timedelta(seconds=settings.SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS)
    not_after = ((now or timezone.now()) + ttl).replace(microsecond=0)
    text = canonical(spec_for(job, not_after.strftime("%Y-%m-%dT%H:%M:%SZ")))
    signature = base64.b64encode(key.sign(text.encode())).decode()
    Job.objects.filter(pk=job.pk).update(signed_spec=text, signature=signature)
    return True


# ---- the worker's side ----


def verify(job: Job, *, host_name: str, machine_id: str, db_now: datetime) -> None:
    """Raise Unauthorised unless ``job`` (host and backend loaded, as reloaded now) is
    what the control plane signed, not yet void, and for this host on this machine."""
    key = verify_key()
    if not job.signature or not job.signed_spec:
        raise Unauthorised(
            "the job is not signed by the control plane: it was written by a process "
            "without the signing key (or outside swapadmin), and a worker runs only signed "
            "jobs; refused, nothing was done"
        )
    try:
        key.verify(base64.b64decode(job.signature, validate=True), job.signed_spec.encode())
        signed = json.loads(job.signed_spec)
    except (InvalidSignature, binascii.Error, ValueError):
        raise Unauthorised(
            "the job's signature does not verify with this worker's key: it was forged or "
            "altered after signing, or signed by another control plane; refused, nothing "
            "was done"
        ) from None
    if not isinstance(signed, dict) or signed.get("v") != VERSION:
        raise Unauthorised(
            f"the job's specification has a layout this worker does not know (v="
            f"{signed.get('v') if isinstance(signed, dict) else '?'}); refused, nothing was done"
        )
    _check_not_after(signed, db_now)
    _check_host(signed, host_name, machine_id)
    difference = _difference(signed, job, machine_id)
    if difference is not None:
        raise Unauthorised(
            f"the job's rows no longer match what the control plane signed: {difference}; "
            "refused, nothing was done"
        )


def _difference(signed: dict[str, Any], job: Job, machine_id: str) -> str | None:
    """Where ``job``'s rows as loaded differ first from ``signed``, in words ("backend.label
    is "x" now but was "" when signed"), or None."""
    rebuilt = json.loads(canonical(spec_for(job, str(signed.get("not_after")))))
    if (
        isinstance(signed.get("host"), dict)
        and signed["host"].get("machine_id") == ""
        and rebuilt["host"]["machine_id"] == machine_id
    ):
        # Signed before any machine registered the host: the machine that registered it
        # since is the one it was meant for, when that is this one. A row another machine
        # registered since stays a difference, whatever the runner checks.
        rebuilt["host"]["machine_id"] = ""
    found = first_difference(signed, rebuilt)
    if found is None:
        return None
    where, then, now = found
    return f"{where} is {_short(now)} now but was {_short(then)} when signed"


def changed_since_signed(job: Job, signed_spec: str) -> str | None:
    """Where ``job``'s rows (host and backend loaded, as reloaded now) differ from
    ``signed_spec``, in ``verify``'s words, or None: what its next try would be refused
    for. Asked by the runner before it queues a job again (a job of a kind that records a
    device it attached, a header's label read anew), by the same comparison as ``verify``,
    of the specification ``verify`` checked at the claim, not the row's now (259/4). A
    specification it cannot read is left to ``verify``."""
    try:
        signed = json.loads(signed_spec)
        mine = machine_id()
    except (ValueError, MachineIdError):
        return None
    return _difference(signed, job, mine) if isinstance(signed, dict) else None


def _check_not_after(signed: dict[str, Any], db_now: datetime) -> None:
    try:
        not_after = datetime.fromisoformat(str(signed.get("not_after")))
    except ValueError:
        raise Unauthorised(
            "the job's specification has no valid not-after time; refused, nothing was done"
        ) from None
    if db_now > not_after:
        raise Unauthorised(
            f"the job's authorisation expired at {signed['not_after']} (signed jobs are valid "
            "for SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS): queue it again; refused, nothing "
            "was done"
        )


def _check_host(signed: dict[str, Any], host_name: str, machine_id: str) -> None:
    named = signed.get("host")
    host: dict[str, Any] = named if isinstance(named, dict) else {}
    # A host no machine has registered yet (or one an admin let go with forget-machine) is
    # signed with no machine id: verify holds such a job to the machine that registered the
    # host since (the row's id, when it is this machine's). A signed id matches only itself,
    # never an id this worker could not read (machine_id() raises rather than say "").
    if host.get("name") != host_name or host.get("machine_id") not in ("", machine_id):
        raise Unauthorised(
            f"the job was signed for host {host.get('name')!r} (machine id "
            f"{host.get('machine_id') or 'none'}), not for this worker's host {host_name!r} "
            f"(machine id {machine_id or 'none'}); refused, nothing was done"
        )


def first_difference(signed: Any, now: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """Where two specifications differ first (in key order), with the two values."""
    if isinstance(signed, dict) and isinstance(now, dict):
        for k in sorted(set(signed) | set(now)):
            found = first_difference(signed.get(k), now.get(k), f"{path}.{k}" if path else k)
            if found is not None:
                return found
        return None
    return None if signed == now else (path or "the specification", signed, now)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def verify_here(job: Job, db_now: datetime | None = None) -> None:
    """``verify`` for this worker's host and machine, by the database's clock: ``db_now``
    when the caller has just read it (Now() in the query that loaded ``job``), else asked."""

    from .models import Job

    if db_now is None:
        db_now = (
            Job.objects.filter(pk=job.pk).annotate(now=Now()).values_list("now", flat=True).first()
        )
        if db_now is None:  # the job's row was deleted meanwhile (a forget): nothing to run
            raise Unauthorised(f"job {job.uuid} was deleted; refused, nothing was done")
    try:
        mine = machine_id()
    except MachineIdError as e:
        raise Unauthorised(f"{e}; refused, nothing was done") from None
    verify(job, host_name=settings.SWAPADMIN_HOST, machine_id=mine, db_now=db_now)
    if finished.ran_here(str(job.uuid)):
        raise Unauthorised(
            f"job {job.uuid} already ran on this host, and a signed job runs once (its row "
            "was set back to queued after it ended): queue a new one; refused, nothing was "
            "done"
        )


def retried_after(job: Job) -> str:
    """A retry refused keeps the failure it was to retry, which its row's ``error`` holds
    while it waits (``runner._requeue``) and a refusal replaces (this gate's, or the
    runner's after the claim: 260/4): a change the runner
    could not see before it queued the retry (another machine's write, a write held back
    while the database was away, a signature expired meanwhile) must not hide it
    (258/2-3, 259/1). Cut, then quoted: the row's words, not this worker's (259/7, 260/5).
    A retry queued by a worker before this one kept it in its waiting reason only, and
    loses it here."""
    if not job.attempt or not job.error:
        return ""
    text = job.error if len(job.error) <= 300 else job.error[:299] + "…"
    quoted = json.dumps(text, ensure_ascii=False)
    return f" (this was a retry; its row says its last try failed: {quoted})"


def refuse_unauthorised(job_pk: int) -> bool:
    """The worker's gate, before the runner claims anything: fail job ``job_pk`` (queued,
    this host's, on this machine) with the reason if it is not what the control plane
    signed, and return True. Jobs this worker would not run anyway (gone, taken, another
    host's or another machine's, cancelled) are left to the runner (False)."""

    from .models import Job

    job = load_job(job_pk)
    try:
        mine = machine_id()
    except MachineIdError:
        return False  # the runner's machine check says why, and leaves the job queued
    if (
        job is None
        or job.state != Job.State.QUEUED
        or job.cancel_requested
        or job.host.name != settings.SWAPADMIN_HOST
        or (job.host.machine_id and job.host.machine_id != mine)
    ):
        return False
    try:
        verify_here(job)
    except Unauthorised as e:
        reason = e.message + retried_after(job)
    else:
        return False
    line = f"{timezone.now():%H:%M:%S} refused: {reason}\n"
    failed = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
        state=Job.State.FAILED,
        error=reason,
        progress_message=reason[:255],
        waiting_reason="",
        finished_at=Now(),
        log=Concat(F("log"), Value(line)),
    )
    if not failed:
        # Deleted (a forget) or taken meanwhile: nothing was refused. A row that is gone
        # woke people for nothing at error level (review 169/11); one still there was found
        # not as signed, which is said, if not as this worker's refusal (review 174/8).
        now = Job.objects.filter(pk=job.pk).values_list("state", flat=True).first()
        log.log(
            logging.INFO if now is None else logging.WARNING,
            "job %s (%s) is no longer queued (%s); nothing to refuse: %s",
            job.uuid, job.kind, "deleted" if now is None else now, reason,
        )  # fmt: skip
        return True
    log.error("job %s (%s) refused: %s", job.uuid, job.kind, reason)
    from .services import Actor, audit

    audit(Actor.system(), job.kind, job, "refused", {"job": str(job.uuid), "reason": reason})
    return True
