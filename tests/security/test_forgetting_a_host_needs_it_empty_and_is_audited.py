"""An admin forgets a host from its page only once nothing is left on it: no backend but
destroyed ones, no live job, no worker reporting. Each answer, yes or no, is in the audit
trail with who asked and from where; the audit trail outlives the host."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Backend, Host, Job, Sample
from swapadmin.enroll.models import HostCredential

pytestmark = pytest.mark.django_db

PEER = {"REMOTE_ADDR": "192.0.2.33"}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def gone_quiet(host_row: Host) -> Host:
    """The test host with its worker stopped long ago."""
    host_row.last_heartbeat = timezone.now() - timezone.timedelta(hours=1)
    host_row.machine_id = "0123456789abcdef"
    host_row.save()
    return host_row


def forget(client, host: Host):
    return client.post(f"/hosts/{host.uuid}/forget/", **PEER)


def audits(host: Host) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="forget-host", object_uuid=host.uuid))


def test_an_empty_offline_host_is_forgotten(client, alice, gone_quiet):
    Backend.objects.create(
        host=gone_quiet, kind="file", name="old", params={},
        desired_state="absent", observed_state="absent",
    )  # fmt: skip
    Job.objects.create(host=gone_quiet, kind="discover", state="succeeded")
    Sample.objects.create(host=gone_quiet, at=timezone.now())
    client.force_login(alice)

    r = forget(client, gone_quiet)

    assert r.status_code == 302 and r["Location"] == "/"
    assert not Host.objects.filter(pk=gone_quiet.pk).exists()
    assert not Job.objects.filter(host_id=gone_quiet.pk).exists()
    assert not Sample.objects.filter(host_id=gone_quiet.pk).exists()
    [event] = audits(gone_quiet)
    assert (event.outcome, event.actor, event.object_repr) == ("ok", alice, "testhost")
    assert event.source_ip == "192.0.2.33"
    assert event.host is None  # the host is gone; the event stays
    assert event.detail["machine_id"] == "0123456789abcdef"
    assert event.detail["jobs_removed"] == 1 and event.detail["destroyed_backends_removed"] == 1


def test_a_host_with_a_backend_is_refused_and_kept(client, alice, gone_quiet):
    Backend.objects.create(host=gone_quiet, kind="file", name="swap0", params={})
    client.force_login(alice)

    r = forget(client, gone_quiet)

    assert r.status_code == 302 and r["Location"] == f"/hosts/{gone_quiet.uuid}/"
    page = client.get(r["Location"]).content.decode()
    assert "testhost still has 1 backend (swap0): destroy them first" in page
    assert Host.objects.filter(pk=gone_quiet.pk).exists()
    assert Backend.objects.filter(host=gone_quiet).count() == 1
    [event] = audits(gone_quiet)
    assert event.outcome == "refused" and "swap0" in event.detail["reason"]


def test_a_host_whose_worker_reports_is_refused(client, alice, host_row):
    client.force_login(alice)  # host_row's heartbeat is fresh

    r = forget(client, host_row)

    assert r.status_code == 302
    assert Host.objects.filter(pk=host_row.pk).exists()
    [event] = audits(host_row)
    assert event.outcome == "refused" and "still reporting" in event.detail["reason"]


def test_a_host_with_a_live_job_is_refused(client, alice, gone_quiet):
    job = Job.objects.create(host=gone_quiet, kind="discover", state="queued")
    client.force_login(alice)

    forget(client, gone_quiet)

    assert Host.objects.filter(pk=gone_quiet.pk).exists()
    [event] = audits(gone_quiet)
    assert event.outcome == "refused" and str(job.uuid) in event.detail["reason"]


def test_a_host_still_enrolled_is_refused(client, alice, gone_quiet):
    """Its role could still log in after the host's rows are gone: revoke it first."""
    HostCredential.objects.create(
        host=gone_quiet, pg_role="swapadmin_host_testhost", redis_user="host-testhost"
    )
    client.force_login(alice)

    forget(client, gone_quiet)

    assert Host.objects.filter(pk=gone_quiet.pk).exists()
    [event] = audits(gone_quiet)
    assert event.outcome == "refused" and "revoke them first" in event.detail["reason"]


@pytest.mark.parametrize("persona", ["oscar", "victor"])
def test_only_an_admin_may(client, request, persona, gone_quiet):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    r = forget(client, gone_quiet)

    assert r.status_code == 403
    assert Host.objects.filter(pk=gone_quiet.pk).exists()
    [event] = audits(gone_quiet)
    assert (event.outcome, event.actor) == ("refused", user)


def test_the_button_is_on_the_page_for_admins_only(client, alice, oscar, gone_quiet):
    client.force_login(alice)
    assert (
        f'action="/hosts/{gone_quiet.uuid}/forget/"'
        in client.get(f"/hosts/{gone_quiet.uuid}/").content.decode()
    )
    client.force_login(oscar)
    assert "/forget/" not in client.get(f"/hosts/{gone_quiet.uuid}/").content.decode()
