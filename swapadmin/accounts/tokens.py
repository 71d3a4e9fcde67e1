"""Creating, listing and revoking API tokens: the one place pages, the API and the
management command go through, so each is validated and audited the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from swapadmin.core import roles, services
from swapadmin.core.models import AuditEvent

from .models import MAX_DAYS, NAME_MAX, ApiToken


def clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise services.InvalidRequest.one("name", "a token needs a name (what uses it)")
    cleaned = name.strip()
    if len(cleaned) > NAME_MAX:
        raise services.InvalidRequest.one("name", f"at most {NAME_MAX} characters")
    return cleaned


def clean_days(days: Any) -> int:
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days.strip())
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise services.InvalidRequest.one(
            "expires_in_days", f"a whole number of days from 1 to {MAX_DAYS}"
        )
    return days


def is_admin(user: Any) -> bool:
    return roles.role_of(user) >= roles.Role.ADMIN


def visible_to(user: Any) -> QuerySet[ApiToken]:
    """An admin sees every token (to revoke a leaked one of anyone's); others their own."""
    tokens: QuerySet[ApiToken] = ApiToken.objects.select_related("user", "parent").order_by(
        "-created", "digest"
    )
    return tokens if is_admin(user) else tokens.filter(user=user)


def create(
    user: AbstractBaseUser,
    name: Any,
    days: Any,
    actor: services.Actor,
    *,
    parent: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the secret, which is not kept anywhere.

    ``parent``: the token that asks, if one does. The new token may not outlive it (or a
    stolen short-lived token would mint itself a year), and is revoked with it."""
    name, days = clean_name(name), clean_days(days)
    expiry = timezone.now() + timedelta(days=days)
    not_after = parent.expiry if parent is not None else None
    if not_after is not None and expiry > not_after:
        raise services.InvalidRequest.one(
            "expires_in_days",
            f"a token cannot outlive the token that makes it (that one expires "
            f"{not_after:%Y-%m-%d %H:%M} UTC); sign in to make a longer-lived one",
        )
    with transaction.atomic():
        token, secret = ApiToken.objects.create(
            user, expiry=timedelta(days=days), name=name, parent=parent
        )
        detail = {"expires": token.expiry.isoformat(), "days": days}
        if parent is not None:
            detail["parent"] = str(parent.code)
        _audit(actor, "token_create", token, detail)
    return token, secret


def descendants(token: ApiToken) -> list[ApiToken]:
    """Every token ``token`` minted, and those minted in turn, one query per generation."""
    found: list[ApiToken] = []
    generation = list(ApiToken.objects.filter(parent=token))
    while generation:
        found.extend(generation)
        generation = list(ApiToken.objects.filter(parent__in=generation))
    return found


def revoke(token: ApiToken, actor: services.Actor) -> None:
    """Delete the row, and (by the ``parent`` CASCADE) every token it minted, recursively:
    the next request with any of their secrets finds no digest to match."""
    with transaction.atomic():
        minted = descendants(token)
        detail: dict[str, Any] = {"owner": token.user.get_username()}
        if minted:
            # The trail names what went with it: those tokens get no audit event of their own.
            detail["with_minted"] = [f"{t.name} ({t.code})" for t in minted]
        _audit(actor, "token_revoke", token, detail)
        token.delete()


def _audit(actor: services.Actor, action: str, token: ApiToken, detail: dict[str, Any]) -> None:
    # services.audit takes hosts, backends and jobs; a token is none of those.
    AuditEvent.objects.create(
        actor=actor.account,
        actor_name=actor.name,
        via=actor.via,
        action=action,
        object_type="token",
        object_uuid=token.code,
        object_repr=f"token {token.name!r} of {token.user.get_username()}"[:255],
        source_ip=actor.ip,
        outcome=AuditEvent.Outcome.OK,
        detail=detail,
    )
