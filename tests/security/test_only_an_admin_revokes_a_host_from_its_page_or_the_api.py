"""An admin revokes an enrolled host from the API (POST /api/v1/hosts/{id}/revoke/) or from
the host's page (its "Revoke" button); an operator can do neither: the refusal is audited
and the host keeps its credential. A host with no live credential has nothing to revoke."""

from __future__ import annotations

import psycopg
import pytest
from django.test import Client

from swapadmin.core.models import AuditEvent
from swapadmin.enroll.models import HostCredential
from tests.fixtures.tokens import token_for

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def own_broker(enrolled: Enrolled, settings) -> None:  # noqa: F811
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.REDIS_URL = enrolled.broker.url


def live(enrolment) -> bool:
    return HostCredential.objects.filter(host=enrolment.host, revoked_at=None).exists()


def api_revoke(user, host):
    return Client().post(
        f"/api/v1/hosts/{host.uuid}/revoke/",
        content_type="application/json",
        data={},
        HTTP_AUTHORIZATION=f"Token {token_for(user)}",
    )


def test_through_the_api(enrolled: Enrolled, alice, oscar) -> None:  # noqa: F811
    a = enrolled.host()
    refused = api_revoke(oscar, a.host)
    assert refused.status_code == 403
    assert live(a)
    assert AuditEvent.objects.filter(action="destroy", host=a.host, outcome="refused").exists()

    answer = api_revoke(alice, a.host)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"host": str(a.host.uuid), "revoked": [a.credential.pg_role]}
    assert not live(a)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(a.env["DATABASE_URL"], connect_timeout=5)

    again = api_revoke(alice, a.host)
    assert again.status_code == 200 and again.json()["revoked"] == []


def test_from_the_hosts_page(client, enrolled: Enrolled, alice, oscar) -> None:  # noqa: F811
    a = enrolled.host()
    page = f"/hosts/{a.host.uuid}/"
    client.force_login(oscar)
    assert b'id="revoke-host"' not in client.get(page).content
    assert client.post(f"{page}revoke/").status_code == 403
    assert live(a)
    assert AuditEvent.objects.filter(action="revoke", host=a.host, outcome="refused").exists()

    client.force_login(alice)
    assert b'id="revoke-host"' in client.get(page).content
    answer = client.post(f"{page}revoke/")
    assert answer.status_code == 302 and answer["Location"] == page
    assert not live(a)
    assert AuditEvent.objects.filter(action="revoke", host=a.host, outcome="ok").exists()
    assert b'id="revoke-host"' not in client.get(page).content
