"""DRF authentication by knox token (``Authorization: Token <secret>``), recording when each
token was last used so the tokens page can show what is still in use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication

from .models import ApiToken

#: At most one write per token in this time: every API call writing a row would contend
#: for SQLite's single writer lock in the embedded setup, for a date shown to the minute.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenAuthentication(KnoxTokenAuthentication):  # type: ignore[misc]  # knox publishes no types
    def validate_user(self, auth_token: ApiToken) -> tuple[Any, ApiToken]:
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token
