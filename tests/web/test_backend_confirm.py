from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from backends import SwapBackend
from swapadmin.core.models import Backend, Job
from swapadmin.web import views


def url(b: Backend, action: str = "destroy") -> str:
    return reverse("backend-confirm", args=[b.uuid, action])


def test_it_names_what_will_be_lost(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).get(url(backend))
    assert r.status_code == 200
    body = r.content.decode()
    assert f"The swap file {backend.params['path']} (256 MiB) is deleted." in body
    assert 'id="id_confirm"' in body  # force, with the name typed
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("zram", "The zram device /dev/zram7 is reset and removed, and its contents lost."),
        ("loop", "The loop device /dev/zram7 is detached and its backing file removed"),
        ("block", "/dev/zram7 is released; its swap signature is no longer managed."),
        # A kind this control plane has not installed: what any kind's destroy does.
        ("not-installed-here", "/dev/zram7 is released; its swap signature is no longer"),
    ],
)
def test_each_kind_says_what_its_destroy_removes(
    as_user: Any, alice: User, backend: Backend, kind: str, says: str
) -> None:
    Backend.objects.filter(pk=backend.pk).update(kind=kind, info={"swap_path": "/dev/zram7"})
    body = as_user(alice).get(url(backend)).content.decode()
    assert says in body and "is deleted" not in body


def test_a_plugin_that_fails_to_say_gets_what_any_kind_says(
    as_user: Any, alice: User, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(SwapBackend):
        name = "broken"
        label = "Broken"

        @classmethod
        def destroy_removes(cls, path: str, size: str) -> str:
            raise KeyError("path")

    monkeypatch.setattr(views, "_plugin", lambda kind: Broken)
    r = as_user(alice).get(url(backend))
    assert r.status_code == 200
    assert "is released; its swap signature is no longer managed." in r.content.decode()


def test_an_active_backend_says_its_pages_go_back_to_ram(
    as_user: Any, alice: User, backend: Backend
) -> None:
    Backend.objects.filter(pk=backend.pk).update(observed_state="active", used_bytes=3 << 20)
    body = as_user(alice).get(url(backend)).content.decode()
    assert "(3.0 MiB) back into RAM" in body


def test_an_adopted_area_is_only_released(as_user: Any, alice: User, backend: Backend) -> None:
    Backend.objects.filter(pk=backend.pk).update(adopted=True)
    body = as_user(alice).get(url(backend)).content.decode()
    assert "stops managing" in body and "is deleted" not in body


def test_it_requires_the_admin_role(as_user: Any, oscar: User, backend: Backend) -> None:
    assert as_user(oscar).get(url(backend)).status_code == 403


def test_an_operator_may_deactivate_but_not_force(
    as_user: Any, oscar: User, backend: Backend
) -> None:
    body = as_user(oscar).get(url(backend, "deactivate")).content.decode()
    assert "back into RAM" in body
    assert 'id="id_confirm"' not in body
    r = as_user(oscar).post(
        reverse("backend-action", args=[backend.uuid, "deactivate"]),
        {"force": "on", "confirm": "swap1"},
    )
    assert r.status_code == 403
    assert not Job.objects.exists()


def test_force_deactivate_is_offered_to_admins_only(
    as_user: Any, alice: User, oscar: User, backend: Backend
) -> None:
    Backend.objects.filter(pk=backend.pk).update(observed_state="active")
    page = reverse("host", args=[backend.host.uuid])
    assert f'id="force-deactivate-{backend.uuid}"' in as_user(alice).get(page).content.decode()
    assert f'id="force-deactivate-{backend.uuid}"' not in as_user(oscar).get(page).content.decode()


def test_force_deactivate_with_the_name_typed(as_user: Any, alice: User, backend: Backend) -> None:
    Backend.objects.filter(pk=backend.pk).update(observed_state="active")
    r = as_user(alice).post(
        reverse("backend-action", args=[backend.uuid, "deactivate"]),
        {"force": "on", "confirm": "swap1"},
    )
    assert r.status_code == 302
    assert Job.objects.get(backend=backend).params == {"force": True}


def test_a_forced_provision_says_what_it_overwrites(
    as_user: Any, alice: User, backend: Backend
) -> None:
    Backend.objects.filter(pk=backend.pk).update(provisioned_at=None)  # its first refused
    r = as_user(alice).get(url(backend, "provision"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Nothing, unless you force it." in body
    assert f"whatever {backend.params['path']} holds now" in body


#: What each forced action's confirm page says force skips, pinned apart from the table.
FORCE_SKIPS = {
    "provision": "Force skips the check of what the store holds (a filesystem, a partition "
    "table, a file swapadmin did not make), which the provision overwrites.",
    "deactivate": "Force skips the check that the pages swapped to it fit in the RAM left.",
    "destroy": "Force skips the check that the pages swapped to it, if it is active, fit in "
    "the RAM left.",
}


@pytest.mark.parametrize("action", sorted(FORCE_SKIPS))
def test_its_force_says_what_this_action_skips_and_no_other(
    as_user: Any, alice: User, backend: Backend, action: str
) -> None:
    body = as_user(alice).get(url(backend, action)).content.decode()
    assert FORCE_SKIPS[action] in body
    for other, says in FORCE_SKIPS.items():
        if other != action:
            assert says not in body, other


def test_one_who_may_not_force_is_not_told_what_force_skips(
    as_user: Any, oscar: User, backend: Backend
) -> None:
    r = as_user(oscar).get(url(backend, "deactivate"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "This is what will be lost" in body
    assert "Force skips" not in body and 'id="id_confirm"' not in body


@pytest.mark.parametrize("action", ["scan", "benchmark"])
def test_a_force_sent_for_an_action_that_takes_none_is_no_confirm_page(
    as_user: Any, alice: User, backend: Backend, action: str
) -> None:
    """A refused scan of an adopted area with a hand-made "force" is refused as any refused
    scan is: no confirm page that offers a force the action does not take."""
    Backend.objects.filter(pk=backend.pk).update(adopted=True)
    post = reverse("backend-action", args=[backend.uuid, action])
    r = as_user(alice).post(post, {"force": "on", "confirm": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    body = r.content.decode()
    assert "adopted" in body
    assert "Force skips" not in body and 'id="id_confirm"' not in body
    assert not Job.objects.exists()


def test_a_forced_provision_of_an_adopted_area_is_no_confirm_page(
    as_user: Any, alice: User, backend: Backend
) -> None:
    """Provision takes force, but never on an adopted area: its refusal is no confirm page
    offering a force that would only be refused again, as its GET is none either."""
    Backend.objects.filter(pk=backend.pk).update(adopted=True, provisioned_at=None)
    assert as_user(alice).get(url(backend, "provision")).status_code == 404
    post = reverse("backend-action", args=[backend.uuid, "provision"])
    r = as_user(alice).post(post, {"force": "on", "confirm": backend.name}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422
    body = r.content.decode()
    assert "a provision takes its store and writes a swap header on it" in body
    assert "Force skips" not in body and 'id="id_confirm"' not in body
    assert not Job.objects.exists()
