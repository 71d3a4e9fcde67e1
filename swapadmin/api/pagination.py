"""Limit/offset pagination whose numbers are checked before they reach SQL.

DRF's own falls back to the default on a value it cannot read and passes any integer on to
LIMIT and OFFSET: ``limit=53363792554639622144`` was a 500 (SQLite: "datatype mismatch";
PostgreSQL: "bigint out of range"). Here a value outside the documented range, or not a
plain decimal number, answers 400 naming the parameter, as a bad filter value does: a caller
asking for 5000 rows and silently given 1000 has a bug it cannot see.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.views import APIView

#: The most rows one page holds; follow ``next`` for more.
MAX_LIMIT = 1000
#: LIMIT and OFFSET are signed 64-bit in SQLite and PostgreSQL, and Django sends
#: ``offset + limit`` as the slice's end: keep that in range too.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT

_DECIMAL = re.compile(r"[0-9]{1,32}")  # int() would also take "1_000", " 7" and "٣"


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        # Both checked before the count query, so one 400 names every bad parameter.
        errors: dict[str, Any] = {}
        for name in self._bounds():
            try:
                self._number(request, name)
            except ValidationError as e:
                errors.update(e.detail)  # type: ignore[arg-type]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request: Request) -> int:
        limit = self._number(request, self.limit_query_param)
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        return self._number(request, self.offset_query_param) or 0

    def _bounds(self) -> dict[str, tuple[int, int]]:
        return {self.limit_query_param: (1, MAX_LIMIT), self.offset_query_param: (0, MAX_OFFSET)}

    def _number(self, request: Request, name: str) -> int | None:
        """The parameter's value, None when absent or empty (as an empty filter is)."""
        raw = request.query_params.get(name, "")
        if raw == "":
            return None
        low, high = self._bounds()[name]
        if not _DECIMAL.fullmatch(raw) or not low <= int(raw) <= high:
            raise ValidationError({name: [f"{name} must be a whole number from {low} to {high}"]})
        return int(raw)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"rows per page, 1 to {MAX_LIMIT}; out of range, or not a "
                "whole number, answers 400",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": self.default_limit,
                },
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "rows to skip; past the last row the page is empty; above "
                f"{MAX_OFFSET} (what SQL's OFFSET takes), or not a whole number, answers 400",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            },
        ]
