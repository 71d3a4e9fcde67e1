"""Whether an area is active, when it cannot be told (observed indeterminate), is said in the
same words wherever a page names a backend's state: the state badge, the edit page's summary,
the dynamic swap policy's list of its files, and the overview's counts. Before, three of
them printed the raw "indeterminate", and the overview's "N of M backends active" counted
such an area with the inactive ones (review 158). The backend page's case is a guard: it
said "cannot tell" before. Nor does a badge say "asked: active" beside it (review 162/2),
which read as "it is off". After a count, the overview says "1 not known if active", not
"1 cannot tell if active" (review 165/8)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Host

pytestmark = pytest.mark.django_db

MiB = 1 << 20
WORDS = "cannot tell if active"
COUNTED = "not known if active"  # after a number


@pytest.fixture
def untold(observed_host: Host) -> Backend:
    policy = dynamic.policy_for(observed_host)
    return Backend.objects.create(
        host=observed_host,
        kind="file",
        name="dyn-1",
        dynamic_policy=policy,
        params={"path": "/x/dyn-1"},
        size_bytes=64 * MiB,
        observed_state=Backend.Observed.INDETERMINATE,
        observed_error="cannot tell whether the file area is active: no boot id",
    )


def _text(html: str) -> str:
    """What a reader sees: the markup's text, without tags or their attributes."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html))


@pytest.mark.parametrize(
    ("page", "words"),
    [
        pytest.param(lambda b: reverse("backend", args=[b.uuid]), WORDS, id="backend"),
        pytest.param(lambda b: reverse("backend-edit", args=[b.uuid]), WORDS, id="edit"),
        pytest.param(lambda b: reverse("host", args=[b.host.uuid]), WORDS, id="host"),
        pytest.param(lambda b: reverse("overview"), COUNTED, id="overview"),
    ],
)
def test_every_page_says_it_in_words(
    as_user: Any, alice, untold: Backend, page, words: str
) -> None:
    r = as_user(alice).get(page(untold))
    assert r.status_code == 200
    text = _text(r.content.decode())
    assert words in text
    assert "indeterminate" not in text


def test_the_dynamic_policys_files_say_it(as_user: Any, alice, untold: Backend) -> None:
    html = as_user(alice).get(reverse("host", args=[untold.host.uuid])).content.decode()
    files = html[html.index("Its files:") :].split("</p>", 1)[0]
    assert 'data-dynamic-file="dyn-1"' in files
    assert WORDS in _text(files)


def test_the_overview_counts_it_apart_from_the_inactive(
    as_user: Any, alice, untold: Backend
) -> None:
    Backend.objects.create(host=untold.host, kind="file", name="on", params={"path": "/x/on"},
                           size_bytes=MiB, observed_state=Backend.Observed.ACTIVE)  # fmt: skip
    text = _text(as_user(alice).get(reverse("overview")).content.decode())
    assert f"1 of 2 backends active · 1 {COUNTED}" in text
    assert f"1 active · 1 {COUNTED}" in text
    assert WORDS not in text


def test_the_overview_counts_a_store_not_their_own_in_words(
    as_user: Any, alice, untold: Backend
) -> None:
    # The badge's "not this backend's store" after a count read "1 not this backend's
    # store" (review 162/10).
    Backend.objects.filter(pk=untold.pk).update(observed_state=Backend.Observed.FOREIGN)
    text = _text(as_user(alice).get(reverse("overview")).content.decode())
    assert "1 on a store not their own" in text
    assert "not this backend's store" not in text


def test_its_badge_does_not_say_asked_active(as_user: Any, alice, untold: Backend) -> None:
    Backend.objects.filter(pk=untold.pk).update(desired_state=Backend.Desired.ACTIVE)
    html = as_user(alice).get(reverse("backend", args=[untold.uuid])).content.decode()
    assert WORDS in _text(html)
    assert "asked: active" not in _text(html)
