from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Host, Job

from .conftest import HTMX


def url(host: Host) -> str:
    return reverse("host-discover", args=[host.uuid])


def test_adopt_queues_a_discover_job_for_that_area(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    r = as_user(alice).post(url(observed_host), {"path": "/dev/vdb2"}, headers=HTMX)
    assert r.status_code == 200
    job = Job.objects.get(kind="discover", host=observed_host)
    assert job.params == {"paths": ["/dev/vdb2"]}
    assert "discover testhost: queued" in r.content.decode()


def test_adopt_all_queues_a_discover_job_for_every_area(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    r = as_user(alice).post(url(observed_host), {}, headers=HTMX)
    assert r.status_code == 200
    assert Job.objects.get(kind="discover", host=observed_host).params == {}


def test_a_relative_path_is_refused(as_user: Any, alice: User, observed_host: Host) -> None:
    r = as_user(alice).post(url(observed_host), {"path": "swapfile"}, headers=HTMX)
    assert r.status_code == 422
    assert "neither an absolute path" in r.content.decode()
    assert not Job.objects.exists()


def test_without_htmx_it_redirects_back_with_a_message(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    r = as_user(alice).post(url(observed_host), {"path": "/dev/vdb2"}, follow=True)
    assert r.redirect_chain[-1][0] == reverse("host", args=[observed_host.uuid])
    assert "discover testhost: queued" in r.content.decode()


def test_it_requires_the_admin_role(as_user: Any, oscar: User, observed_host: Host) -> None:
    r = as_user(oscar).post(url(observed_host), {"path": "/dev/vdb2"}, headers=HTMX)
    assert r.status_code == 403
    assert "discover needs the admin role" in r.content.decode()
    assert not Job.objects.exists()
    assert AuditEvent.objects.filter(action="discover", outcome="refused").exists()


def test_it_says_busy_while_discovering(as_user: Any, alice: User, observed_host: Host) -> None:
    Job.objects.create(kind="discover", host=observed_host, state="queued")
    r = as_user(alice).post(url(observed_host), {"path": "/dev/vdb2"}, headers=HTMX)
    assert r.status_code == 409
    assert "busy: discover job" in r.content.decode()
