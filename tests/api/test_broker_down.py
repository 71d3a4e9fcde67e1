"""With the broker unreachable, a request is still accepted: 202, the job queued with the
reason, to be sent by the sweep when the broker is back. The server really cannot reach it:
its REDIS_URL names a loopback port nothing listens on."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User

from swapadmin.core.models import Backend, Job
from tests.fixtures.tokens import token_for

from .conftest import free_port, running_api_server

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_action_is_accepted_and_stays_queued(
    alice: User, backend: Backend, scratch: Path
) -> None:
    token = token_for(alice)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with running_api_server(scratch, REDIS_URL=dead) as url:
        r = requests.post(
            f"{url}/api/v1/backends/{backend.uuid}/activate/",
            headers={"Authorization": f"Token {token}"},
            json={},
            timeout=60,
        )
    assert r.status_code == 202, r.text
    job = Job.objects.get(uuid=r.json()["id"])
    assert job.state == "queued"
    assert job.dispatched_at is None
    assert "broker is unreachable" in job.waiting_reason
    assert r.json()["waiting_reason"] == job.waiting_reason  # the caller is told why
    backend.refresh_from_db()
    assert backend.desired_state == "active"
