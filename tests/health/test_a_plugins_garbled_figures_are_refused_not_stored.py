"""A kind's compressed-memory figures are checked before anyone reads one: a third party's
plugin that answers with a string, NaN, infinity, a negative or a number past 2**63, or
with something other than a ZramStat, gets a warning on the health check naming the plugin
and the field, and no figure in the samples (its failure logged once, not at every
sample). Before, a string failed the ratio's division and NaN the sample's write to
PostgreSQL's jsonb: either way the sampler raised, and the host stopped reporting."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from backends import kernel
from backends.plugins.file import FileBackend
from backends.registry import Registry
from swapadmin.core import sampler
from swapadmin.core.models import Backend
from swapadmin.health import probes

MiB = 1 << 20
GOOD = kernel.ZramStat(
    orig_data_size=64 * MiB, compr_data_size=48 * MiB, mem_used_total=50 * MiB,
    mem_limit=100 * MiB, mem_used_max=50 * MiB, same_pages=0, pages_compacted=0,
    huge_pages=0,
)  # fmt: skip

GARBLED: dict[str, Any] = {
    "a string": dataclasses.replace(GOOD, orig_data_size="64"),
    "NaN": dataclasses.replace(GOOD, compr_data_size=float("nan")),
    "infinity": dataclasses.replace(GOOD, mem_limit=float("inf")),
    "a negative": dataclasses.replace(GOOD, mem_used_total=-1),
    "a bool": dataclasses.replace(GOOD, huge_pages=True),
    "past 2**63": dataclasses.replace(GOOD, mem_used_max=2**63),
    "a dict": {"orig_data_size": 1},
}


def garbling(answer: Any) -> type[FileBackend]:
    class Garbled(FileBackend):
        name = "garbled"
        label = "Garbled"
        given: Any = answer

        @classmethod
        def adoption_claim(cls, path: str) -> int:
            return 2 if "/garbled/" in path else 0

        @classmethod
        def compressed_memory(cls, path: str) -> kernel.ZramStat | None:
            return cls.given if cls.adoption_claim(path) else None

    return Garbled


@pytest.mark.parametrize("what", list(GARBLED))
def test_the_check_warns_and_names_the_plugin(what: str, tmp_path: Path) -> None:
    cls = garbling(GARBLED[what])
    path = str(tmp_path / "garbled" / "a.swap")
    row = Backend(kind=cls.name, name="a", params={"path": path}, swap_uuid=uuid.uuid4())
    target = probes.Target(row, cls.__new__(cls), path, None)
    [finding] = probes.check_compressed_memory(target, probes.Thresholds())
    assert finding.status == "warn"
    assert "the garbled plugin gave" in finding.message


@pytest.mark.parametrize("what", list(GARBLED))
def test_the_sampler_stores_no_figure_of_them(
    what: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cls = garbling(GARBLED[what])
    reg = Registry()
    reg.register(cls)
    monkeypatch.setattr(sampler, "registry", lambda: reg)
    monkeypatch.setattr(sampler, "_FIGURES_FAILED", set())
    path = str(tmp_path / "garbled" / "a.swap")
    with caplog.at_level(logging.ERROR, logger=sampler.log.name):
        assert sampler._compressed_memory([path]) == {}
        assert sampler._compressed_memory([path]) == {}
    said = [r for r in caplog.records if "the garbled plugin gave" in r.getMessage()]
    assert len(said) == 1, "logged at every sample, not once"
    # Once it answers well its figures are stored (as the strict JSON jsonb takes), and a
    # later failure is said again.
    cls.given = GOOD
    got = sampler._compressed_memory([path])
    assert got[path]["orig_data_size"] == 64 * MiB
    json.dumps(got, allow_nan=False)
    cls.given = GARBLED[what]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger=sampler.log.name):
        assert sampler._compressed_memory([path]) == {}
    assert any("the garbled plugin gave" in r.getMessage() for r in caplog.records)
