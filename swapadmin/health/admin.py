from django.contrib import admin

from .models import AlertChannel, BackendHealth, CheckResult, HealthEvent, HostHealth


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "target", "enabled"]
    list_filter = ["kind", "enabled"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by checks, not by hand."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(BackendHealth)
class BackendHealthAdmin(ReadOnlyAdmin):
    list_display = ["backend", "status", "checked_at", "summary", "repair_attempts"]
    list_filter = ["status"]
    list_select_related = ["backend__host"]


@admin.register(HostHealth)
class HostHealthAdmin(ReadOnlyAdmin):
    list_display = ["host", "status", "online", "checked_at", "summary"]
    list_filter = ["status", "online"]


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["at", "host", "backend", "status"]
    list_filter = ["status"]
    list_select_related = ["host", "backend"]
    date_hierarchy = "at"


@admin.register(HealthEvent)
class HealthEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "host", "backend_name", "from_status", "to_status", "delivery"]
    list_filter = ["kind", "to_status", "delivery"]
    list_select_related = ["host"]
    date_hierarchy = "at"
