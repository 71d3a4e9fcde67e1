"""Whether an area lives in compressed RAM, and what its compression and memory limit are,
is its kind's answer (``SwapBackend.compressed_memory``), not the device's name: a third
party's kind of that sort gets the sampler's figures and the health check's grading as the
zram kind does, and a kind whose pages live on storage gets neither, whatever its path is
called. A plugin that fails to answer is said on the check, and skipped by the sampler,
never a crash of either. (The zram kind's own figures, read from a real device, are shown
in tests/health/test_check_zram.py and tests/web/test_browser_zram_figures_are_live.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core import sampler
from swapadmin.core.models import Backend
from swapadmin.health import probes

MiB = 1 << 20
#: 64 MiB stored in 48 MiB (1.33:1, under the 1.5 warning), 99 of a 100 MiB limit in use.
FIGURES = kernel.ZramStat(
    orig_data_size=64 * MiB, compr_data_size=48 * MiB, mem_used_total=99 * MiB,
    mem_limit=100 * MiB, mem_used_max=99 * MiB, same_pages=0, pages_compacted=0,
    huge_pages=0,
)  # fmt: skip


class Compact(FileBackend):
    """A third party's kind that keeps its areas, files under a ``compact`` directory, in
    compressed memory of its own."""

    name = "compact"
    label = "Compact"

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 2 if "/compact/" in path else 0

    @classmethod
    def compressed_memory(cls, path: str) -> kernel.ZramStat | None:
        return FIGURES if cls.adoption_claim(path) else None


class Faulty(Compact):
    name = "faulty"
    label = "Faulty"

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 2 if "/faulty/" in path else 0

    @classmethod
    def compressed_memory(cls, path: str) -> kernel.ZramStat | None:
        raise KeyError("mm_stat")


def target(cls: type[FileBackend] | type[BlockBackend], path: str) -> probes.Target:
    plugin = cls.__new__(cls)  # only its class is asked
    row = Backend(kind=cls.name, name="a", params={"path": path}, swap_uuid=uuid.uuid4())
    return probes.Target(row, plugin, path, None)


def test_a_third_party_kind_in_compressed_memory_is_graded(tmp_path: Path) -> None:
    found = {
        f.check: f
        for f in probes.check_compressed_memory(
            target(Compact, str(tmp_path / "compact" / "a.swap")), probes.Thresholds()
        )
    }
    assert found["zram_ratio"].status == "warn"
    assert found["zram_ratio"].value == round(64 / 48, 3)
    assert found["zram_limit"].status == "fail"
    assert found["zram_limit"].value == {"mem_used_total": 99 * MiB, "mem_limit": 100 * MiB}


def test_a_kind_on_storage_is_not_graded_whatever_its_device_is_called() -> None:
    # A name the zram kind would claim, on a row of the block kind: the block kind keeps
    # its pages on the device, so there is no compression to grade (and no mm_stat read).
    assert probes.check_compressed_memory(
        target(BlockBackend, "/dev/zram4095"), probes.Thresholds()
    ) == []  # fmt: skip


def test_a_plugin_that_fails_to_answer_is_said_on_the_check(tmp_path: Path) -> None:
    [finding] = probes.check_compressed_memory(
        target(Faulty, str(tmp_path / "faulty" / "a.swap")), probes.Thresholds()
    )
    assert finding.status == "warn"
    assert "the faulty plugin failed to give" in finding.message
    assert "KeyError" in finding.message


def test_the_sampler_records_the_figures_of_the_kind_that_claims_the_area(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reg = Registry()
    for cls in (FileBackend, BlockBackend, ZramBackend, Compact, Faulty):
        reg.register(cls)
    monkeypatch.setattr(sampler, "registry", lambda: reg)
    compact = str(tmp_path / "compact" / "a.swap")
    faulty = str(tmp_path / "faulty" / "a.swap")
    plain = str(tmp_path / "plain.swap")
    # /dev/zram4095 is claimed by the zram kind, and is not there: no figures, no error.
    got = sampler._compressed_memory([compact, faulty, plain, "/dev/zram4095"])
    assert list(got) == [compact]
    assert got[compact]["orig_data_size"] == 64 * MiB
    assert got[compact]["compression_ratio"] == pytest.approx(64 / 48)
