"""The Django admin lets in the admin role, whatever ``is_staff`` says: a viewer or an
operator flagged as staff is refused (at the door and at its login form), an admin-role
account that is not staff gets in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from swapadmin.core.adminsite import NOT_ADMIN
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def staff(user: User) -> User:
    user.is_staff = True
    user.save()
    return user


@pytest.mark.parametrize("persona", ["victor", "oscar", "nora"])
def test_staff_without_the_admin_role_is_sent_away(client, request, persona):
    user = staff(request.getfixturevalue(persona))
    client.force_login(user)

    for url in ("/admin/", "/admin/core/host/", "/admin/core/auditevent/"):
        r = client.get(url)
        assert r.status_code == 302, (url, r.status_code)
        assert r["Location"].startswith("/admin/login/"), r["Location"]


@pytest.mark.parametrize("persona", ["victor", "oscar", "nora"])
def test_the_admin_login_form_refuses_staff_without_the_role(client, request, persona):
    user = staff(request.getfixturevalue(persona))

    r = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})

    assert r.status_code == 200
    assert NOT_ADMIN in r.content.decode()
    assert client.get("/admin/").status_code == 302


def test_the_admin_role_gets_in_without_is_staff(client, alice):
    assert not alice.is_staff
    r = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/admin/", r.content.decode()[:500]

    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/core/host/" in index.content


def test_losing_the_admin_role_closes_the_admin(client, alice):
    client.force_login(alice)
    assert client.get("/admin/").status_code == 200
    alice.groups.clear()
    assert client.get("/admin/").status_code == 302
