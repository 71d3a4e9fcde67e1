"""What a third party's kind says badly, when it describes its store or names its path, is
said on the row, never raised out of the look or the job (review 172).

A ``describe`` that returned no mapping raised out of the observer's look (nothing written,
a traceback every sample turn for a flagged backend); a job's description took only
BackendError and OSError, so any other exception after mkswap left the job's work unsaved;
a path named as a ``Path`` or an empty string was written as named, and the row then fell
back to its params' guess. And a failed description blanked the last one's facts.

Review 173: a description no row can hold (a value JSON cannot say, NaN, a NUL, text that is
not UTF-8) failed the row's write after the kernel work all the same; an exception whose
words raise escaped the very code that says it; a job's failed description still blanked
the facts; the health check and a job's own path check took a kind's other exceptions, and
an empty path, as before; the settle's warnings for reasons that alternate were logged
every turn; and the merge overlaid the caller's copy of the row, not the row as written.

Review 174/9: a kind's own ``error`` key read as a description that failed. Review 173/5: a
reason the settle logged was not logged again once the backend was flagged again."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from backends import BackendError
from swapadmin.core import orphans
from swapadmin.core.handlers import _info, _label_of, _swap_path
from swapadmin.core.models import Backend
from swapadmin.core.observe import (
    DESCRIPTION_LIMIT,
    SAID_LIMIT,
    describe,
    failed_description,
    named_path,
    read_observation,
    said,
    write_observation,
)
from swapadmin.health.probes import target_for
from tests.control.test_run_job_directly import backend_on
from tests.fixtures.plain_kind import PlainFile


class _Says(PlainFile):
    """A kind whose ``describe`` gives ``described`` (raised if an exception) and whose
    path is ``path`` (raised if an exception)."""

    name = "says-badly"
    described: Any = None
    path: Any = None

    def describe(self) -> Any:
        if isinstance(self.described, BaseException):
            raise self.described
        return self.described

    def swap_path_if_any(self) -> Any:
        if isinstance(self.path, BaseException):
            raise self.path
        return self.path


def says(described: Any, path: Any) -> _Says:
    kind = _Says({"path": "/nowhere/s"})
    kind.described, kind.path = described, path
    return kind


@pytest.mark.parametrize(
    ("described", "why"),
    [
        (None, "the kind described its store as a NoneType, not a dict"),
        (["a", "list"], "the kind described its store as a list, not a dict"),
        (KeyError("size"), "KeyError: 'size'"),
        (OSError(5, "Input/output error"), "[Errno 5] Input/output error"),
    ],
)
def test_a_description_that_is_no_mapping_or_raises_is_said(described: Any, why: str) -> None:
    assert describe(says(described, "/dev/x")) == (None, why)


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/dev/x", ("/dev/x", None)),
        (None, (None, None)),  # no device now: nothing of it can be active
        ("", (None, "the kind named '' as its path, which is no path")),
        (
            Path("/dev/x"),
            (None, "the kind named PosixPath('/dev/x') as its path, which is no path"),
        ),
        (TypeError("state is a list"), (None, "TypeError: state is a list")),
    ],
)
def test_a_path_is_a_non_empty_string_or_none_else_it_is_said(path: Any, named: Any) -> None:
    assert named_path(says({}, path)) == named


def test_a_jobs_failed_description_names_the_path_or_why_not() -> None:
    assert _info(says(ValueError("bad"), "/dev/x")) == {
        "error": "ValueError: bad",
        "swap_path": "/dev/x",
    }
    # Over the row's last facts, as the observer keeps them (review 173/4).
    assert _info(says(ValueError("bad"), "/dev/x"), {"extents": 1, "error": "old"}) == {
        "extents": 1,
        "error": "ValueError: bad",
        "swap_path": "/dev/x",
    }
    assert _info(says(ValueError("bad"), "")) == {
        "error": "ValueError: bad",
        "swap_path": None,
        "swap_path_error": "the kind named '' as its path, which is no path",
    }


def test_a_failed_description_keeps_the_last_ones_facts() -> None:
    last = {"swap_path": "/dev/old", "extents": 1, "swap_path_error": "old"}

    assert failed_description(last, "EIO", "/dev/x") == {
        "swap_path": "/dev/x",
        "extents": 1,
        "error": "EIO",
    }
    assert failed_description(["not", "a", "mapping"], "EIO", None) == {
        "swap_path": None,
        "error": "EIO",
    }


class _Wordless(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no words")


class _Unset(BackendError):
    def __init__(self) -> None:  # never sets ``message``
        Exception.__init__(self)


@pytest.mark.parametrize(
    ("e", "text"),
    [
        (_Wordless(), "_Wordless"),
        (_Unset(), "_Unset"),
        (ValueError("bad \udcff name"), "ValueError: bad \\xff name"),
        (OSError(5, "Input/output error"), "[Errno 5] Input/output error"),
        (ValueError("a\x00b"), "ValueError: a\\x00b"),  # PostgreSQL keeps no NUL in text
    ],
)
def test_an_exceptions_words_never_raise_and_are_text_a_row_holds(e: Exception, text: str):
    assert said(e) == text


def test_an_exceptions_words_are_bounded() -> None:
    text = said(ValueError("x" * 10_000))
    assert len(text) == SAID_LIMIT
    assert text.endswith("…")


@pytest.mark.parametrize(
    ("described", "why"),
    [
        ({"path": Path("/x")}, "cannot be kept as JSON: TypeError: Object of type PosixPath"),
        ({"ratio": float("nan")}, "cannot be kept as JSON: ValueError: Out of range float"),
        ({"name": "a\udcffb"}, "cannot be kept as JSON: UnicodeEncodeError: 'utf-8' codec"),
        ({("a", "b"): 1}, "cannot be kept as JSON: TypeError: keys must be str"),
        ({"name": "a\x00b"}, "the kind's description holds a NUL"),
        ({"blob": "x" * DESCRIPTION_LIMIT}, f"more than the {DESCRIPTION_LIMIT} a row keeps"),
        # Every reader takes a row's ``error`` for a description not read (review 174/9).
        ({"error": None, "extents": 1}, 'the kind\'s description has a key "error"'),
    ],
)
def test_a_description_no_row_can_hold_is_said(described: Any, why: str) -> None:
    got, failed = describe(says(described, "/dev/x"))
    assert got is None
    assert failed is not None and why in failed, failed


def test_a_backslash_before_u0000_is_no_nul() -> None:
    assert describe(says({"pattern": "\\u0000"}, "/dev/x")) == ({"pattern": "\\u0000"}, None)


def test_a_size_read_before_is_not_kept_over_the_rows() -> None:
    """A resize whose description then failed: the metrics and the used fraction take the
    description's size before the row's column (review 174/4)."""
    assert "size_bytes" not in failed_description({"size_bytes": 1, "extents": 1}, "EIO", None)


class _Unshowable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/dev/x\x00y", "the kind named '/dev/x\\x00y' as its path, which is no path"),
        (_Unshowable(), "the kind named a _Unshowable as its path, which is no path"),
        (_Wordless(), "_Wordless"),
        ("/dev/x\udcff", "the kind named '/dev/x\\udcff' as its path, which is no path"),
    ],
)
def test_a_path_that_cannot_be_shown_is_said_all_the_same(path: Any, why: str) -> None:
    assert named_path(says({}, path)) == (None, why)


def test_a_jobs_path_that_is_no_path_is_refused() -> None:
    with pytest.raises(BackendError, match="the kind named '' as its path, which is no path"):
        _swap_path(says({}, ""))
    assert _swap_path(says({}, None)) is None


@pytest.mark.django_db
def test_the_health_check_says_a_path_a_kind_could_not_name(host_row, swap_root) -> None:
    backend = backend_on(host_row, swap_root / "s")
    target = target_for(backend, says({}, TypeError("state is a list")), "")
    assert target.swap_path is None
    assert target.path_error == "TypeError: state is a list"


@pytest.mark.django_db
def test_the_looks_failed_description_keeps_the_rows_facts_as_written(host_row, swap_root):
    backend = backend_on(host_row, swap_root / "s", info={"extents": 1})
    # Another job wrote a newer description after this copy of the row was loaded.
    Backend.objects.filter(pk=backend.pk).update(info={"extents": 2, "filesystem": "xfs"})

    fields = read_observation(backend, says(None, str(swap_root / "s")))
    write_observation(backend, fields)

    assert Backend.objects.get(pk=backend.pk).info == {
        "extents": 2,
        "filesystem": "xfs",
        "error": "the kind described its store as a NoneType, not a dict",
        "swap_path": str(swap_root / "s"),
    }
    # A good description after it is the row's description, whole: the error is gone.
    write_observation(backend, read_observation(backend, says({"extents": 3}, "/dev/x")))
    assert Backend.objects.get(pk=backend.pk).info == {"extents": 3}


def _row(pk: int, generation: int = 0) -> Backend:
    """A flagged backend (as the settle tries it every turn) at flag ``generation``."""
    return Backend(pk=pk, reread_generation=generation, reread_before_next_job=True)


def test_each_reason_is_warned_once_until_the_backend_is_read(caplog, monkeypatch) -> None:
    monkeypatch.setattr(orphans, "_WARNED", {})
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        for reason in ("A", "B", "A", "B", "A"):
            orphans._warn_once(_row(7), "cannot be read again", reason)
        assert [r.getMessage()[-1] for r in caplog.records] == ["A", "B"]
        orphans._WARNED.pop(7)  # what a read does (``_read_again``)
        orphans._warn_once(_row(7), "cannot be read again", "A")
    assert [r.getMessage()[-1] for r in caplog.records] == ["A", "B", "A"]


def test_a_reason_is_warned_again_once_the_backend_is_flagged_again(caplog, monkeypatch):
    """A job read the backend, or failed on it, since the reason was logged (its flag's
    generation moved on): the settle's failing look is news again (review 173/5)."""
    monkeypatch.setattr(orphans, "_WARNED", {})
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        orphans._warn_once(_row(7, 1), "cannot be read again", "A")
        orphans._warn_once(_row(7, 1), "cannot be read again", "A")
        orphans._warn_once(_row(7, 2), "cannot be read again", "A")
        orphans._warn_once(_row(7, 2), "cannot be read again", "A")
    assert [r.getMessage()[-1] for r in caplog.records] == ["A", "A"]


def test_twenty_reasons_in_turn_are_each_warned_once(caplog, monkeypatch) -> None:
    """The bound on a backend's reasons starts them again only when a new one comes: 20 in
    turn were each logged every turn (review 177/6)."""
    monkeypatch.setattr(orphans, "_WARNED", {})
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        for _ in range(3):
            for n in range(20):
                orphans._warn_once(_row(7), "cannot be read again", str(n))
    assert len(caplog.records) == 20


@pytest.mark.django_db
def test_the_settles_own_flag_does_not_make_its_reason_news(caplog, monkeypatch, host_row):
    """The settle's look at a failed job's backend fails, then the job's failure flags the
    backend (a new generation): what it logged stands for that generation, or the next
    turn logged it again (review 177/7)."""
    monkeypatch.setattr(orphans, "_WARNED", {})
    backend = backend_on(host_row, "/nowhere/s")
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        orphans._warn_once(backend, "cannot be read again", "A")
        orphans.flag(backend.pk)
        orphans._carry_warned({backend.pk})
        orphans._warn_once(Backend.objects.get(pk=backend.pk), "cannot be read again", "A")
        assert len(caplog.records) == 1
        orphans.flag(backend.pk)  # a job's: news again
        orphans._warn_once(Backend.objects.get(pk=backend.pk), "cannot be read again", "A")
    assert len(caplog.records) == 2


def test_a_reason_is_warned_again_once_a_job_read_the_backend(caplog, monkeypatch) -> None:
    """A job's look cleared the flag (no new generation: it was read, not flagged); when
    the settle next cannot read it, that is news (review 179/3)."""
    monkeypatch.setattr(orphans, "_WARNED", {})
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        orphans._warn_once(_row(7, 1), "cannot be read again", "A")
        read = Backend(pk=7, reread_generation=1, reread_before_next_job=False)
        orphans._warn_once(read, "cannot be read again", "A")
    assert len(caplog.records) == 2


def test_a_backend_with_many_reasons_starts_only_its_own_again(caplog, monkeypatch) -> None:
    monkeypatch.setattr(orphans, "_WARNED", {})
    orphans._warn_once(_row(8), "cannot be read again", "other's")
    for n in range(25):
        orphans._warn_once(_row(7), "cannot be read again", str(n))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=orphans.log.name):
        orphans._warn_once(_row(8), "cannot be read again", "other's")
    assert caplog.records == []


class _NoFile(_Says):
    @property
    def file_path(self) -> str:
        raise RuntimeError("params hold no path")


def test_a_steps_label_is_found_whatever_the_kind_raises() -> None:
    """Destroy names the store in its step after the store was released: a label a kind
    cannot give stops nothing half-way (reviews 174/3, 176/3)."""
    kind = _NoFile({"path": "/nowhere/s"})
    kind.described, kind.path = {}, "/dev/x"
    assert _label_of(kind, "b1") == "/dev/x"
    kind.path = TypeError("state is a list")
    assert _label_of(kind, "b1") == "b1"
