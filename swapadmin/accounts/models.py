"""API tokens: knox keeps only a SHA-512 digest of each secret and an expiry; we add a name,
a public id for URLs, and when it was last used, so a sysadmin can tell tokens apart and
revoke the right one.

A token's row holds the digest and ``token_key``, the secret's first 15 characters (knox
looks rows up by it; 60 of the secret's 256 bits, useless without the rest). The secret
itself exists only in the answer that created it.

A token made by a request that a token authenticated records that token as its ``parent``,
and dies with it: otherwise a thief would mint himself tokens first, and revoking the
stolen one would leave him the rest.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken

#: The longest a token may live: a forgotten token should not outlive a year's rotation.
MAX_DAYS = 365
NAME_MAX = 64


class ApiToken(AbstractAuthToken):  # type: ignore[misc]  # knox publishes no types
    # Annotated: the model plugin cannot see a model through knox's untyped base class.
    code: models.UUIDField[uuid.UUID, uuid.UUID] = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False
    )
    name: models.CharField[str, str] = models.CharField(max_length=NAME_MAX)
    last_used_at: models.DateTimeField[datetime | None, datetime | None] = models.DateTimeField(
        null=True, blank=True
    )
    # CASCADE is the revocation: deleting a token deletes what it minted, and what those
    # minted, in the same transaction. None for a token made by a person who signed in.
    parent: models.ForeignKey[ApiToken | None, ApiToken | None] = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def expired(self) -> bool:
        return self.expiry is not None and self.expiry <= timezone.now()
