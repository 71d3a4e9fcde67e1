"""A job deleted while the worker's gate verified it is not logged as refused (review 169/11).

The gate (``signing.refuse_unauthorised``) verifies a queued job before the runner claims
it. A forget that deletes the row meanwhile makes the verify say "was deleted; refused":
nothing was refused and nothing went wrong on the host, yet an error-level "refused" was
logged, which wakes whoever watches the worker's errors. A job really refused still is."""

from __future__ import annotations

import logging

import pytest

from swapadmin.core import signing
from swapadmin.core.models import AuditEvent, Job
from tests.control.test_run_job_directly import backend_on, job_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_job_deleted_during_its_verify_is_no_error(host_row, swap_root, monkeypatch, caplog):
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.CHECK)
    verify = signing.verify_here

    def forgotten_meanwhile(row, *args, **kwargs):
        Job.objects.filter(pk=row.pk).delete()  # another machine's forget
        return verify(row, *args, **kwargs)

    monkeypatch.setattr(signing, "verify_here", forgotten_meanwhile)
    with caplog.at_level(logging.INFO, logger="swapadmin.core.signing"):
        assert signing.refuse_unauthorised(job.pk)  # the runner has nothing to run

    assert errors(caplog) == []
    assert any("no longer queued" in r.getMessage() for r in caplog.records)
    assert not AuditEvent.objects.filter(outcome="refused").exists()


def test_a_job_altered_then_taken_during_its_verify_is_still_warned_of(
    host_row, swap_root, monkeypatch, caplog
):
    """Found not as signed, though no longer this gate's to fail: said at warning, not
    hidden at info as a forgotten job is (review 174/8)."""
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.CHECK)
    verify = signing.verify_here

    def altered_and_taken(row, *args, **kwargs):
        Job.objects.filter(pk=row.pk).update(state=Job.State.RUNNING)
        row.params = {"force": True}  # as loaded: not what was signed
        return verify(row, *args, **kwargs)

    monkeypatch.setattr(signing, "verify_here", altered_and_taken)
    with caplog.at_level(logging.INFO, logger="swapadmin.core.signing"):
        assert signing.refuse_unauthorised(job.pk)

    assert errors(caplog) == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no longer queued" in m for m in warned), caplog.records


def test_a_job_altered_after_its_signature_is_still_refused_as_an_error(
    host_row, swap_root, caplog
):
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.CHECK)
    Job.objects.filter(pk=job.pk).update(params={"force": True})  # not what was signed

    with caplog.at_level(logging.INFO, logger="swapadmin.core.signing"):
        assert signing.refuse_unauthorised(job.pk)

    assert Job.objects.get(pk=job.pk).state == Job.State.FAILED
    assert any("refused" in m for m in errors(caplog))
    assert AuditEvent.objects.filter(outcome="refused").exists()
