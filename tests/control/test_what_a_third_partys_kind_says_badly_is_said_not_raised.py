"""What a third party's kind says badly, when it describes its store or names its path, is
said on the row, never raised out of the look or the job (review 172).

A ``describe`` that returned no mapping raised out of the observer's look (nothing written,
a traceback every sample turn for a flagged backend); a job's description took only
BackendError and OSError, so any other exception after mkswap left the job's work unsaved;
a path named as a ``Path`` or an empty string was written as named, and the row then fell
back to its params' guess. And a failed description blanked the last one's facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swapadmin.core.handlers import _info
from swapadmin.core.observe import describe, failed_description, named_path
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
        (None, "the kind described its store as a NoneType, not a mapping"),
        (["a", "list"], "the kind described its store as a list, not a mapping"),
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
