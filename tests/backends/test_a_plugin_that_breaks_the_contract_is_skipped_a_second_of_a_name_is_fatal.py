"""Kinds come from the ``swapadmin.backends`` entry points. A package whose kind breaks the
contract is skipped with the reason logged, so one broken package does not take the
built-in kinds down; two packages that claim one kind name stop the load, since serving
either one's rows with the other's code would be a guess."""

from __future__ import annotations

import functools
import importlib
import sys
from importlib.metadata import EntryPoint

import pytest
from django.utils.functional import cached_property as django_cached_property

from backends.plugins.file import FileBackend
from backends.registry import DuplicateKind, Registry, kind_says

HERE = __name__
# The module, not the function that backends exports under the same name.
registry_module = importlib.import_module("backends.registry")


class NotAFlag(FileBackend):
    name = "not-a-flag"
    label = "Not a flag"
    takes_size = "yes"  # type: ignore[assignment]


class MountsByProperty(FileBackend):
    """A flag read on the class as a property object: the sampler's ``is True`` would read
    it as False, and a hidden store as gone (review 183/3)."""

    name = "mounts-by-property"
    label = "Mounts by property"
    beneath_mounts = property(lambda self: True)  # type: ignore[assignment]


class AnotherFile(FileBackend):
    name = "file"
    label = "A third party's file"


def entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, registry_module.GROUP)


def load(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> Registry:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(entries))
    reg = Registry()
    reg.load_entry_points()
    return reg


BUILT_IN_FILE = entry("file", "backends.plugins.file:FileBackend")


def test_a_kind_that_breaks_the_contract_is_skipped_and_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reg = load(monkeypatch, entry("not-a-flag", f"{HERE}:NotAFlag"), BUILT_IN_FILE)
    assert "not-a-flag" not in reg and "file" in reg
    assert "takes_size must be a class attribute" in caplog.text


def test_whether_a_kinds_store_is_beneath_the_mounts_is_a_plain_flag(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reg = load(monkeypatch, entry("mounts-by-property", f"{HERE}:MountsByProperty"))
    assert "mounts-by-property" not in reg
    assert "beneath_mounts must be a class attribute" in caplog.text


@pytest.mark.parametrize("first_loaded", ["built-in", "third party"])
def test_two_kinds_of_one_name_stop_the_load_whichever_comes_first(
    monkeypatch: pytest.MonkeyPatch, first_loaded: str
) -> None:
    third = entry("file", f"{HERE}:AnotherFile")
    entries = (BUILT_IN_FILE, third) if first_loaded == "built-in" else (third, BUILT_IN_FILE)
    with pytest.raises(DuplicateKind) as refused:
        load(monkeypatch, *entries)
    said = str(refused.value)
    assert "backends.plugins.file.FileBackend" in said and f"{HERE}.AnotherFile" in said
    assert "uninstall one" in said and "comes from" in said


class RaisesOnLook(type):
    @property
    def persistable(cls) -> bool:
        raise ValueError("not a flag today")


def test_a_kind_whose_check_fails_any_way_is_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Odd(FileBackend, metaclass=type("Meta", (RaisesOnLook, type(FileBackend)), {})):
        name = "odd"
        label = "Odd"

    monkeypatch.setattr(sys.modules[__name__], "Odd", Odd, raising=False)
    reg = load(monkeypatch, entry("odd", f"{HERE}:Odd"), BUILT_IN_FILE)
    assert "odd" not in reg and "file" in reg
    assert "not a flag today" in caplog.text


class HiddenByFlag(FileBackend):
    """A flag of its own under a hook's name: every destroy of it failed, said as its fault,
    and it could never be destroyed (review 187/4)."""

    name = "hidden-by-flag"
    label = "Hidden by flag"
    hidden = False  # type: ignore[assignment]


class HiddenByProperty(FileBackend):
    name = "hidden-by-property"
    label = "Hidden by property"
    hidden = property(lambda self: None)  # type: ignore[assignment]


class VerifiedStatically(FileBackend):
    """A hook may be a static or class method of the kind's own, or any descriptor that
    binds as a method does (a partialmethod, an lru_cache): that is still a method."""

    name = "verified-statically"
    label = "Verified statically"

    @staticmethod
    def verify() -> None:  # type: ignore[override]
        return None

    def _described(self, extra: int) -> dict[str, object]:
        return {"extra": extra}

    describe = functools.partialmethod(_described, 1)  # type: ignore[assignment]
    capacity_bytes = functools.lru_cache(lambda self: 0)  # type: ignore[assignment]
    swap_in = functools.singledispatchmethod(lambda self, slot: b"")  # type: ignore[assignment]


def _kind(name: str, **attrs: object) -> type[FileBackend]:
    return type(name, (FileBackend,), {"name": name.lower(), "label": name, **attrs})


class _CalledWithNothing:
    def __call__(self) -> None:
        return None


def _spec_without_the_uuid(cls: object, params: object) -> str:
    return "LABEL=x"


# What loaded before and failed every call of it, as the kind's fault, once a job got there
# (reviews 187/4, 189/1, 189/2, 189/5).
BROKEN = {
    "HiddenByFlag": "hidden must be a method, as SwapBackend.hidden is, not bool",
    "HiddenByProperty": "hidden must be a method, as SwapBackend.hidden is, not property",
    "HiddenByPartial": "hidden must be a method, as SwapBackend.hidden is, not partial",
    "HiddenByObject": "hidden must be a method, as SwapBackend.hidden is, not _CalledWithNothing",
    "HiddenByStaticFlag": "hidden must be a method, as SwapBackend.hidden is, not a bool",
    "VerifyStaticWithSelf": "verify must take every argument SwapBackend.verify() is given",
    "SpecNotOnTheClass": "fstab_spec must be a classmethod or staticmethod",
    "SpecWithoutTheUuid": "fstab_spec must take every argument SwapBackend.fstab_spec(params, "
    "swap_uuid) is given",
    # The author's commonest slip: no ``self`` (review 191/1).
    "HiddenWithoutSelf": "hidden cannot take the instance it is called on",
    "HiddenKeywordOnly": "hidden cannot take the instance it is called on",
    # The base's ``**fields`` are passed (review 191/2).
    "RecordWithoutFields": "update_record must take every argument SwapBackend.update_record("
    "**fields) is given",
    # A value where a method is, however it is cached (review 193/3).
    "HiddenCached": "hidden must be a method, as SwapBackend.hidden is, not cached_property",
    # A subclass of it too: its ``__get__`` needs a real instance, so it was taken for a
    # descriptor of the kind's own that only a call could judge (review 194/3).
    "HiddenCachedOfItsOwn": "hidden must be a method, as SwapBackend.hidden is, not Memoised",
    # Django's, no subclass of functools', and a descriptor of the kind's own: judged only
    # by binding them to a stand-in, which ran the kind's code at load (review 199/1).
    "HiddenCachedByDjango": "hidden must be a method, as SwapBackend.hidden is, not "
    "cached_property (a descriptor swapadmin cannot judge",
    "HiddenByDescriptor": "hidden must be a method, as SwapBackend.hidden is, not _Lookup",
    # Nothing to dispatch on: hidden() is called without an argument (review 193/4).
    "HiddenDispatched": "hidden is a singledispatchmethod, but SwapBackend.hidden may be called",
    # Every plugin is built by one call (review 191/4).
    "BuiltWithMore": "__init__ must take every argument SwapBackend.__init__(params, *, "
    "size_bytes=None",
    "PathByMethod": "swap_path must be a property, as SwapBackend.swap_path is, not a method",
}
HiddenByPartial = _kind("HiddenByPartial", hidden=functools.partial(lambda self: None))
HiddenByObject = _kind("HiddenByObject", hidden=_CalledWithNothing())
HiddenByStaticFlag = _kind("HiddenByStaticFlag", hidden=staticmethod(False))  # type: ignore[arg-type]
VerifyStaticWithSelf = _kind("VerifyStaticWithSelf", verify=staticmethod(lambda self: None))
SpecNotOnTheClass = _kind("SpecNotOnTheClass", fstab_spec=lambda self, params, uuid: None)
SpecWithoutTheUuid = _kind("SpecWithoutTheUuid", fstab_spec=classmethod(_spec_without_the_uuid))
PathByMethod = _kind("PathByMethod", swap_path=lambda self: "/x")
HiddenCached = _kind("HiddenCached", hidden=functools.cached_property(lambda self: None))


class Memoised(functools.cached_property):  # type: ignore[type-arg]
    """A library's cached_property of its own: still a value, not a method."""


HiddenCachedOfItsOwn = _kind("HiddenCachedOfItsOwn", hidden=Memoised(lambda self: None))
#: Every call of a kind's code made while kinds were loaded.
RAN_AT_LOAD: list[str] = []


def _ran(self: object) -> None:
    RAN_AT_LOAD.append(type(self).__name__)


class _Lookup:
    """A descriptor of a kind's own, which runs its code when it is bound."""

    def __get__(self, instance: object, owner: type | None = None) -> object:
        _ran(instance)
        return lambda: None


HiddenCachedByDjango = _kind("HiddenCachedByDjango", hidden=django_cached_property(_ran))
HiddenByDescriptor = _kind("HiddenByDescriptor", hidden=_Lookup())
HiddenDispatched = _kind(
    "HiddenDispatched", hidden=functools.singledispatchmethod(lambda self, x=None: None)
)
HiddenWithoutSelf = _kind("HiddenWithoutSelf", hidden=lambda: None)
HiddenKeywordOnly = _kind("HiddenKeywordOnly", hidden=lambda *, x=1: None)
RecordWithoutFields = _kind("RecordWithoutFields", update_record=lambda self: None)
BuiltWithMore = _kind("BuiltWithMore", __init__=lambda self, params, daemon, **kw: None)


@pytest.mark.parametrize("cls", sorted(BROKEN))
def test_a_kind_whose_hook_cannot_be_called_as_the_contract_says_is_skipped_and_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, cls: str
) -> None:
    name = globals()[cls].name
    reg = load(
        monkeypatch,
        entry(name, f"{HERE}:{cls}"),
        entry("verified-statically", f"{HERE}:VerifiedStatically"),
    )
    assert name not in reg and "verified-statically" in reg
    assert f"{cls}.{BROKEN[cls]}" in caplog.text
    assert RAN_AT_LOAD == []


def test_a_flag_is_asked_by_a_name_of_the_contract() -> None:
    """A caller's typo fails wherever it runs, not only on a host where the kind is."""
    with pytest.raises(ValueError, match="'beneath_mount' is not a flag of a kind"):
        kind_says("no-such-kind", "beneath_mount")
    assert kind_says("file", "beneath_mounts") is True
    assert kind_says("block", "beneath_mounts") is False
    assert kind_says("no-such-kind", "beneath_mounts") is False
