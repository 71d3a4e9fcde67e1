"""GET and PATCH /api/v1/hosts/{id}/dynamic-swap/: the policy, its files and decisions;
admins change it, bad values are a 400 naming the field and change nothing."""

from __future__ import annotations

import pytest

from swapadmin.core import dynamic
from swapadmin.core.models import AuditEvent, DynamicSwapDecision
from tests.api.conftest import client_with_token

pytestmark = pytest.mark.django_db

MiB = 1 << 20


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(host) -> str:
    return f"/api/v1/hosts/{host.uuid}/dynamic-swap/"


def test_it_reads_the_policy_off_by_default(victor, host_row):
    body = client_with_token(victor).get(url(host_row)).json()
    assert body["enabled"] is False and body["files"] == [] and body["decisions"] == []
    assert body["min_free_bytes"] == 256 * MiB


def test_an_admin_turns_it_on(alice, host_row):
    r = client_with_token(alice).patch(
        url(host_row), {"enabled": True, "min_free_bytes": 32 * MiB, "max_files": 2},
        format="json",
    )  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["enabled"] is True and r.json()["max_files"] == 2
    policy = dynamic.policy_for(host_row)
    assert policy.enabled and policy.min_free_bytes == 32 * MiB
    assert AuditEvent.objects.get(action="dynamic_swap").via == "api"


def test_decisions_are_listed_newest_first(victor, host_row):
    policy = dynamic.policy_for(host_row)
    for action in ("add", "activate"):
        DynamicSwapDecision.objects.create(policy=policy, action=action, backend_name="dyn-1",
                                           reason=f"{action} it")  # fmt: skip
    body = client_with_token(victor).get(url(host_row)).json()
    assert [d["action"] for d in body["decisions"]] == ["activate", "add"]
    assert body["decisions"][0]["reason"] == "activate it"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_total_bytes": 1}, "max_total_bytes"),
        ({"file_size_bytes": 1 * MiB}, "file_size_bytes"),
        ({"max_files": 0}, "max_files"),
        ({"psi_some_above": 0}, "psi_some_above"),
        ({"cooldown_seconds": -1}, "cooldown_seconds"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_a_bad_value_is_a_400_naming_it(alice, host_row, change, field):
    r = client_with_token(alice).patch(url(host_row), change, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    policy = dynamic.policy_for(host_row)
    assert not policy.enabled and policy.file_size_bytes == 512 * MiB
    assert not AuditEvent.objects.filter(action="dynamic_swap").exists()


def test_an_operator_may_read_but_not_change_it(oscar, host_row):
    client = client_with_token(oscar)
    assert client.get(url(host_row)).status_code == 200
    assert client.patch(url(host_row), {"enabled": True}, format="json").status_code == 403
    assert not dynamic.policy_for(host_row).enabled
