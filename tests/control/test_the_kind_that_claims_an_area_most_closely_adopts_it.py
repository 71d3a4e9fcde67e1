"""Which kind an area found on the host is (adoption) is the plugins' answer, not a switch
in the control plane: each kind claims a path by its name (``adoption_claim``: 0 not at
all, a family of devices above any device or any file), the closest claim adopts it
(``adopt``), two equal claims refuse it, and a third party's kind can claim its own."""

from __future__ import annotations

import os
import subprocess
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
from tests.fixtures.by_hand import zram_devices

BUILT_IN = (FileBackend, BlockBackend, LoopBackend, ZramBackend)
#: A disksize no other test gives a zram device.
ZRAM_SIZE = 19 << 20


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

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return Tenant.adoption_claim(path)  # its own answer: none is inherited


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
    def adoption_claim(cls, path: str) -> int:
        return Tenant.adoption_claim(path)  # its own answer: none is inherited

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


def adopt(path: Path, active: bool = False) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """What discovery makes of ``path``, an area named by an fstab line, not active."""
    return handlers._kind_for(str(path), Policy(swap_roots=()), active=active)


@pytest.fixture
def tenant_swap(tmp_path: Path) -> Path:
    """A swap area (its signature, one name) in a root-owned tenant directory."""
    where = tmp_path / "tenant"
    where.mkdir(mode=0o755)
    area = where / "a.swap"
    area.write_bytes(b"\0" * (1 << 20))
    area.chmod(0o600)
    subprocess.run(["mkswap", str(area)], check=True, capture_output=True)  # never swapped on
    return area


def test_a_third_party_kind_adopts_what_it_claims_most_closely(
    kinds: Any, tenant_swap: Path
) -> None:
    kinds(Tenant)
    assert adopt(tenant_swap) == ("tenant", {"path": str(tenant_swap)}, {"tenant": "blue"})


@pytest.mark.parametrize("why", ["not swap", "two names"])
def test_whichever_kind_claims_a_file_it_is_adopted_only_if_it_is_swap_with_one_name(
    kinds: Any, tenant_swap: Path, why: str
) -> None:
    kinds(Tenant)
    if why == "not swap":
        tenant_swap.write_bytes(b"\0" * 8192)
        match = "not a swap area"
    else:
        os.link(tenant_swap, tenant_swap.with_name("other"))
        match = "has 2 names"
    with pytest.raises(BackendError, match=match):
        adopt(tenant_swap)


def test_a_device_is_adopted_only_if_it_is_swap_whichever_kind_claims_it(kinds: Any) -> None:
    """Discovery reaches here only with areas that are active or that the fstab's own
    resolution found swap; the choice of kind still checks, for any caller. A zram device
    of this test's own, holding zeros (no SWAPSPACE2 header, not active): the zram kind's
    ``adopt`` reads no header, so only that check refuses it. (A loop device's backing file
    is checked by the loop kind too.)"""
    kinds()
    with zram_devices(fallback_size=ZRAM_SIZE) as devices:
        z = devices.hot_add(ZRAM_SIZE)
        with pytest.raises(BackendError, match="is not a swap area"):
            adopt(Path(z.dev))
        subprocess.run(["mkswap", z.dev], check=True, capture_output=True)
        assert adopt(Path(z.dev))[0] == "zram"


class Inheriting(FileBackend):
    """A kind that subclasses the file kind and says nothing of adoption."""

    name = "inheriting"
    label = "Inheriting"


def test_a_subclass_claims_nothing_by_inheritance(kinds: Any, tenant_swap: Path) -> None:
    kinds(Inheriting)
    assert adopt(tenant_swap)[0] == "file"  # not a tie with its parent


def test_two_equal_claims_adopt_nothing(kinds: Any, tenant_swap: Path) -> None:
    kinds(Tenant, Rival)
    with pytest.raises(BackendError, match="claimed alike by the rival and tenant kinds"):
        adopt(tenant_swap)


def test_a_claim_that_is_not_a_number_counts_as_none_and_is_logged(
    kinds: Any, tenant_swap: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kinds(Careless)
    assert adopt(tenant_swap)[0] == "file"
    assert "the careless plugin answered its claim" in caplog.text


def test_a_kind_that_fails_to_adopt_names_itself(kinds: Any, tenant_swap: Path) -> None:
    kinds(Buggy)
    with pytest.raises(BackendError, match="the buggy plugin failed to say how it adopts"):
        adopt(tenant_swap)


class Shapeless(Tenant):
    name = "shapeless"
    label = "Shapeless"

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return Tenant.adoption_claim(path)  # its own answer: none is inherited

    @classmethod
    def adopt(cls, path: str, policy: Policy, *, active: bool) -> Any:
        return None


def test_an_answer_of_the_wrong_shape_names_the_kind(kinds: Any, tenant_swap: Path) -> None:
    kinds(Shapeless)
    with pytest.raises(BackendError, match="the shapeless plugin answered how it adopts"):
        adopt(tenant_swap)


def test_nothing_is_adopted_that_no_kind_claims(
    monkeypatch: pytest.MonkeyPatch, tenant_swap: Path
) -> None:
    reg = Registry()
    reg.register(BlockBackend)
    monkeypatch.setattr(handlers, "registry", lambda: reg)
    with pytest.raises(BackendError, match=f"no kind installed here adopts {tenant_swap}"):
        adopt(tenant_swap)
