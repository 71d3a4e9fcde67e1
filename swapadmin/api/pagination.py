"""Pagination for every list: limit/offset by default, a cursor to walk a whole list.

A page's cost must not grow with the fleet. Limit/offset's does (OFFSET reads the rows it
skips, and the count reads them all), so it is bounded (1000 rows a page) and kept for the
callers that have it; a client that reads a whole list follows cursors (``ListPagination``
says why that is the split a mature API makes).

DRF's limit/offset falls back to the default on a value it cannot read and passes any integer on to
LIMIT and OFFSET: ``limit=53363792554639622144`` was a 500 (SQLite: "datatype mismatch";
PostgreSQL: "bigint out of range"). Here a value outside the documented range, or not a
plain decimal number, answers 400 naming the parameter, as a bad filter value does: a caller
asking for 5000 rows and silently given 1000 has a bug it cannot see.
"""

from __future__ import annotations

import re
from base64 import b64decode
from typing import Any, cast
from urllib.parse import parse_qs

from django.core.exceptions import ImproperlyConfigured
from django.db.models import IntegerField, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import (
    BasePagination,
    Cursor,
    CursorPagination,
    LimitOffsetPagination,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

#: The most rows one page holds; follow ``next`` for more.
MAX_LIMIT = 1000
#: LIMIT and OFFSET are signed 64-bit in SQLite and PostgreSQL, and Django sends
#: ``offset + limit`` as the slice's end: keep that in range too.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT

_DECIMAL = re.compile(r"[0-9]{1,32}")  # int() would also take "1_000", " 7" and "٣"

LIMIT_PARAM = LimitOffsetPagination.limit_query_param
OFFSET_PARAM = LimitOffsetPagination.offset_query_param
CURSOR_PARAM = CursorPagination.cursor_query_param
PAGE_SIZE_PARAM = "page_size"
ORDERING_PARAM = api_settings.ORDERING_PARAM


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

    def get_limit(self, request: Request) -> int | None:
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


#: The most rows one cursor page holds, as for ``limit``: a walk of a large list is many
#: pages, each of a bounded time (docs/BENCHMARKS-control-plane.md, table 3).
MAX_PAGE_SIZE = MAX_LIMIT
#: The largest key a cursor may point at: SQL's bigint, so a forged cursor is a 400, not a 500.
_MAX_KEY = 2**63 - 1


class BoundedCursorPagination(CursorPagination):
    """DRF's cursor paging on the primary key, with every value checked as limit's are.

    The key is unique, indexed and only grows: each page is one indexed range scan whatever
    the fleet's size or the page's depth, and no row is met twice. Every row that exists
    from the walk's start to its end and keeps matching the filters is met (a row deleted or
    changed out of the filters meanwhile may not be). A row committed during the walk is met at
    its end, with one exception on PostgreSQL: keys are taken from the sequence when a
    transaction inserts, not when it commits, so a transaction that took key 100 and
    commits after another's 101 was committed and walked past leaves row 100 behind the
    walk, never met by it (SQLite has one writer at a time, so its keys commit in order).
    A client that must not miss later rows walks again.
    Any other order (a name, a size) is not unique: DRF would page through ties by offset,
    which an insert shifts, so ``ordering`` with a cursor is refused rather than half kept.

    Only for a model whose key is an integer: the key is what a cursor carries, so a text
    key (a token's digest) would be written into URLs and logs, and cursors check for a
    number. Such a list pages with ``OffsetPagination``.
    """

    ordering = ("pk",)
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    template = None

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            # PAGE_SIZE, set in settings; the stubs allow None (DRF then does not page).
            return int(cast(int, self.page_size))
        if not _DECIMAL.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            name = self.page_size_query_param
            raise ValidationError(
                {name: [f"{name} must be a whole number from 1 to {MAX_PAGE_SIZE}"]}
            )
        return int(raw)

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        pk = queryset.model._meta.pk
        if not isinstance(pk, IntegerField):  # AutoField and BigAutoField are ones
            # A programming error, not the caller's: a 500 naming the fix, never a leak.
            raise ImproperlyConfigured(
                f"{queryset.model.__name__}'s key is not an integer: cursors would carry it "
                "into URLs; page this list with OffsetPagination"
            )
        return super().paginate_queryset(queryset, request, view)

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        if request.query_params.get(ORDERING_PARAM, ""):
            raise ValidationError({ORDERING_PARAM: [
                "ordering cannot be combined with a cursor: a cursor walks the rows in the "
                "order they were created; sort what you fetched, or page with limit and offset"
            ]})  # fmt: skip
        return self.ordering

    def decode_cursor(self, request: Request) -> Cursor | None:
        raw = request.query_params.get(self.cursor_query_param, "")
        if raw == "":
            return None  # the first page, as with no cursor at all
        cursor = super().decode_cursor(request) if _issued(raw) else None
        if cursor is None:
            name = self.cursor_query_param
            raise ValidationError({name: [
                f"{name} is not one this API gave: start without it, then follow next"
            ]})  # fmt: skip
        return cursor


def _issued(raw: str) -> bool:
    """Whether ``raw`` has the shape of a cursor BoundedCursorPagination gives: strict base64
    of ``p`` (a key in bigint's range) and ``r=1`` at most. DRF's decoder skips characters
    that are not base64 and ignores unknown keys, so ``%%%`` would be the first page, and
    passes a key of any text on to SQL (a 500)."""
    try:
        text = b64decode(raw, validate=True).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    tokens = parse_qs(text, keep_blank_values=True)
    if not set(tokens) <= {"p", "r"} or any(len(v) != 1 for v in tokens.values()):
        return False
    # Keys are unique, so the cursors this API gives never carry an offset ("o").
    position = tokens.get("p", ["0"])[0]
    reverse = tokens.get("r", ["1"])[0]
    return reverse == "1" and bool(_DECIMAL.fullmatch(position)) and int(position) <= _MAX_KEY


class OffsetPagination(BoundedLimitOffsetPagination):
    """Limit/offset only, for a list whose key cannot be a cursor's (the tokens': their key
    is the secret's digest). ``cursor`` or ``page_size`` answers 400 saying so, rather than
    being ignored and the caller's walk silently paged another way."""

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        names = [n for n in (CURSOR_PARAM, PAGE_SIZE_PARAM) if n in request.query_params]
        if names:
            message = "this list pages with limit and offset only"
            raise ValidationError({name: [message] for name in names})
        return super().paginate_queryset(queryset, request, view)


class ListPagination(BasePagination):
    """Limit/offset by default, cursor paging when the request names ``cursor`` or
    ``page_size``: cursors added beside the paging callers already have, as Slack's Web API
    did when its lists outgrew offsets, rather than a break of every existing client.

    Limit/offset stays the default because callers use it today and it gives a ``count``;
    but its cost grows with the fleet: OFFSET reads and
    drops every skipped row, the count reads them all, and an insert during a walk shifts
    every later page, so a row is met twice or never. A cursor page costs the same on page 1
    and page 400 and a walk meets at most once every row, and every row that exists throughout
    it and keeps matching the filters (see
    BoundedCursorPagination for rows committed during it), so it is what a client that reads
    a whole list (an inventory sync, an exporter) should use: ``?page_size=1000``, then
    follow ``next`` until it is null. Cursor answers have no ``count``: counting is the cost
    cursors exist to avoid. Mixing the two styles in one request is a 400 naming both.
    """

    def __init__(self) -> None:
        self.offsets = BoundedLimitOffsetPagination()
        self.cursors = BoundedCursorPagination()
        self.active: BasePagination = self.offsets

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        params = request.query_params
        cursor_names = [n for n in (CURSOR_PARAM, PAGE_SIZE_PARAM) if n in params]
        offset_names = [n for n in (LIMIT_PARAM, OFFSET_PARAM) if params.get(n, "")]
        if cursor_names and offset_names:
            message = (
                f"{' and '.join(cursor_names)} (cursor paging) cannot be combined with "
                f"{' and '.join(offset_names)} (limit/offset paging): use one"
            )
            raise ValidationError({name: [message] for name in cursor_names + offset_names})
        self.active = self.cursors if cursor_names else self.offsets
        return self.active.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        return self.active.get_paginated_response(data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        body = self.offsets.get_paginated_response_schema(schema)
        body["required"] = ["results"]
        body["properties"]["count"]["description"] = (
            "rows matching the filters; limit/offset paging only (a cursor page has none)"
        )
        for link in ("next", "previous"):
            body["properties"][link]["description"] = (
                f"the {link} page's URL, in this page's style; null when there is none"
            )
        return body

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            *self.offsets.get_schema_operation_parameters(view),
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": "cursor paging: the position a `next` or `previous` link "
                "carries (empty, or with `page_size` alone, for the first page). Pages walk "
                "rows in the order they were created and cost the same at any depth; a walk "
                "meets no row twice, every row that exists throughout it and keeps matching "
                "the filters, and those created during it at its end, except that on "
                "PostgreSQL a row committed during the walk with a key below the walk's "
                "position is not met (walk again for those). "
                "Not with "
                "`limit`, `offset` or `ordering`; one this API did not give answers 400",
                "schema": {"type": "string"},
            },
            {
                "name": PAGE_SIZE_PARAM,
                "required": False,
                "in": "query",
                "description": f"cursor paging: rows per page, 1 to {MAX_PAGE_SIZE} (default "
                f"{self.cursors.page_size}); out of range, or not a whole number, answers 400",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": self.cursors.page_size,
                },
            },
        ]
