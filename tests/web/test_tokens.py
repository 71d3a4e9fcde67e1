"""The tokens page: it lists my tokens with name, created, expiry and last use; the form
makes one and shows its secret in that answer only; revoke redraws the list; an admin sees
everyone's; a user without a role gets 403; bad input is a 422 naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import AuditEvent
from tests.fixtures.tokens import token_for

from .conftest import htmx


def test_it_lists_my_tokens_with_name_and_expiry(as_user: Any, oscar: User) -> None:
    secret = token_for(oscar, name="ansible on bastion", days=10)
    APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/")  # now "last used"
    token = ApiToken.objects.get(user=oscar)
    r = as_user(oscar).get(reverse("tokens"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "ansible on bastion" in body
    assert f'<time datetime="{token.expiry:%Y-%m-%dT%H:%M:%S}' in body
    assert f"{token.expiry:%Y-%m-%d %H:%M}" in body
    assert f'<time datetime="{token.last_used_at:%Y-%m-%dT%H:%M:%S}' in body
    assert secret not in body
    assert 'href="/tokens/" aria-current="page"' in body  # in the nav, marked as here


def test_it_makes_a_token_and_shows_the_secret_once(as_user: Any, victor: User) -> None:
    client = as_user(victor)
    r = client.post(reverse("tokens"), {"name": "grafana", "expires_in_days": "90"})
    assert r.status_code == 201
    token = ApiToken.objects.get(user=victor)
    assert token.name == "grafana"
    assert abs(token.expiry - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    body = r.content.decode()
    start = body.index('<code class="mono" id="secret">') + len('<code class="mono" id="secret">')
    secret = body[start : body.index("</code>", start)]
    assert len(secret) == 64
    assert APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/").status_code == 200

    # Shown once: the page drawn again has the token, not its secret.
    again = client.get(reverse("tokens")).content.decode()
    assert "grafana" in again and secret not in again
    assert AuditEvent.objects.get(action="token_create").via == "page"


def test_htmx_gets_the_section_only(as_user: Any, oscar: User) -> None:
    r = as_user(oscar).post(
        reverse("tokens"), {"name": "cron", "expires_in_days": "7"}, headers=htmx("tokens")
    )
    assert r.status_code == 201
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="tokens"')
    assert "<html" not in body and 'id="secret"' in body


def test_bad_input_is_422_naming_the_field_and_makes_nothing(as_user: Any, oscar: User) -> None:
    client = as_user(oscar)
    for data, words in (
        ({"name": "", "expires_in_days": "7"}, "This field is required"),
        ({"name": "x", "expires_in_days": "366"}, "less than or equal to 365"),
        ({"name": "x", "expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": "x", "expires_in_days": "soon"}, "Enter a whole number"),
    ):
        r = client.post(reverse("tokens"), data, headers=htmx("tokens"))
        assert r.status_code == 422, data
        assert words in r.content.decode(), data
    assert not ApiToken.objects.exists()


def test_revoke_redraws_the_list(as_user: Any, oscar: User) -> None:
    token_for(oscar, name="old laptop")
    code = ApiToken.objects.get(user=oscar).code
    r = as_user(oscar).post(reverse("token-revoke", args=[code]), headers=htmx("tokens"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Token “old laptop” of oscar revoked" in body
    assert f'data-token="{code}"' not in body
    assert not ApiToken.objects.exists()


def test_an_admin_sees_everyones_tokens(as_user: Any, alice: User, oscar: User) -> None:
    token_for(oscar, name="oscar cli")
    body = as_user(alice).get(reverse("tokens")).content.decode()
    assert "Everyone&#x27;s tokens" in body or "Everyone's tokens" in body
    assert "oscar cli" in body and "<td>oscar</td>" in body


def test_a_user_without_a_role_gets_403(as_user: Any, nora: User) -> None:
    client = as_user(nora)
    assert client.get(reverse("tokens")).status_code == 403
    assert client.post(reverse("tokens"), {"name": "x", "expires_in_days": "1"}).status_code == 403
    assert not ApiToken.objects.exists()
