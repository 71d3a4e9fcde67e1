"""Read-only API of current health, to mount at /api/v1/health/ (and /api/v1/health-events/).

``health/`` lists the latest result of every backend: one row per backend, read with one
query (BackendHealth joined to its backend, host and last result); ``health/{id}/`` takes
the backend's id, as ``backends/{id}/`` does.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from rest_framework import serializers, viewsets

from swapadmin.api.permissions import RolePermission
from swapadmin.api.serializers import PageSerializer

from .models import BackendHealth, HealthEvent, Status


class FindingSerializer(serializers.Serializer[Any]):  # reads a list of finding dicts
    check = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "warn", "fail"])
    message = serializers.CharField()
    value = serializers.JSONField(allow_null=True)


class BackendHealthSerializer(serializers.ModelSerializer[BackendHealth]):
    id = serializers.UUIDField(source="backend.uuid", read_only=True)
    backend = serializers.CharField(source="backend.name", read_only=True)
    host = serializers.CharField(source="backend.host.name", read_only=True)
    host_id = serializers.UUIDField(source="backend.host.uuid", read_only=True)
    result_id = serializers.UUIDField(source="last_result.uuid", read_only=True, allow_null=True)
    findings = serializers.SerializerMethodField()

    class Meta:
        list_serializer_class = PageSerializer
        model = BackendHealth
        fields = [
            "id",
            "backend",
            "host",
            "host_id",
            "status",
            "summary",
            "checked_at",
            "findings",
            "result_id",
            "repair_attempts",
            "next_repair_at",
        ]
        read_only_fields = fields

    def get_findings(self, obj: BackendHealth) -> list[dict[str, Any]]:
        findings = obj.last_result.findings if obj.last_result else []
        return list(FindingSerializer(findings, many=True).data)


class BackendHealthFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    host = filters.UUIDFilter(field_name="backend__host__uuid", help_text="the host's id")
    host_name = filters.CharFilter(field_name="backend__host__name")

    class Meta:
        model = BackendHealth
        fields = ["status", "host", "host_name"]


class BackendHealthViewSet(viewsets.ReadOnlyModelViewSet[BackendHealth]):
    """The current health of each backend: the worst finding of its latest check."""

    queryset = BackendHealth.objects.select_related("backend__host", "last_result").order_by(
        "backend__host__name", "backend__name"
    )
    serializer_class = BackendHealthSerializer
    permission_classes = [RolePermission]
    lookup_field = "backend__uuid"
    lookup_url_kwarg = "uuid"
    filterset_class = BackendHealthFilter
    ordering_fields = ["status", "checked_at"]


class HealthEventSerializer(serializers.ModelSerializer[HealthEvent]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    host = serializers.CharField(source="host.name", read_only=True)
    host_id = serializers.UUIDField(source="host.uuid", read_only=True)
    backend = serializers.CharField(source="backend_name", read_only=True)
    backend_id = serializers.UUIDField(source="backend.uuid", read_only=True, allow_null=True)

    class Meta:
        list_serializer_class = PageSerializer
        model = HealthEvent
        fields = [
            "id",
            "kind",
            "at",
            "host",
            "host_id",
            "backend",
            "backend_id",
            "from_status",
            "to_status",
            "message",
            "delivery",
            "notified_at",
        ]
        read_only_fields = fields


class HealthEventFilter(filters.FilterSet):
    host = filters.UUIDFilter(field_name="host__uuid")
    backend = filters.UUIDFilter(field_name="backend__uuid")
    kind = filters.ChoiceFilter(choices=HealthEvent.Kind.choices)
    to_status = filters.CharFilter()

    class Meta:
        model = HealthEvent
        fields = ["host", "backend", "kind", "to_status"]


class HealthEventViewSet(viewsets.ReadOnlyModelViewSet[HealthEvent]):
    """Changes of health, newest first."""

    queryset = HealthEvent.objects.select_related("host", "backend").order_by("-at")
    serializer_class = HealthEventSerializer
    permission_classes = [RolePermission]
    lookup_field = "uuid"
    filterset_class = HealthEventFilter
