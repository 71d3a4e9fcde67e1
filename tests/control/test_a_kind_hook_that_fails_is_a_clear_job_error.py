"""A kind's plugin answers for its fstab spec and for the size of an area being adopted; when
its answer fails, the job fails with an error that names the kind and what it was asked,
not an internal error of the worker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backends import BackendError
from backends.plugins.file import FileBackend
from swapadmin.core import handlers
from swapadmin.core.models import Backend


class Failing(FileBackend):
    name = "failing"
    label = "Failing"

    @classmethod
    def fstab_spec(cls, params: Any, swap_uuid: str | None) -> str | None:
        raise KeyError("device")

    @classmethod
    def existing_size(cls, path: str, params: Any) -> int | None:
        raise ValueError("invalid literal for int() with base 10: 'lots'")


class Garbled(FileBackend):
    name = "garbled"
    label = "Garbled"

    @classmethod
    def fstab_spec(cls, params: Any, swap_uuid: str | None) -> str | None:
        return 42  # type: ignore[return-value]


def plugin_of(cls: type[FileBackend]) -> FileBackend:
    plugin = cls.__new__(cls)  # only its class and params are asked
    plugin.params = {"path": "/srv/swap/a.swap"}
    return plugin


def row(kind: str) -> Backend:
    return Backend(kind=kind, name="a", swap_uuid=uuid.uuid4(), params={}, state={})


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (Failing, "the failing plugin failed to say how the fstab names a: KeyError"),
        (Garbled, "the garbled plugin named its fstab line with 42"),
    ],
)
def test_an_fstab_spec_that_fails_names_the_kind(cls: type[FileBackend], words: str) -> None:
    with pytest.raises(BackendError, match=words):
        handlers._fstab_spec(row(cls.name), plugin_of(cls))


def test_the_built_in_answer_comes_from_the_plugins_own_params() -> None:
    assert handlers._fstab_spec(row("file"), plugin_of(FileBackend)) == "/srv/swap/a.swap"


def test_a_size_that_fails_to_read_names_the_area() -> None:
    with pytest.raises(BackendError, match="cannot read the size of /dev/x: invalid literal"):
        handlers._existing_size(Failing, "/dev/x", {})
