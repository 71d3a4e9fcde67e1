"""List filters. Related objects are named by their public UUID, as everywhere in the API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import filters as drf_filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from swapadmin.core.models import AuditEvent, Backend, Host, Job


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts (up to +-23:59), asked of the database in
    UTC: PostgreSQL refuses offsets beyond +-15:59, which would otherwise be a 500."""

    def __init__(self, *args: Any, param: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.param = param  # the query parameter, for the error message

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError({self.param: ["the time is out of range"]}) from None
        return super().filter(qs, value)


class OrderingFilter(drf_filters.OrderingFilter):
    """DRF's, but a term that names no sortable field answers 400 instead of being dropped:
    a typo must not quietly give another order. The schema lists the terms it takes."""

    def remove_invalid_fields(
        self, queryset: QuerySet[Any], fields: Iterable[str], view: APIView, request: Request
    ) -> list[str]:
        terms = [term for term in fields if term]
        valid = self._terms(queryset, view, request)
        unknown = [term for term in terms if term not in valid]
        if unknown:
            message = f"cannot order by {', '.join(unknown)}: use {', '.join(valid)}"
            raise ValidationError({self.ordering_param: [message]})
        return terms

    def _terms(self, queryset: QuerySet[Any], view: APIView, request: Request | None) -> list[str]:
        names = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
        return [term for name in names for term in (name, f"-{name}")]

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        queryset = view.get_queryset()  # type: ignore[attr-defined]
        terms = self._terms(queryset, view, getattr(view, "request", None))
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "sort by these fields, comma-separated; `-field` sorts "
                "descending; any other term answers 400",
                "style": "form",
                "explode": False,
                "schema": {"type": "array", "items": {"type": "string", "enum": terms}},
            }
        ]


class HostFilter(filters.FilterSet):
    name = filters.CharFilter(help_text="exact host name")
    name__contains = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Host
        fields = ["name"]


class BackendFilter(filters.FilterSet):
    host = filters.UUIDFilter(field_name="host__uuid", help_text="the host's id")
    host_name = filters.CharFilter(field_name="host__name")
    kind = filters.CharFilter()
    name = filters.CharFilter()
    observed_state = filters.ChoiceFilter(choices=Backend.Observed.choices)
    desired_state = filters.ChoiceFilter(choices=Backend.Desired.choices)

    class Meta:
        model = Backend
        fields = ["host", "host_name", "kind", "name", "observed_state", "desired_state"]


class JobFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=Job.State.choices)
    kind = filters.MultipleChoiceFilter(choices=Job.Kind.choices)
    backend = filters.UUIDFilter(field_name="backend__uuid", help_text="the backend's id")
    host = filters.UUIDFilter(field_name="host__uuid", help_text="the host's id")

    class Meta:
        model = Job
        fields = ["state", "kind", "backend", "host"]


class AuditEventFilter(filters.FilterSet):
    action = filters.CharFilter()
    actor = filters.CharFilter(field_name="actor_name", help_text="a username, or schedule")
    outcome = filters.ChoiceFilter(choices=AuditEvent.Outcome.choices)
    object_id = filters.UUIDFilter(field_name="object_uuid")
    host = filters.UUIDFilter(field_name="host__uuid")
    since = UtcDateTimeFilter(field_name="at", lookup_expr="gte", param="since")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "outcome", "object_id", "host", "since"]
