"""The host page shows the policy, its files and what it decided and why; an admin changes
it there, a bad value is named and changes nothing, and a viewer can read but not change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from swapadmin.core import dynamic
from swapadmin.core.models import AuditEvent, Backend, DynamicSwapDecision

pytestmark = pytest.mark.django_db

MiB = 1 << 20


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def policy(host_row):
    p = dynamic.policy_for(host_row)
    p.enabled, p.min_free_bytes, p.file_size_bytes = True, 32 * MiB, 64 * MiB
    p.status = "free swap 10 MiB is below 32 MiB, but the limit of 2 file(s) is reached"
    p.save()
    Backend.objects.create(host=host_row, kind="file", name="dyn-1", dynamic_policy=p,
                           params={"path": "/x/dyn-1"}, size_bytes=64 * MiB)  # fmt: skip
    DynamicSwapDecision.objects.create(
        policy=p, action="add", backend_name="dyn-1",
        reason="free swap 12 MiB is below 32 MiB: adding dyn-1 (64 MiB)",
    )  # fmt: skip
    return p


def test_it_shows_the_policy_and_its_decisions(client, victor, host_row, policy):
    client.force_login(victor)
    html = client.get(reverse("host", args=[host_row.uuid])).content.decode()
    assert 'id="dynamic-swap"' in html and 'data-dynamic="on"' in html
    assert "keeps free swap above <strong>32.0 MiB</strong>" in html
    assert "free swap 12 MiB is below 32 MiB: adding dyn-1 (64 MiB)" in html
    assert 'data-decision="add"' in html and 'data-dynamic-file="dyn-1"' in html
    assert "the limit of 2 file(s) is reached" in html
    # A viewer reads; the form is the admin's.
    assert "dynamic-swap-submit" not in html


def test_a_host_without_a_policy_shows_it_off(client, victor, host_row):
    client.force_login(victor)
    html = client.get(reverse("host", args=[host_row.uuid])).content.decode()
    assert 'data-dynamic="off"' in html and "No decision yet" in html


FORM = {
    "dyn-enabled": "on", "dyn-min_free_mib": "100", "dyn-file_size_mib": "256",
    "dyn-max_files": "3", "dyn-max_total_mib": "768", "dyn-unused_for_seconds": "300",
    "dyn-cooldown_seconds": "60", "dyn-priority": "", "dyn-psi_some_above": "20",
}  # fmt: skip


def test_an_admin_changes_it(client, alice, host_row, policy):
    client.force_login(alice)
    url = reverse("host-dynamic-swap", args=[host_row.uuid])
    assert (
        "dynamic-swap-submit" in client.get(reverse("host", args=[host_row.uuid])).content.decode()
    )
    r = client.post(url, FORM, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dynamic-swap")
    assert r.status_code == 200 and "Saved." in r.content.decode()
    policy.refresh_from_db()
    assert (policy.min_free_bytes, policy.file_size_bytes, policy.max_total_bytes) == (
        100 * MiB, 256 * MiB, 768 * MiB,
    )  # fmt: skip
    assert (policy.max_files, policy.psi_some_above, policy.priority) == (3, 20.0, None)
    event = AuditEvent.objects.get(action="dynamic_swap")
    assert event.actor_name == "alice" and event.detail["changed"]["max_files"] == [4, 3]


def test_a_bad_value_is_named_and_changes_nothing(client, alice, host_row, policy):
    client.force_login(alice)
    url = reverse("host-dynamic-swap", args=[host_row.uuid])
    r = client.post(url, {**FORM, "dyn-max_total_mib": "128"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    assert "the total limit must hold at least one file" in r.content.decode()
    policy.refresh_from_db()
    assert policy.file_size_bytes == 64 * MiB and policy.min_free_bytes == 32 * MiB
    assert not AuditEvent.objects.filter(action="dynamic_swap").exists()


def test_a_viewer_cannot_change_it(client, victor, host_row, policy):
    client.force_login(victor)
    r = client.post(reverse("host-dynamic-swap", args=[host_row.uuid]), FORM)
    assert r.status_code == 403
    policy.refresh_from_db()
    assert policy.min_free_bytes == 32 * MiB
    assert AuditEvent.objects.get(action="settings").outcome == "refused"


def test_without_htmx_a_bad_value_comes_back_on_the_whole_page(client, alice, host_row, policy):
    """A browser without JavaScript posts the form itself: a refusal comes back on the host
    page, laid out, with the value named beside the form. Before, it got the bare section."""
    client.force_login(alice)
    url = reverse("host-dynamic-swap", args=[host_row.uuid])
    r = client.post(url, {**FORM, "dyn-max_total_mib": "128"})
    assert r.status_code == 422
    html = r.content.decode()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "the total limit must hold at least one file" in html
    assert 'value="128"' in html  # what was typed, not the saved policy
    assert 'id="tune"' in html
    policy.refresh_from_db()
    assert policy.max_total_bytes != 128 * MiB
