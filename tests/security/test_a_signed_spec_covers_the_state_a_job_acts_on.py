"""Beside the recorded identity (``state["store"]``), the signature covers every key of a
backend's state that decides what a job opens, swaps on or off, or writes: the loop or
zram device, the boot it was recorded in, a distribution zram device's signature, the
name an adopted area's fstab line gives it, an adopted file's own swap root. Each one
changed after signing fails the worker's check, named; the rows as signed pass, and so
does a job signed before these keys were signed, on a row that has none of them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from django.utils import timezone

from backends import adoption
from swapadmin.core import signing
from swapadmin.core.models import Backend, Host, Job

pytestmark = pytest.mark.django_db

MACHINE = "0123456789abcdef0123456789abcdef"
STATE: dict[str, Any] = {
    "store": {"key": "zram:b:7", "devnum": "252:1", "boot_id": "b", "adopted": True},
    "device": "/dev/zram1",
    "boot_id": "b",
    "distro": {"name": "zram1", "disksize": 1 << 24, "algorithm": "lz4"},
    "fstab_spec": "UUID=7f0c1c52-6a5e-4ef0-9d3b-6c2b4d0b1a11",
    adoption.ROOT_KEY: "/srv",
}
EDITS: dict[str, Any] = {
    "device": "/dev/vda",
    "boot_id": "another boot",
    "distro": {"name": "zram0", "disksize": 1 << 30, "algorithm": "zstd"},
    "fstab_spec": "/dev/vda1",
    adoption.ROOT_KEY: "/",
}


def new_job(state: dict[str, Any]) -> Job:
    host = Host.objects.create(name="a", machine_id=MACHINE)
    backend = Backend.objects.create(
        host=host, kind="zram", name="z", state=state, adopted=True,
        swap_uuid=uuid.uuid4(), provisioned_at=timezone.now(),
    )  # fmt: skip
    return Job.objects.create(
        kind=Job.Kind.PERSIST, host=host, backend=backend, backend_name="z",
        params={"persist": False},
    )  # fmt: skip


def check(job: Job) -> None:
    fresh = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    signing.verify(fresh, host_name="a", machine_id=MACHINE, db_now=timezone.now())


def test_every_key_a_job_acts_on_is_signed():
    assert set(EDITS) == set(signing.SIGNED_STATE_KEYS)


def test_the_rows_as_signed_pass():
    job = new_job(STATE)
    assert signing.sign_job(job.pk)
    check(job)


@pytest.mark.parametrize("key", EDITS)
def test_a_changed_key_is_named(key):
    job = new_job(STATE)
    assert signing.sign_job(job.pk)
    Backend.objects.filter(pk=job.backend_id).update(state={**STATE, key: EDITS[key]})
    with pytest.raises(signing.Unauthorised) as refused:
        check(job)
    # A nested value is named down to the field that differs (distro.algorithm).
    assert f"no longer match what the control plane signed: backend.identity.{key}" in (
        refused.value.message
    )


@pytest.mark.parametrize("key", EDITS)
def test_a_key_added_after_signing_is_named(key):
    job = new_job({"store": STATE["store"]})
    assert signing.sign_job(job.pk)
    Backend.objects.filter(pk=job.backend_id).update(
        state={"store": STATE["store"], key: EDITS[key]}
    )
    with pytest.raises(signing.Unauthorised, match=rf"backend\.identity\.{key} is"):
        check(job)


def test_a_job_signed_before_these_keys_were_still_runs_on_a_row_without_them():
    job = new_job({"store": STATE["store"]})
    spec = signing.spec_for(
        Job.objects.select_related("host", "backend__host").get(pk=job.pk),
        "2099-01-01T00:00:00Z",
    )
    for key in signing.SIGNED_STATE_KEYS:
        del spec["backend"]["identity"][key]  # the layout before they were signed
    text = signing.canonical(spec)
    key = signing.signing_key()
    assert key is not None
    Job.objects.filter(pk=job.pk).update(
        signed_spec=text, signature=base64.b64encode(key.sign(text.encode())).decode()
    )
    check(job)
    assert "fstab_spec" not in json.loads(text)["backend"]["identity"]
