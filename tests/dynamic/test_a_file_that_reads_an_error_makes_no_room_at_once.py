"""At a limit while swap is short, a file that is not there is removed to make room: gone
(the host reads it absent) or never made. A file whose row reads an error is no such file:
the read failed (EIO, a hung mount) or its header could not be used, the store may well be
there and the error pass; it was removed at once as "not there" (review 194/2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.dynamic import Action, Held
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import MiB, file_after_step, small_policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "error", "removed"),
    [
        (Backend.Observed.ERROR, "cannot read the store: [Errno 5] Input/output error", False),
        (Backend.Observed.ABSENT, "", True),
    ],
)
def test_only_a_file_that_is_gone_makes_room_at_once(
    host_row, state: str, error: str, removed: bool
):
    policy = small_policy(host_row, max_files=1, max_total_bytes=64 * MiB)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=state, observed_error=error
    )
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    decision = dynamic.run_policy(policy)

    destroy = Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY, state__in=Job.LIVE)
    if not removed:
        assert decision.action == Action.NONE and decision.held == Held.LIMIT, decision.reason
        assert not destroy.exists()
        return
    assert (decision.action, decision.name) == (Action.REMOVE, "dyn-1"), decision.reason
    assert "dyn-1 is off and not there to turn on, removing it to make room" in decision.reason
    assert destroy.exists()
