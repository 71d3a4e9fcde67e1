"""Which kind an area found on the host is (adoption) is the plugins' answer, not a switch
in the control plane: each kind claims a path by its name (``adoption_claim``: 0 not at
all, a family of devices above any device or any file), the closest claim adopts it
(``adopt``), two equal claims refuse it, and a third party's kind can claim its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backends import BackendError, Policy
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core import handlers

BUILT_IN = (FileBackend, BlockBackend, LoopBackend, ZramBackend)


@pytest.mark.parametrize(
    ("path", "claims"),
    [
        ("/dev/loop3", {"loop": 2, "block": 1}),
        ("/dev/zram1", {"zram": 2, "block": 1}),
        ("/dev/vdb", {"block": 1}),
        ("/srv/swap/a.swap", {"file": 1}),
    ],
)
def test_each_built_in_kind_claims_by_the_name(path: str, claims: dict[str, int]) -> None:
    said = {cls.name: cls.adoption_claim(path) for cls in BUILT_IN}
    assert {k: v for k, v in said.items() if v} == claims


class Tenant(FileBackend):
    """A third party's kind for files under a tenant directory."""

    name = "tenant"
    label = "Tenant file"

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 2 if "/tenant/" in path else 0

    @classmethod
    def adopt(cls, path: str, policy: Policy, *, active: bool) -> Any:
        return {"path": path}, {"tenant": "blue"}


class Rival(Tenant):
    name = "rival"
    label = "Rival"


class Careless(FileBackend):
    name = "careless"
    label = "Careless"

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return True  # type: ignore[return-value]  # a bool is no claim


class Buggy(Tenant):
    name = "buggy"
    label = "Buggy"

    @classmethod
    def adopt(cls, path: str, policy: Policy, *, active: bool) -> Any:
        raise KeyError("tenant")


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(*classes: type[FileBackend]) -> None:
        reg = Registry()
        for cls in (*BUILT_IN, *classes):
            reg.register(cls)
        monkeypatch.setattr(handlers, "registry", lambda: reg)

    return install


def adopt(path: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return handlers._kind_for(str(path), Policy(swap_roots=()), active=True)


def test_a_third_party_kind_adopts_what_it_claims_most_closely(kinds: Any) -> None:
    kinds(Tenant)
    assert adopt(Path("/srv/tenant/a.swap")) == (
        "tenant",
        {"path": "/srv/tenant/a.swap"},
        {"tenant": "blue"},
    )


def test_two_equal_claims_adopt_nothing(kinds: Any) -> None:
    kinds(Tenant, Rival)
    with pytest.raises(BackendError, match="claimed alike by the rival and tenant kinds"):
        adopt(Path("/srv/tenant/a.swap"))


def test_a_claim_that_is_not_a_number_names_the_kind(kinds: Any) -> None:
    kinds(Careless)
    with pytest.raises(BackendError, match="the careless plugin answered its claim"):
        adopt(Path("/srv/tenant/a.swap"))


def test_a_kind_that_fails_to_adopt_names_itself(kinds: Any) -> None:
    kinds(Buggy)
    with pytest.raises(BackendError, match="the buggy plugin failed to say how it adopts"):
        adopt(Path("/srv/tenant/a.swap"))


def test_nothing_is_adopted_that_no_kind_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry()
    reg.register(BlockBackend)
    monkeypatch.setattr(handlers, "registry", lambda: reg)
    with pytest.raises(BackendError, match="no kind installed here adopts /srv/a.swap"):
        adopt(Path("/srv/a.swap"))
