"""The Django admin for the registry: read-mostly. Changes go through pages and the API
(services), which validate, audit and queue jobs; the admin is for looking and for users."""

from __future__ import annotations

from django.contrib import admin

from .models import AuditEvent, Backend, Host, Job, Sample


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kernel_release", "mem_total_bytes", "last_heartbeat")
    search_fields = ("name",)
    readonly_fields = ("uuid", "observed", "observed_at", "last_heartbeat", "created_at")


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "host", "kind", "desired_state", "observed_state", "adopted")
    list_filter = ("kind", "desired_state", "observed_state", "adopted")
    search_fields = ("name", "host__name")
    readonly_fields = [f.name for f in Backend._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("kind", "backend_name", "host", "state", "progress", "queued_at", "worker")
    list_filter = ("state", "kind")
    search_fields = ("backend_name", "host__name", "uuid")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("at", "actor_name", "via", "action", "object_repr", "outcome")
    list_filter = ("action", "outcome", "via")
    search_fields = ("actor_name", "object_repr")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("host", "at", "resolution", "swap_total", "swap_free", "pswpout_rate")
    list_filter = ("resolution",)
