"""A kind's plugin answers for its fstab spec and for the size of an area being adopted; when
its answer fails, the job fails with an error that names the kind and what it was asked,
not an internal error of the worker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from backends import BackendError
from backends.plugins.file import FileBackend
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job


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


class Recording(Failing):
    """A failing kind whose store is always this backend's, and that records what the job
    did to the host."""

    name = "recording"
    calls: list[str]

    def hidden(self) -> None:
        self.calls.append("hidden")  # its store is never beneath a mount that is missing

    def verify(self, **kw: object) -> None:
        self.calls.append("verify")

    def swapfile(self, enable: bool) -> None:
        self.calls.append(f"swapfile({enable})")


class Ctx:
    """The few parts of a job's context that provision and destroy use before the hook."""

    def __init__(self, backend: Backend, plugin: FileBackend) -> None:
        self.backend, self.plugin = backend, plugin
        self.job = Job(params={})  # only its params are read
        self.said: list[str] = []

    def require_plugin(self) -> FileBackend:
        return self.plugin

    def step(self, percent: float, message: str) -> None:
        self.said.append(message)

    def log(self, message: str) -> None:
        self.said.append(message)

    def check_cancel(self) -> None:
        pass

    def save_backend(self, **fields: Any) -> None:
        raise AssertionError("nothing is saved before the hook is asked")


@pytest.mark.parametrize("job", ["provision", "destroy"])
def test_a_failing_hook_stops_the_job_before_the_host_changes(
    job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = plugin_of(Recording)
    plugin.calls = []
    # The area active, so that a destroy that asked too late would have swapped it off.
    monkeypatch.setattr(handlers, "_active_area", lambda p: object())
    monkeypatch.setattr(handlers, "_swapoff", lambda ctx, p, **kw: p.calls.append("swapoff"))
    backend = row(Recording.name)
    backend.persist = True
    backend.provisioned_at = timezone.now()
    with pytest.raises(BackendError, match="the recording plugin failed to say"):
        getattr(handlers, job)(Ctx(backend, plugin))
    # destroy first asks whether its store may be hidden and proves it its own (reads),
    # then asks the hook; neither took, swapped off or released anything.
    assert plugin.calls == ([] if job == "provision" else ["hidden", "verify"])


@pytest.mark.parametrize("persist", [False, True])
def test_destroy_skips_a_failing_hook_only_for_a_backend_never_kept_in_the_fstab(
    persist: bool,
) -> None:
    # Never kept there, it has no line of its own to remove: a hook that always fails
    # must not keep its row undestroyable.
    backend = row(Recording.name)
    backend.persist = persist
    ctx = Ctx(backend, plugin_of(Recording))
    if persist:
        with pytest.raises(BackendError, match="the recording plugin failed to say"):
            handlers._destroy_spec(ctx, ctx.plugin)  # type: ignore[arg-type]
    else:
        assert handlers._destroy_spec(ctx, ctx.plugin) is None  # type: ignore[arg-type]
        assert any("it was never kept there" in said for said in ctx.said)
