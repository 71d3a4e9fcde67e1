from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Host, Job

from .conftest import cover, htmx

GOOD = {
    "swappiness": "30",
    "page_cluster": "0",
    "zswap_enabled": "on",
    "zswap_compressor": "zstd",
    "zswap_max_pool_percent": "25",
    "persist": "",
}


def url(host: Host) -> str:
    return reverse("host-tune", args=[host.uuid])


def test_it_queues_a_tune_job(as_user: Any, alice: User, observed_host: Host) -> None:
    r = as_user(alice).post(url(observed_host), GOOD, headers=htmx("tune"))
    assert r.status_code == 200
    job = Job.objects.get(kind="tune")
    # The names backends.tunables.apply_tunables takes, and persist for the job.
    assert job.params == {
        "swappiness": 30,
        "page_cluster": 0,
        "zswap_enabled": True,
        "zswap_compressor": "zstd",
        "zswap_max_pool_percent": 25,
        "persist": False,
    }
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="tune"')
    assert 'id="flash" class="flash" role="status" aria-live="polite" hx-swap-oob="true"' in body
    assert r["HX-Trigger"] == "swapadmin:changed"


def test_it_shows_errors_beside_the_field(as_user: Any, alice: User, observed_host: Host) -> None:
    r = as_user(alice).post(url(observed_host), {**GOOD, "swappiness": "250"}, headers=htmx("tune"))
    assert r.status_code == 422
    body = r.content.decode()
    assert 'aria-invalid="true"' in body
    assert 'id="id_swappiness_error"' in body
    assert "less than or equal to 200" in body
    assert not Job.objects.exists()


def test_it_requires_the_admin_role(as_user: Any, oscar: User, observed_host: Host) -> None:
    r = as_user(oscar).post(url(observed_host), GOOD)
    assert r.status_code == 403
    assert not Job.objects.exists()
    assert AuditEvent.objects.get(action="tune").outcome == "refused"


def test_it_says_busy_while_a_tune_job_is_live(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    held = Job.objects.create(kind="tune", host=observed_host, state="running")
    r = as_user(alice).post(url(observed_host), GOOD, headers=htmx("tune"))
    assert r.status_code == 409
    assert f"busy: tune job {held.uuid} is running" in r.content.decode()


def test_without_zswap_it_offers_and_sends_no_zswap_fields(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    observed_host.observed["tunables"].update(
        zswap_enabled=None, zswap_compressor=None, zswap_max_pool_percent=None
    )
    observed_host.save()
    page = as_user(alice).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert "this kernel has no zswap" in page and 'name="zswap_enabled"' not in page
    as_user(alice).post(url(observed_host), GOOD, headers=htmx("tune"))
    assert Job.objects.get(kind="tune").params == {
        "swappiness": 30,
        "page_cluster": 0,
        "persist": False,
    }


def test_a_refused_form_keeps_the_pages_adopt_marks(
    as_user: Any, alice: User, observed_host: Host, vdb2_elsewhere: Backend
) -> None:
    """Without htmx, a refused form comes back on the whole host page, drawn as the page is:
    its dynamic swap form is there, and an area that a backend of another name of this
    machine manages is offered no Adopt. Before, that page lacked the dynamic swap form and
    failed to draw (a server error instead of the form's errors), and the htmx form's page
    drew the snapshot read for the form, without the page's Adopt marks."""
    cover(vdb2_elsewhere)

    r = as_user(alice).post(url(observed_host), {**GOOD, "swappiness": "250"})

    assert r.status_code == 422
    body = r.content.decode()
    assert "less than or equal to 200" in body
    assert 'id="dynamic-swap-submit"' in body
    assert 'aria-label="Adopt /dev/vdb2"' not in body
    assert "Cannot be adopted: it is the store of backend &#x27;was-vdb2&#x27;" in body
    assert not Job.objects.exists()


def test_a_refused_forms_page_links_to_the_host_page_not_the_form(
    as_user: Any, alice: User, observed_host: Host, backend: Backend
) -> None:
    """The refused form's page is drawn at the form's address, which takes only POST: its
    chart ranges and the way back from a backend's action name the host page. Before, they
    were relative to the page's path, and led to a 405."""
    r = as_user(alice).post(url(observed_host), {**GOOD, "swappiness": "250"})
    assert r.status_code == 422
    body = r.content.decode()
    host_page = reverse("host", args=[observed_host.uuid])
    assert f'href="{host_page}?range=day"' in body
    assert 'href="?range=' not in body
    assert f'name="next" value="{host_page}"' in body
    assert f'name="next" value="{url(observed_host)}"' not in body


def test_a_refused_form_asked_for_by_another_part_gets_the_whole_page(
    as_user: Any, alice: User, observed_host: Host
) -> None:
    """An htmx request naming a part the page has no partial for gets the whole page, with
    all it needs: before, the whole page was drawn with only the parts' context, and an
    admin's page failed on the forms it lacked."""
    r = as_user(alice).post(
        url(observed_host), {**GOOD, "swappiness": "250"}, headers=htmx("dynamic-swap")
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert "less than or equal to 200" in body
    assert 'id="dynamic-swap-submit"' in body
