"""While whether a backend's area is active cannot be told (observed indeterminate), every
request but a check is refused with the reason and the way out, audited, and changes
nothing: before, a destroy asked marked the row leaving and its job then failed, and an
edit's priority was recorded with a promise to apply it that nothing kept. The page offers
the same (test_the_page_offers_what_the_action_table_says_where_a_backend_stands). No
sample writes over the verdict, even one that read the row before it was written. Runs
without root: nothing here touches the host."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core import actions, edits, runner, services
from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.core.sampler import _write_observations
from swapadmin.core.services import Actor, NotReady
from tests.control.test_run_job_directly import job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20
WHY = "cannot tell whether the zram (compressed RAM) area is active: no boot id"
#: Every action's body, as a user would ask it; the table's own names.
BODIES = {
    "resize": {"size_bytes": 64 * MiB},
    "persist": {"persist": True},
    "deactivate": {"force": False},
    "provision": {"force": False},
    "destroy": {"force": False},
}


@pytest.fixture
def untold(host_row) -> Backend:
    return Backend.objects.create(
        host=host_row,
        kind="zram",
        name="z",
        params={},
        size_bytes=32 * MiB,
        provisioned_at=timezone.now(),
        desired_state=Backend.Desired.ACTIVE,
        observed_state=Backend.Observed.INDETERMINATE,
        observed_error=WHY,
        used_bytes=5 * MiB,
        active_priority=100,
    )


#: Every action that changes something and a zram area can be asked (a persist cannot).
CHANGES = [
    a.name
    for a in actions.BACKEND_ACTIONS
    if not a.reads_only and services.kind_refusal("zram", a) is None
]


@pytest.mark.parametrize("action", CHANGES)
def test_an_action_is_refused_with_why_and_changes_nothing(untold, alice, action):
    with pytest.raises(NotReady) as refused:
        services.request_action(untold, action, Actor(alice, Job.Via.API), BODIES.get(action))

    assert refused.value.message == (
        f"whether z's area is active cannot be told ({WHY}), so this "
        f"{actions.BY_NAME[action].label.lower()} is refused: it "
        "would act on a guess. Mend what stops its path being named, then ask for a check, "
        "which looks again"
    )
    assert not Job.objects.filter(backend=untold).exists()
    untold.refresh_from_db()
    assert untold.desired_state == Backend.Desired.ACTIVE
    event = AuditEvent.objects.get(action=action)
    assert (event.outcome, event.detail["reason"]) == ("refused", refused.value.message)


def test_the_verdict_is_read_on_the_locked_row(untold, alice):
    # The caller read the row before the verdict was written.
    stale = Backend.objects.get(pk=untold.pk)
    stale.observed_state = Backend.Observed.ACTIVE

    with pytest.raises(NotReady, match="so this destroy is refused"):
        services.request_action(stale, "destroy", Actor(alice, Job.Via.API), {"force": False})

    untold.refresh_from_db()
    assert untold.desired_state == Backend.Desired.ACTIVE
    assert not Job.objects.filter(backend=untold).exists()
    assert AuditEvent.objects.get(action="destroy").outcome == "refused"


@pytest.mark.usefixtures("zram_cleanup")  # were the refusal to fail, the activate makes one
def test_the_worker_looks_again_and_refuses_a_job_queued_before_the_verdict(
    untold, unreadable_boot_id
):
    # The worker's own look, just before the job (the cause may have been mended since),
    # still cannot tell: the boot id is unreadable. Nothing is attached or swapped on.
    job = run(job_for(untold, Job.Kind.ACTIVATE))

    assert job.state == Job.State.FAILED
    assert job.error.startswith(
        f"whether z's area is active cannot be told ({unreadable_boot_id}), so this activate "
        "job is refused"
    ), job.error


@pytest.mark.usefixtures("zram_cleanup", "unreadable_boot_id")
def test_the_workers_refusal_names_the_job_as_the_page_does(untold):
    # "burn-in job", not the kind's "burn_in job".
    job = run(job_for(untold, Job.Kind.BURN_IN))

    assert job.state == Job.State.FAILED
    assert "so this burn-in job is refused" in job.error, job.error


@pytest.mark.usefixtures("zram_cleanup", "unreadable_boot_id")
def test_a_row_changed_during_the_look_again_is_verified_again(untold, monkeypatch):
    # A signed field changed while the look read the store (another machine's write) must
    # not reach the job unverified (review 161/1); nor is the look written over the row
    # as it is now, whose store it did not read, and the flag stays for a job signed for
    # that row (review 165/2).
    Backend.objects.filter(pk=untold.pk).update(reread_before_next_job=True)
    look = runner.read_observation

    def changed_meanwhile(backend):
        Backend.objects.filter(pk=backend.pk).update(name="renamed")
        return look(backend)

    monkeypatch.setattr(runner, "read_observation", changed_meanwhile)
    job = job_for(untold, Job.Kind.ACTIVATE)
    seen_at = Backend.objects.get(pk=untold.pk).observed_at

    runner.run(job.pk, worker="w@testhost")

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.startswith("the job's rows no longer match what the control plane signed")
    assert 'backend.name is "renamed" now' in job.error, job.error
    row = Backend.objects.get(pk=untold.pk)
    assert (row.observed_at, row.reread_before_next_job) == (seen_at, True)


@pytest.mark.usefixtures("zram_cleanup")  # were the refusal to fail, the activate makes one
@pytest.mark.parametrize(
    ("kind", "flagged"),
    [
        # The look again at a row that cannot be told (review 160/3).
        pytest.param(Job.Kind.ACTIVATE, False, id="untold"),
        # The look at a row a job before ended without its worker's word (review 161/5): a
        # check, so only the flag asks for it.
        pytest.param(Job.Kind.CHECK, True, id="flagged"),
    ],
)
def test_the_worker_looks_again_only_at_a_row_its_job_was_signed_for(untold, kind, flagged):
    # A row changed after the job was signed is refused before anything is read of the
    # host for it: the look again comes after the signature. The change lands after the
    # gate before the claim (tasks.run_job): the runner is called alone.
    Backend.objects.filter(pk=untold.pk).update(reread_before_next_job=flagged)
    job = job_for(untold, kind)
    seen_at = Backend.objects.get(pk=untold.pk).observed_at
    Backend.objects.filter(pk=untold.pk).update(name="renamed")

    runner.run(job.pk, worker="w@testhost")

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "renamed" in job.error, job.error
    row = Backend.objects.get(pk=untold.pk)
    assert (row.observed_state, row.observed_error, row.observed_at) == (
        Backend.Observed.INDETERMINATE,
        WHY,
        seen_at,
    )
    # Not read by this job. (The sampler's settle reads a flagged row too, unsigned, as it
    # reads every row of its host: a look writes only what the store says, never to it.)
    assert row.reread_before_next_job is flagged


def test_a_check_is_queued(untold, alice):
    job = services.request_action(untold, "check", Actor(alice, Job.Via.API))
    assert job.kind == Job.Kind.CHECK


@pytest.mark.parametrize("change", [{"priority": 5}, {"label": "new"}, {"discard": "once"}])
def test_an_edit_that_touches_the_host_is_refused(untold, alice, change):
    with pytest.raises(NotReady, match="so this change on the host is refused"):
        edits.edit_backend(untold, Actor(alice, Job.Via.API), change)

    untold.refresh_from_db()
    assert (untold.priority, untold.label, untold.discard) == (None, "", "")


def test_an_edit_of_the_row_alone_is_made(untold, alice):
    edits.edit_backend(untold, Actor(alice, Job.Via.API), {"auto_repair": False})
    untold.refresh_from_db()
    assert untold.auto_repair is False


def test_a_sample_that_read_the_row_before_the_verdict_does_not_write_over_it(untold):
    # What a sample would write had it read the row while it was active: the statement's
    # own condition keeps the verdict, not only the reading's skip of such a row.
    seen = {
        "observed_state": Backend.Observed.ACTIVE,
        "observed_error": "",
        "used_bytes": 1 * MiB,
        "active_priority": -2,
    }
    _write_observations(untold.host_id, {untold.pk: seen}, timezone.now())

    untold.refresh_from_db()
    assert untold.observed_state == Backend.Observed.INDETERMINATE
    assert (untold.observed_error, untold.used_bytes, untold.active_priority) == (
        WHY,
        5 * MiB,
        100,
    )
