"""A description the worker could not read is said on the backend page (review 170/9).

When a kind's ``describe`` fails, the row keeps its last description's facts with the
error over them (review 172/4): the page showed those facts as if just read, and the error
nowhere. It now says the error, and whether the path could be named, above the facts.

Review 174/9: a description read whole but for its path (``swap_path_error``, which a job
keeps) was said nowhere, though it is why the area's use cannot be told."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from swapadmin.core.models import Backend
from tests.web.test_a_kind_words_its_own_facts_on_the_backend_page import page

pytestmark = pytest.mark.django_db

SAID = "The worker could not read this store's description"


def test_the_error_is_said_above_the_last_facts(as_user: Any, alice: User, backend: Backend):
    info = {"filesystem": "ext4", "extents": 3, "exists": True, "error": "EIO <reading it>"}
    body = page(as_user, alice, backend, kind="file", info=info)

    assert f"{SAID}: EIO &lt;reading it&gt;." in body  # escaped, as every kind's words
    assert "<dt>Filesystem</dt><dd>ext4</dd>" in body
    assert "nor name its path" not in body


def test_a_path_that_could_not_be_named_is_said_too(as_user: Any, alice: User, backend: Backend):
    info = {"error": "no device", "swap_path": None, "swap_path_error": "sysfs unreadable"}
    body = page(as_user, alice, backend, kind="zram", info=info)

    assert f"{SAID}: no device; nor name its path: sysfs unreadable." in body


def test_a_path_that_could_not_be_named_is_said_alone(as_user, alice, backend):
    info = {"swap_path": None, "swap_path_error": "boot id <unreadable>", "size_bytes": 4096}
    body = page(as_user, alice, backend, kind="zram", info=info)

    said = "The worker could not name this store's path when it last described it"
    assert f"{said}: boot id &lt;unreadable&gt;." in body
    assert SAID not in body


@pytest.mark.parametrize(
    "info",
    [{"filesystem": "ext4"}, ["error"], "error", {"error": ""}, {"swap_path_error": ""}],
)
def test_nothing_is_said_without_an_error(as_user: Any, alice: User, backend: Backend, info: Any):
    body = page(as_user, alice, backend, kind="file", info=info)
    assert 'id="info-error"' not in body


def test_an_error_of_any_length_is_said_in_500_characters(as_user, alice, backend):
    body = page(as_user, alice, backend, kind="file", info={"error": "x" * 5000})
    assert f"{SAID}: {'x' * 499}…." in body
    assert "x" * 500 not in body
