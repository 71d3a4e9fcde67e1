from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Host

from .conftest import htmx

URL = reverse("audit")


def events(host: Host, n: int) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor_name="alice",
            via="page",
            action=f"scan{i}",
            object_type="backend",
            object_repr=f"testhost/swap{i}",
            host=host,
            outcome="queued",
            source_ip="127.0.0.1",
            detail={"job": f"j{i}"},
        )
        for i in range(n)
    )


@pytest.mark.parametrize("who", ["alice", "oscar", "victor"])
def test_it_works_for_every_role(
    request: pytest.FixtureRequest, as_user: Any, host_row: Host, who: str
) -> None:
    events(host_row, 3)
    body = as_user(request.getfixturevalue(who)).get(URL).content.decode()
    assert 'data-action="scan2"' in body and "testhost/swap2" in body and "job=j2" in body


def test_it_refuses_an_account_without_a_role(as_user: Any, nora: User) -> None:
    assert as_user(nora).get(URL).status_code == 403


def test_it_pages_with_a_partial(as_user: Any, victor: User, host_row: Host) -> None:
    events(host_row, 60)
    first = as_user(victor).get(URL).content.decode()
    assert "Page 1 of 2" in first and 'id="page-older"' in first
    r = as_user(victor).get(URL + "?page=2", headers=htmx("table"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="table"')
    assert body.count("<tr data-action=") == 10
