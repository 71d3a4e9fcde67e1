"""A round holds no lock a job waits for: a user's deactivate can be asked for, swap the
area off and finish while the round's probes look at it, or before the round reaches a
backend it loaded at its start. What the probes saw is then a moment of that job, judged
against what the user asked before it. Recorded as the backend's health, it would say
"should be active but is not" (a false alert) and, with auto-repair, queue an activate
that undoes the user's deactivate. The round must record that it looked at a change, and
no verdict: no health change, no event, no repair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.checks import check_backend
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent
from swapadmin.health.probes import Thresholds
from swapadmin.health.tasks import repair_drifted

from .conftest import swapoff_by_hand, swapon

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def users_deactivate(backend: Backend, actor: Actor) -> Job:
    """What the user's deactivate does, start to end: the request (desired inactive, a
    job queued), the area swapped off for real, the job recorded as finished."""
    job = services.request_action(backend, "deactivate", actor)
    swapoff_by_hand(backend.params["path"])
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    return job


def after_the_busy_check(action: Callable[[], Any]) -> Any:
    """Run ``action`` once, right after the round's "is a job holding it?" query (the
    last look at the jobs before the probes): as if it happened while the probes ran."""
    fired = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        out = execute(sql, params, many, context)
        if not fired and '"core_job"' in sql and 'ORDER BY "core_job"."queued_at"' in sql:
            fired.append(True)
            action()
        return out

    return connection.execute_wrapper(wrapper)


def assert_no_verdict(backend: Backend) -> None:
    result = CheckResult.objects.filter(backend=backend).latest("pk")
    assert [f["check"] for f in result.findings] == ["busy"], result.findings
    health = BackendHealth.objects.filter(backend=backend).first()
    assert health is None or health.status == "unknown", health.summary
    assert not HealthEvent.objects.filter(backend=backend).exists()
    # Neither the worker (it holds the key here) nor the control plane repairs anything.
    repair_drifted()
    assert not Job.objects.filter(backend=backend, kind="activate").exists()
    assert kernel.find_area(backend.params["path"]) is None


def test_a_deactivate_that_ran_while_the_probes_looked(make_file_backend, alice):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    swapon(backend)
    actor = Actor(alice, Job.Via.API)
    with after_the_busy_check(lambda: users_deactivate(backend, actor)):
        result, repair = check_backend(backend.host, backend, Thresholds.from_settings(), None)
    assert repair is None
    assert "deactivate job" in result.findings[0]["message"]
    assert_no_verdict(backend)


def test_a_deactivate_that_ran_after_the_round_loaded_its_backends(make_file_backend, alice):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    swapon(backend)
    loaded = Backend.objects.select_related("host").get(pk=backend.pk)  # the round's list
    users_deactivate(backend, Actor(alice, Job.Via.API))

    result, repair = check_backend(loaded.host, loaded, Thresholds.from_settings(), None)
    # Read afresh, the row asks for inactive, which is what the area is: all well.
    drift = next(f for f in result.findings if f["check"] == "drift")
    assert (drift["status"], drift["value"]) == (
        "ok",
        {"desired": "inactive", "observed": "inactive"},
    )
    assert repair is None
    repair_drifted()
    assert not Job.objects.filter(backend=backend, kind="activate").exists()
    assert kernel.find_area(backend.params["path"]) is None
