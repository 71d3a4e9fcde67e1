"""A row asking to keep a loop area in the fstab (made before persist was refused at
create) has no line, and no line could bring it back after a reboot. The fstab probe says
so and asks for no repair: the control plane would refuse it at every check. A repair
that is refused all the same leaves the back-off alone, so a repair that can run (the
area found inactive, say) is queued at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.health import probes, repair
from swapadmin.health.models import BackendHealth
from swapadmin.health.repair import maybe_repair


def wants(repair: str) -> list[dict[str, object]]:
    return [{"check": "x", "status": "warn", "message": "drift", "value": {"repair": repair}}]


def fstab_finding(kind: str, tmp_path: Path) -> probes.Finding:
    row = Backend(kind=kind, name=f"old-{kind}", params={"path": str(tmp_path / "a")})
    row.persist = True
    [finding] = probes.check_fstab(probes.Target(row, None, None, None), tmp_path / "fstab", [])
    return finding


def test_the_probe_asks_no_repair_that_would_be_refused(tmp_path: Path) -> None:
    finding = fstab_finding("loop", tmp_path)
    assert finding.status == "warn" and "repair" not in finding.value
    assert "cannot be kept in the fstab: turn persist off" in finding.message


def test_a_kind_not_installed_here_is_said_as_such(tmp_path: Path) -> None:
    finding = fstab_finding("nbd", tmp_path)
    assert finding.status == "warn" and "repair" not in finding.value
    assert "its kind (nbd) is not installed on this host" in finding.message
    assert "does not survive a reboot" not in finding.message


def test_a_file_area_missing_its_line_still_gets_its_repair(tmp_path: Path) -> None:
    finding = fstab_finding("file", tmp_path)
    assert finding.value["repair"] == "persist" and "will not come back" in finding.message


@pytest.mark.django_db
def test_a_refused_repair_holds_up_no_repair_that_can_run(host_row, caplog) -> None:
    backend = Backend.objects.create(
        host=host_row,
        kind="loop",
        name="old-loop",
        params={"path": "/var/tmp/old.swap"},
        persist=True,
        auto_repair=True,
        provisioned_at=timezone.now(),
    )
    BackendHealth.objects.create(backend=backend, status="warn")

    assert maybe_repair(backend, wants("persist")) is None
    assert "cannot be kept in the fstab" in caplog.text
    assert not Job.objects.exists()
    # Not asked, so not audited: a refusal at every check would be a row a minute.
    assert not AuditEvent.objects.exists()
    health = BackendHealth.objects.get(backend=backend)
    assert (health.repair_attempts, health.next_repair_at) == (0, None)

    job = maybe_repair(backend, wants("activate"))
    assert job is not None and job.kind == "activate"


@pytest.mark.django_db
def test_a_refusal_asked_at_every_check_is_said_once_an_hour(
    host_row, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check stored by a worker still on an older probe asks at every round (a minute).
    backend = Backend.objects.create(
        host=host_row,
        kind="loop",
        name="older-probe",
        params={"path": "/var/tmp/older.swap"},
        persist=True,
        auto_repair=True,
        provisioned_at=timezone.now(),
    )
    said = []
    start = timezone.now()
    for minute in (0, 1, 2, 59, 61):
        caplog.clear()
        at = start + timedelta(minutes=minute)
        monkeypatch.setattr(repair, "timezone", SimpleNamespace(now=lambda at=at: at))
        assert maybe_repair(backend, wants("persist")) is None
        said.append(caplog.text.count("cannot repair"))
    assert said == [1, 0, 0, 0, 1]


@pytest.mark.parametrize(("kind", "repaired"), [("loop", False), ("file", True)])
def test_a_line_left_for_a_kind_no_line_can_name_is_for_a_person_to_remove(
    tmp_path: Path, kind: str, repaired: bool
) -> None:
    # A loop area not meant to persist, whose backing file a line names: the worker's
    # persist job can spell no loop line, so it could not find this one to remove.
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{tmp_path / 'a'} none swap sw 0 0\n")
    row = Backend(kind=kind, name=f"old-{kind}", params={"path": str(tmp_path / "a")})
    [finding] = probes.check_fstab(probes.Target(row, None, None, None), fstab)
    assert finding.status == "warn" and "(line 1)" in finding.message
    assert ("repair" in finding.value) is repaired
    assert ("remove the line by hand" in finding.message) is not repaired
