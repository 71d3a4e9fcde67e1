"""PATCH of a label that cannot be written as a swap header's label and an fstab comment is
refused with a 400 naming ``label``, and changes nothing: a lone surrogate (JSON's way of
sending bytes that are not UTF-8; it used to crash the request with a 500), a newline or
another control character (the fstab comment would break the file: the worker wrote the
header first and failed on the fstab line after), leading or trailing spaces and a label of
spaces only. Exactly 16 bytes of multibyte UTF-8 is a label; 17 is not."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Backend, Job

pytestmark = pytest.mark.django_db

FIELDS = ("label", "priority", "discard", "persist", "auto_repair")


def patch_raw(client: APIClient, backend: Backend, body: str) -> object:
    # The raw text, so escapes the JSON encoder would not produce (a lone surrogate) reach
    # the server as a client could send them.
    return client.patch(f"/api/v1/backends/{backend.uuid}/", body, content_type="application/json")


BAD = [
    ('{"label": "\\ud800"}', "UTF-8"),
    ('{"label": "ok\\udcff"}', "UTF-8"),
    ('{"label": "two\\nlines"}', "printable"),
    ('{"label": "tab\\there"}', "printable"),
    ('{"label": "bell\\u0007"}', "printable"),
    ('{"label": "   "}', "spaces"),
    ('{"label": " lead"}', "spaces"),
    ('{"label": "trail "}', "spaces"),
    # 17 bytes: eight two-byte characters and one more byte.
    (json.dumps({"label": "é" * 8 + "x"}), "16 bytes"),
]


@pytest.mark.parametrize(("body", "words"), BAD)
def test_the_label_is_refused_naming_the_problem_and_nothing_changes(
    body: str,
    words: str,
    alice: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    before = {f: getattr(backend, f) for f in FIELDS}
    r = patch_raw(as_user(alice), backend, body)
    assert r.status_code == 400, r.content
    assert "label" in r.json(), r.json()
    assert words in " ".join(r.json()["label"]), r.json()
    backend.refresh_from_db()
    assert {f: getattr(backend, f) for f in FIELDS} == before
    assert not Job.objects.filter(backend=backend).exists()
    assert not AuditEvent.objects.filter(object_uuid=backend.uuid, action="edit").exists()


def test_sixteen_bytes_of_multibyte_utf8_is_a_label(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    label = "é" * 8  # 8 characters, 16 bytes
    assert len(label.encode()) == 16
    r = patch_raw(as_user(alice), backend, json.dumps({"label": label}))
    assert r.status_code == 202, r.content
    (job,) = Job.objects.filter(backend=backend, kind=Job.Kind.EDIT)
    assert job.params["label"] == label
