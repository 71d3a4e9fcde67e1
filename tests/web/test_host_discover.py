from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Host, Job

from .conftest import HTMX, cover


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


def test_an_area_no_discover_can_adopt_is_offered_no_adopt_button(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    """The sampler marks an area whose name is not UTF-8 (shown escaped): its row says why
    instead of offering a button whose job would only refuse, and "Adopt" counts the rest."""
    odd = {**observed_host.observed["unmanaged"][0], "path": "/swap/odd-\\xff"}
    odd["unadoptable"] = "its name is not UTF-8, which no backend's path can be"
    observed_host.observed["unmanaged"].append(odd)
    observed_host.save(update_fields=["observed"])
    page = as_user(alice).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert 'aria-label="Adopt /dev/vdb2"' in page
    assert 'aria-label="Adopt /swap/odd-\\xff"' not in page
    assert "Cannot be adopted: its name is not UTF-8, which no backend" in page
    assert ">Adopt it</button>" in page

    observed_host.observed["unmanaged"] = [odd]
    observed_host.save(update_fields=["observed"])
    page = as_user(alice).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert 'id="adopt"' not in page
    assert "None of these can be adopted, as each row says." in page


def test_an_area_another_name_of_the_machine_manages_is_offered_no_adopt_button(
    as_user: Any, alice: User, observed_host: Host, vdb2_elsewhere: Backend
) -> None:
    """The machine is known by a second host name (renamed, a second worker) whose backend
    manages /dev/vdb2: a discover here would pass over it saying so, and the page says the
    same instead of offering Adopt. Another name's destroyed backend covers nothing."""
    page = as_user(alice).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert 'aria-label="Adopt /dev/vdb2"' in page

    cover(vdb2_elsewhere)
    page = as_user(alice).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert 'aria-label="Adopt /dev/vdb2"' not in page
    assert (
        "Cannot be adopted: it is the store of backend &#x27;was-vdb2&#x27; on this machine "
        "already (host oldname)" in page
    )
    # The Host row's snapshot is left as the sampler wrote it.
    assert "unadoptable" not in Host.objects.get(pk=observed_host.pk).observed["unmanaged"][0]
