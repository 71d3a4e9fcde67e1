from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.fixtures.people import PASSWORD


def test_it_shows_the_login_form(client: Client) -> None:
    r = client.get(reverse("login"))
    assert r.status_code == 200
    body = r.content.decode()
    assert '<label for="id_username">' in body
    assert '<label for="id_password">' in body


def test_it_logs_in_and_lands_on_the_overview(client: Client, alice: User) -> None:
    r = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == reverse("overview")


def test_it_refuses_a_wrong_password(client: Client, alice: User) -> None:
    r = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert r.status_code == 200
    assert 'role="alert"' in r.content.decode()


def test_every_page_needs_a_login(client: Client) -> None:
    for name in ("overview", "jobs", "audit", "backend-new"):
        r = client.get(reverse(name))
        assert r.status_code == 302, name
        assert r["Location"].startswith(reverse("login")), name


def test_it_logs_out(client: Client, alice: User) -> None:
    client.force_login(alice)
    r = client.post(reverse("logout"))
    assert r.status_code == 302
    assert client.get(reverse("overview")).status_code == 302
