"""The four built-in kinds arrive through the entry points, as a third party's would, and
the registry takes no new kind once loaded."""

from __future__ import annotations

import pytest

from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry, RegistryFrozen, registry


def test_it_loads_the_four_kinds() -> None:
    reg = registry()
    assert reg.frozen
    assert reg.get("file") is FileBackend
    assert reg.get("loop") is LoopBackend
    assert reg.get("block") is BlockBackend
    assert reg.get("zram") is ZramBackend


def test_each_kind_declares_its_form() -> None:
    for cls in (FileBackend, LoopBackend, BlockBackend, ZramBackend):
        assert cls.label and cls.description
        for p in cls.parameters:
            assert p.schema()["title"] == p.label
    assert [p.name for p in BlockBackend.parameters] == ["device"]
    assert not BlockBackend.takes_size and FileBackend.resizable and ZramBackend.resizable


def test_it_refuses_registration_after_freeze() -> None:
    class Extra(FileBackend):
        name = "extra"
        label = "Extra"

    with pytest.raises(RegistryFrozen, match="cannot register 'extra': the registry is frozen"):
        registry().register(Extra)
    assert "extra" not in registry()


def test_a_fresh_registry_takes_kinds_until_frozen() -> None:
    reg = Registry()
    reg.register(FileBackend)
    reg.freeze()
    with pytest.raises(RegistryFrozen):
        reg.register(ZramBackend)
    assert [c.name for c in reg] == ["file"]
