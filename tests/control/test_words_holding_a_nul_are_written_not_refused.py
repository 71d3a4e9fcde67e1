"""A job's words that hold a NUL are written, the NUL shown as ``\\x00``: PostgreSQL keeps no
NUL in text, so a step, a log line or a crash's error holding one failed the job's own
write (review 176/4). A crash's error failed to be written at all, and the job stayed
running until the liveness sweep failed it for want of a heartbeat.

Words come from anywhere: a third party's kind's exception, a message that names what a
device said. The NUL is made visible rather than dropped, so the log says the words were
odd."""

from __future__ import annotations

import pytest

from backends import BackendError, Policy
from backends.errors import NotOursError, printable
from swapadmin.core import handlers
from swapadmin.core.context import JobContext
from swapadmin.core.models import Job
from swapadmin.core.observe import read_observation, said, write_observation
from swapadmin.core.plugins import build_plugin
from swapadmin.health.probes import warn
from tests.control.test_run_job_directly import backend_on, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def test_a_nul_is_shown_and_other_text_kept() -> None:
    assert printable("a\x00b") == "a\\x00b"
    assert printable("ünïcode, tabs\tand\nnewlines") == "ünïcode, tabs\tand\nnewlines"
    assert printable("\udcff\x00") == "\\xff\\x00"
    assert BackendError("device said \x00").message == "device said \\x00"


def test_a_third_partys_words_are_printable_however_it_sets_them() -> None:
    """Set after ``__init__``, given as a class's default, or never given (reviews 179/1,
    180/3, 181/5): what keeps the words gets text a row can hold."""

    class Late(BackendError):
        def __init__(self) -> None:
            super().__init__("first")
            self.message = "late \x00"

    class Default(BackendError):
        message = "default \x00"

        def __init__(self) -> None:  # never calls BackendError's
            pass

    class Silent(BackendError):
        def __init__(self) -> None:
            pass

    assert Late().message == str(Late()) == "late \\x00"
    assert said(Default()) == "default \\x00"  # its own default hides the property
    assert Silent().message == "Silent"


def test_a_health_findings_words_are_printable() -> None:
    said = warn("zram", "the plugin said \x00 and \udcff").as_dict()["message"]
    assert said == "the plugin said \\x00 and \\xff"


class _Crash(RuntimeError):
    pass


def _speaks_with_nuls(ctx: JobContext) -> None:
    ctx.step(10, "step \x00 one")
    ctx.log("line \x00 two")
    raise _Crash("words \x00 three")


def test_a_crash_whose_words_hold_a_nul_fails_its_job_saying_so(host_row, swap_root, monkeypatch):
    monkeypatch.setitem(handlers.HANDLERS, Job.Kind.PROVISION, _speaks_with_nuls)
    job = run(job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION))

    assert job.state == Job.State.FAILED
    assert job.error == "internal error in the worker: _Crash: words \\x00 three"
    assert "step \\x00 one" in job.log and "line \\x00 two" in job.log
    assert "\x00" not in job.log
    assert not (swap_root / "s").exists()


def test_a_refusal_whose_words_hold_a_nul_fails_its_job_saying_so(host_row, swap_root, monkeypatch):
    def refuses(ctx: JobContext) -> None:
        ctx.step(10, "step \x00 one")
        raise BackendError("refused \x00 here")

    monkeypatch.setitem(handlers.HANDLERS, Job.Kind.PROVISION, refuses)
    job = run(job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION))

    assert (job.state, job.error) == (Job.State.FAILED, "refused \\x00 here")
    assert "step \\x00 one" in job.log


class _LateWords(BackendError):
    """A third party's refusal that sets its words after ``__init__`` made them printable."""

    def __init__(self) -> None:
        super().__init__("placeholder")
        self.message = "late \x00 words \udcff"


def test_a_refusal_whose_words_were_set_late_is_said_printably(host_row, swap_root, monkeypatch):
    def refuses(ctx: JobContext) -> None:
        raise _LateWords()

    monkeypatch.setitem(handlers.HANDLERS, Job.Kind.PROVISION, refuses)
    job = run(job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION))

    assert (job.state, job.error) == (Job.State.FAILED, "late \\x00 words \\xff")


def test_a_crash_of_the_os_keeps_its_type_and_a_refusal_is_said_whole(
    host_row, swap_root, monkeypatch
):
    def crashes(ctx: JobContext) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setitem(handlers.HANDLERS, Job.Kind.PROVISION, crashes)
    job = run(job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION))
    assert (
        job.error == "internal error in the worker: PermissionError: [Errno 13] Permission denied"
    )

    long = "x" * 2000

    def refuses(ctx: JobContext) -> None:
        raise BackendError(long)

    monkeypatch.setitem(handlers.HANDLERS, Job.Kind.PROVISION, refuses)
    job = run(job_for(backend_on(host_row, swap_root / "t"), Job.Kind.PROVISION))
    assert job.error == long


def test_an_audit_rows_words_are_printable(host_row, swap_root) -> None:
    """A refusal's reason may quote a third party's kind (its label, its own words): the
    audit row kept none of them with a NUL in (review 182/5)."""
    from swapadmin.core.services import Actor, audit

    backend = backend_on(host_row, swap_root / "s")
    row = audit(
        Actor(None, Job.Via.API), "activate", backend, "refused",
        {"reason": "label \x00", "nested": [{"k\x00": "v \udcff"}], "n": 3},
    )  # fmt: skip
    row.refresh_from_db()
    assert row.detail == {"reason": "label \\x00", "nested": [{"k\\x00": "v \\xff"}], "n": 3}


class _NotOursByDefault(NotOursError):
    """A third party's refusal whose words are its class's own default, which hides the
    ``message`` property's printing."""

    message = "not its store \x00"

    def __init__(self) -> None:
        pass


def test_a_proofs_words_are_printable_however_a_kind_sets_them(host_row, swap_root) -> None:
    backend = backend_on(host_row, swap_root / "s")
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    backend.refresh_from_db()
    plugin = build_plugin(backend, Policy.from_env())

    def refuses() -> None:
        raise _NotOursByDefault()

    plugin.verify = refuses  # type: ignore[method-assign]  # the third party's proof
    look = read_observation(backend, plugin)
    assert look["observed_error"] == "not its store \\x00", look
    write_observation(backend, look)  # PostgreSQL refused the NUL: the look was lost
    backend.refresh_from_db()
    assert backend.observed_error == "not its store \\x00"
