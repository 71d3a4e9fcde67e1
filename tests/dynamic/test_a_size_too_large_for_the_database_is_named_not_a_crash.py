"""A size in MiB whose bytes overflow the database's integer (the page's fields had no upper
bound, so 10^20 MiB reached the bigint column and the save failed with a 500) is named on
the page and through the service, and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from swapadmin.core import dynamic, services
from swapadmin.core.models import AuditEvent, DynamicSwapPolicy

pytestmark = pytest.mark.django_db

MiB = 1 << 20
HUGE_MIB = str(10**20)
FORM = {
    "dyn-enabled": "on", "dyn-min_free_mib": "100", "dyn-file_size_mib": "256",
    "dyn-max_files": "3", "dyn-max_total_mib": "768", "dyn-unused_for_seconds": "300",
    "dyn-cooldown_seconds": "60", "dyn-priority": "", "dyn-psi_some_above": "",
}  # fmt: skip


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize("field", ["dyn-min_free_mib", "dyn-file_size_mib", "dyn-max_total_mib"])
def test_the_page_names_it(client, alice, host_row, field):
    before = dynamic.policy_for(host_row)
    client.force_login(alice)
    url = reverse("host-dynamic-swap", args=[host_row.uuid])
    r = client.post(url, {**FORM, field: HUGE_MIB}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    assert "less than or equal to" in r.content.decode()
    after = DynamicSwapPolicy.objects.get(pk=before.pk)
    assert (after.enabled, after.min_free_bytes, after.file_size_bytes) == (
        False, before.min_free_bytes, before.file_size_bytes,
    )  # fmt: skip
    assert not AuditEvent.objects.filter(action="dynamic_swap").exists()


def test_the_service_names_it(host_row, alice):
    with pytest.raises(services.InvalidRequest) as e:
        dynamic.update_policy(host_row, {"max_total_bytes": 2**70}, services.Actor(alice, "api"))
    assert "max_total_bytes" in e.value.errors
    assert dynamic.policy_for(host_row).max_total_bytes == 2 << 30


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_number_that_is_no_number_of_seconds_is_named(host_row, alice, value):
    with pytest.raises(services.InvalidRequest) as e:
        dynamic.update_policy(host_row, {"cooldown_seconds": value}, services.Actor(alice, "api"))
    assert "cooldown_seconds" in e.value.errors
    assert dynamic.policy_for(host_row).cooldown_seconds == 120.0
