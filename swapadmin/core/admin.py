"""The Django admin for the registry: for looking only. Changes go through pages and the
API (services), which validate, audit and queue jobs; a host with backends leaves through
their destroy jobs, an empty one through "Forget this host" on its page (audited)."""

from __future__ import annotations

from django.contrib import admin

from .adminsite import ReadOnlyAdmin
from .models import AuditEvent, Backend, Host, Job, Sample


@admin.register(Host)
class HostAdmin(ReadOnlyAdmin):
    list_display = ("name", "kernel_release", "mem_total_bytes", "last_heartbeat")
    search_fields = ("name",)


@admin.register(Backend)
class BackendAdmin(ReadOnlyAdmin):
    list_display = ("name", "host", "kind", "desired_state", "observed_state", "adopted")
    list_filter = ("kind", "desired_state", "observed_state", "adopted")
    search_fields = ("name", "host__name")


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("kind", "backend_name", "host", "state", "progress", "queued_at", "worker")
    list_filter = ("state", "kind")
    search_fields = ("backend_name", "host__name", "uuid")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "via", "action", "object_repr", "outcome")
    list_filter = ("action", "outcome", "via")
    search_fields = ("actor_name", "object_repr")


@admin.register(Sample)
class SampleAdmin(ReadOnlyAdmin):
    list_display = ("host", "at", "resolution", "swap_total", "swap_free", "pswpout_rate")
    list_filter = ("resolution",)
