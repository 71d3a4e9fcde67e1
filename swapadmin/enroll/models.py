"""Which database role and broker user may act for which host.

Row-level security (migration 0002) reads this table, through a SECURITY DEFINER function,
to decide which rows a host's role sees: a role with no live credential sees nothing."""

from __future__ import annotations

from django.db import models

from swapadmin.core.models import Host


class HostCredential(models.Model):
    # CASCADE: a forgotten host takes its credentials along, and its role then matches no
    # row at all (the policies look its host up here). Revoke first to end its sessions.
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="credentials")
    pg_role = models.CharField(max_length=63, unique=True)
    redis_user = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One live credential per host: a second enrolment must revoke the first.
            models.UniqueConstraint(
                fields=["host"],
                condition=models.Q(revoked_at__isnull=True),
                name="enroll_one_live_credential_per_host",
            )
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"{self.pg_role} for {self.host} ({state})"
