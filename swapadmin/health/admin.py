"""The health app in the Django admin: alert channels are configured here (by the admin
role, each change audited); what the checks write is shown, never changed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from swapadmin.core import services
from swapadmin.core.adminsite import ReadOnlyAdmin, is_admin
from swapadmin.core.clientip import client_ip
from swapadmin.core.models import Job

from .models import AlertChannel, BackendHealth, CheckResult, HealthEvent, HostHealth
from .webhook import url_problem


class AlertChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = AlertChannel
        fields = ["name", "kind", "target", "enabled"]

    def clean_target(self) -> str:
        target: str = self.cleaned_data["target"].strip()
        if self.cleaned_data.get("kind") == AlertChannel.Kind.WEBHOOK:
            # Said here, plainly: the model's URL check alone answers "Enter a valid URL."
            problem = url_problem(target)
            if problem is not None:
                raise forms.ValidationError(problem)
        return target


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Where alerts go is the admin role's to set, and who set it goes in the audit trail:
    a webhook receives every host's health events."""

    form = AlertChannelForm
    list_display = ["__str__", "kind", "target", "enabled"]
    list_filter = ["kind", "enabled"]
    actions = None  # a bulk delete would not be audited

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_admin(request.user)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._audit(request, "alert-channel-changed" if change else "alert-channel-added", obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._audit(request, "alert-channel-deleted", obj)
        super().delete_model(request, obj)

    @staticmethod
    def _audit(request: HttpRequest, action: str, channel: AlertChannel) -> None:
        actor = services.Actor(request.user, Job.Via.PAGE, client_ip(request.META))  # type: ignore[arg-type]
        detail = {
            "channel": str(channel.uuid),
            "kind": channel.kind,
            "target": channel.target,
            "enabled": channel.enabled,
        }
        services.audit(actor, action, None, "ok", detail)


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
