"""Health: every check's result, each backend's and host's current health, and the events
raised when it changes.

A check stores a ``CheckResult`` (one per backend, plus a host-level one for what belongs to
the whole host: memory pressure, swap-in rate). ``BackendHealth`` and ``HostHealth`` hold the
current status, the worst of the latest results, so pages and the API read one row per
object with ``select_related`` instead of searching the history. A change of that status
(and a host going offline or coming back) is a ``HealthEvent``, which is what gets notified.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job


class Status(models.TextChoices):
    UNKNOWN = "unknown"  # never checked
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


SEVERITY = {Status.UNKNOWN: -1, Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


def worst(statuses: Iterable[str], default: str = Status.OK) -> str:
    """The most severe of ``statuses`` ("unknown" counts below ok); ``default`` when empty."""
    found = [Status(s) for s in statuses]
    if not found:
        return default
    return str(max(found, key=lambda s: SEVERITY[s]).value)


class CheckResult(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="check_results")
    #: None for a host-level result (pressure, swap-in rate, total swap use).
    backend = models.ForeignKey(
        Backend, null=True, blank=True, on_delete=models.CASCADE, related_name="check_results"
    )
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="check_results"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    #: [{"check": str, "status": "ok"|"warn"|"fail", "message": str, "value": any}, ...]
    findings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["backend", "at"]),
            models.Index(fields=["host", "backend", "at"]),
        ]

    def __str__(self) -> str:
        what = self.backend_id and f"backend {self.backend_id}" or f"host {self.host_id}"
        return f"{what} {self.status} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def worst_finding(self) -> dict[str, Any] | None:
        if not self.findings:
            return None
        findings: list[dict[str, Any]] = self.findings
        return max(findings, key=lambda f: SEVERITY[Status(f["status"])])


class BackendHealth(models.Model):
    backend = models.OneToOneField(Backend, on_delete=models.CASCADE, related_name="health")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    checked_at = models.DateTimeField(null=True, blank=True)
    #: The worst finding's message, for lists and alerts.
    summary = models.CharField(max_length=500, blank=True)
    last_result = models.ForeignKey(
        CheckResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Drift repair back-off: attempts since the area was last seen as desired, and the
    #: earliest time the next repair job may be queued.
    repair_attempts = models.PositiveIntegerField(default=0)
    next_repair_at = models.DateTimeField(null=True, blank=True)
    last_repair_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "backend health"

    def __str__(self) -> str:
        return f"{self.backend} {self.status}"


class HostHealth(models.Model):
    host = models.OneToOneField(Host, on_delete=models.CASCADE, related_name="health")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    checked_at = models.DateTimeField(null=True, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    last_result = models.ForeignKey(
        CheckResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Online as the offline sweep last saw it (None before its first look), so a change
    #: raises one event rather than one per sweep.
    online = models.BooleanField(null=True, blank=True)
    #: When the control plane asked the host's worker for a round of checks that has not
    #: started yet (None: none pending). The worker claims the round by clearing it, so a
    #: duplicate message runs nothing, and beat asks no second round while one is pending:
    #: a worker that comes back finds one round waiting, not one per minute it was away.
    round_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "host health"

    def __str__(self) -> str:
        return f"{self.host} {self.status}"


class HealthEvent(models.Model):
    class Kind(models.TextChoices):
        STATUS = "status"  # a backend's or host's health changed
        CONNECTIVITY = "connectivity"  # a host went offline or came back

    class Delivery(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after the last retry
        NONE = "none"  # no channel configured

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="health_events")
    backend = models.ForeignKey(
        Backend, null=True, blank=True, on_delete=models.SET_NULL, related_name="health_events"
    )
    #: Kept when the backend row is gone.
    backend_name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STATUS)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    #: ok/warn/fail/unknown for status events, online/offline for connectivity events.
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    message = models.TextField(blank=True)
    result = models.ForeignKey(
        CheckResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    delivery = models.CharField(
        max_length=16, choices=Delivery.choices, default=Delivery.PENDING, db_index=True
    )
    delivery_attempts = models.PositiveIntegerField(default=0)
    #: Per target ("webhook:<url>", "email:<address>"): {"state", "attempts", "error", "at"}.
    deliveries = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        what = self.backend_name or self.host.name
        return f"{what}: {self.from_status} -> {self.to_status}"

    @property
    def subject(self) -> str:
        what = f"{self.host.name}/{self.backend_name}" if self.backend_name else self.host.name
        return f"[swapadmin] {what} is {self.to_status}"


class AlertChannel(models.Model):
    """Where events are sent, besides SWAPADMIN_WEBHOOK_URL and SWAPADMIN_ALERT_EMAILS."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    #: A URL for a webhook, an address for email.
    target = models.CharField(max_length=2000)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "target"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "target"], name="alert_channel_unique")
        ]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.target}"

    def clean(self) -> None:
        try:
            if self.kind == self.Kind.WEBHOOK:
                URLValidator(schemes=["http", "https"])(self.target)
            else:
                validate_email(self.target)
        except ValidationError as e:
            raise ValidationError({"target": e.messages}) from None
