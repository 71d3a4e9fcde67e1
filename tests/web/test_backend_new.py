from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Host, Job

from .conftest import htmx

URL = reverse("backend-new")


def fields(host: Host, swap_root: Path, **over: str) -> dict[str, str]:
    data = {
        "host": str(host.uuid),
        "kind": "file",
        "name": "swap2",
        "size_mib": "64",
        "priority": "5",
        "discard": "",
        "label": "fast",
        "param_path": str(swap_root / "swap2"),
    }
    data.update(over)
    return data


def test_it_builds_the_form_from_the_plugin(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).get(URL)
    assert r.status_code == 200
    body = r.content.decode()
    # The file plugin declares one parameter, "path", labelled "Path", with help text.
    assert '<label for="id_param_path">Path' in body
    assert "inside one of the host&#x27;s swap roots" in body
    assert f'value="{swap_root}/"' in body  # prefilled with the host's swap root
    assert '<label for="id_size_mib">Size (MiB)' in body
    assert '<option value="file" selected>Swap file</option>' in body


def test_its_partial_follows_the_chosen_kind(as_user: Any, alice: User, host_row: Host) -> None:
    r = as_user(alice).get(URL + f"?kind=file&host={host_row.uuid}", headers=htmx("new-form"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="new-form"')
    assert "Swap file on testhost" in body


def test_review_summarises_and_creates_nothing(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(URL, fields(host_row, swap_root), headers=htmx("new-form"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "What will happen" in body
    assert f"Create {swap_root}/swap2 (64.0 MiB), allocate every block" in body
    assert "label “fast”" in body and "then at priority 5" in body
    assert 'id="create-submit"' in body
    assert not Backend.objects.exists() and not Job.objects.exists()


def test_create_registers_the_backend_and_queues_provision(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(URL, {**fields(host_row, swap_root), "step": "create"})
    b = Backend.objects.get(name="swap2")
    assert r.status_code == 302 and r["Location"] == reverse("backend", args=[b.uuid])
    assert b.size_bytes == 64 << 20 and b.priority == 5 and b.label == "fast"
    assert b.params == {"path": str(swap_root / "swap2")}
    assert Job.objects.get(backend=b).kind == "provision"
    assert AuditEvent.objects.get(action="create").actor_name == "alice"


def test_with_htmx_create_sends_the_browser_to_the_backend(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(
        URL, {**fields(host_row, swap_root), "step": "create"}, headers=htmx("new-form")
    )
    assert r.status_code == 204
    assert r["HX-Redirect"] == reverse("backend", args=[Backend.objects.get().uuid])


def test_a_path_outside_the_swap_roots_is_refused_beside_the_field(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(
        URL, fields(host_row, swap_root, param_path="/etc/passwd"), headers=htmx("new-form")
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert 'id="id_param_path_error"' in body
    assert 'aria-invalid="true"' in body
    assert "What will happen" not in body
    assert not Backend.objects.exists()


def test_a_taken_name_is_refused_beside_the_name(
    as_user: Any, alice: User, host_row: Host, swap_root: Path, backend: Backend
) -> None:
    r = as_user(alice).post(URL, fields(host_row, swap_root, name="swap1"))
    assert r.status_code == 422
    assert 'id="id_name_error"' in r.content.decode()
    assert "already has a backend named" in r.content.decode()


def test_a_size_that_is_not_whole_pages_is_refused(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(URL, fields(host_row, swap_root, size_mib=""))
    assert r.status_code == 422
    assert 'id="id_size_mib_error"' in r.content.decode()


def test_edit_goes_back_to_the_form_with_the_values(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(URL, {**fields(host_row, swap_root), "step": "edit"})
    body = r.content.decode()
    assert 'name="name" value="swap2"' in body and "What will happen" not in body


def test_it_requires_the_admin_role(
    as_user: Any, oscar: User, host_row: Host, swap_root: Path
) -> None:
    assert as_user(oscar).get(URL).status_code == 403
    r = as_user(oscar).post(URL, {**fields(host_row, swap_root), "step": "create"})
    assert r.status_code == 403
    assert not Backend.objects.exists()
