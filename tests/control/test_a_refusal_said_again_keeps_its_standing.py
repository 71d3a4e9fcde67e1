"""A job that says a kind's error again with what is true of the area after it (this job
did not swap the area off; it was swapped off and could not be swapped on again) makes a
new error of the same standing: a refusal stays a refusal with its field, the kernel's
error keeps its errno and, when busy, is worth a later try, and anything else is named as
the plugin's bug. Before, a KernelError lost its errno, a bare OSError's EBUSY was never
tried again, a field that raised broke the job, and a bug read as a refusal (233/5)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from backends.errors import BackendError, KernelError, NotOursError, PluginError, field_of
from backends.plugins.file import FileBackend
from backends.policy import Policy
from swapadmin.core.handlers import _line_follows_the_row, _restated


@pytest.fixture
def plugin(tmp_path: Path) -> FileBackend:
    return FileBackend(
        {"path": str(tmp_path / "swapfile")},
        size_bytes=1 << 20,
        policy=Policy(swap_roots=(tmp_path,)),
    )


def said_again(plugin: FileBackend, e: Exception) -> BackendError:
    try:
        raise e
    except Exception as handled:
        return _restated(plugin, handled, "check_alone", then="This job did not swap it off.")


def test_a_refusal_stays_one_with_its_field(plugin: FileBackend) -> None:
    again = said_again(plugin, NotOursError("not ours", field="path"))
    assert type(again) is BackendError and again.field == "path"
    assert again.message == "not ours. This job did not swap it off."
    assert not again.retryable


def test_the_kernels_error_keeps_its_errno_and_its_retry(plugin: FileBackend) -> None:
    again = said_again(plugin, KernelError("busy.", errno=errno.EBUSY, retryable=True))
    assert isinstance(again, KernelError) and again.errno == errno.EBUSY and again.retryable
    assert again.message == "busy. This job did not swap it off."


@pytest.mark.parametrize(("code", "retry"), [(errno.EBUSY, True), (errno.ENOENT, False)])
def test_an_oserror_is_the_kernels_error_worth_a_try_when_busy(
    plugin: FileBackend, code: int, retry: bool
) -> None:
    e = OSError(code, "said by the kernel")  # its subclass for the errno, named
    again = said_again(plugin, e)
    assert isinstance(again, KernelError) and again.errno == code
    assert again.retryable is retry
    assert again.message.startswith(f"{type(e).__name__}: ")


def test_anything_else_is_named_as_the_plugins_bug(
    plugin: FileBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        again = said_again(plugin, ZeroDivisionError("oops"))
    assert type(again) is PluginError and not again.retryable
    assert again.message.startswith("check_alone failed unexpectedly for the file kind, a bug")
    assert "ZeroDivisionError: oops" in again.message
    assert any(r.exc_info for r in caplog.records)  # its traceback is logged


def test_a_field_that_raises_is_no_field(plugin: FileBackend) -> None:
    class Odd(BackendError):
        @property
        def field(self) -> str:  # type: ignore[override]
            raise RuntimeError("a third party's property")

        @field.setter
        def field(self, value: object) -> None:
            pass

    again = said_again(plugin, Odd("odd"))
    assert type(again) is BackendError and again.field is None


def test_a_refusal_that_never_set_itself_up_is_said_all_the_same(plugin: FileBackend) -> None:
    """A third party's BackendError whose ``__init__`` never called ours has no field, no
    words of its own: said by its type, no field, never an internal error (234/3)."""

    class NoInit(BackendError):
        def __init__(self) -> None:
            pass

    again = said_again(plugin, NoInit())
    assert type(again) is BackendError and again.field is None
    assert again.message == "NoInit. This job did not swap it off."
    assert field_of(NoInit()) is None
    assert _line_follows_the_row(NoInit())  # read guarded by the apply-now (234/3)
