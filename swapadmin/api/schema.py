"""The OpenAPI schema documents every status code the API answers, not only the happy one.

Views declare what is theirs (202 with the job, 409 with the holder); the answers every view
gives for the same reasons (a bad request, no or a bad token, a role, an unknown id, an
Accept or Content-Type it cannot serve) are added here, from what the view is made of, so a
new view is documented without repeating them. Automation generated from the schema cannot
handle an answer it was not told about (issue 11).
"""

from __future__ import annotations

from typing import Any

import uritemplate
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from .serializers import ErrorSerializer, FieldErrorsSerializer

#: Methods whose body DRF parses: the view may answer 415 to a Content-Type it cannot parse.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# drf-spectacular leaves its extension hook (__init_subclass__) unannotated.
class FieldErrorsExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """DRF's 400 body: its keys are the request's own fields, so it is a map, not a record."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": "messages per field (an object for a nested field such as "
            "`params`); `non_field_errors` for the request as a whole; `detail` alone when "
            "the body is not JSON",
            "properties": {"detail": {"type": "string"}, "non_field_errors": messages},
            "additionalProperties": {"anyOf": [messages, {"type": "object"}]},
        }


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


INVALID = OpenApiResponse(
    FieldErrorsSerializer,
    description="invalid: a body field, a filter, `ordering`, `limit` or `offset`; messages "
    "per parameter, and nothing was changed",
)
UNAUTHENTICATED = _error("no credentials, or a token that is not valid")
FORBIDDEN = _error("the caller's role does not allow it")
NOT_FOUND = _error("no such object (an unknown or malformed id)")
NOT_ACCEPTABLE = _error("the Accept header names no format the API writes (it writes JSON)")
UNSUPPORTED = _error("the body is not JSON")
THROTTLED = _error("too many requests: try again after Retry-After seconds")


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, response in self.common_responses().items():
            if code not in responses:
                # An unannotated drf-spectacular method: it returns the response's schema.
                responses[code] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    response, code, direction=direction
                )
        if "401" in responses:
            # TokenAuthentication comes first, so DRF names it in every 401.
            responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "description": "Token",
            }
        if "429" in responses:
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "seconds to wait",
            }
        return dict(sorted(responses.items()))

    def common_responses(self) -> dict[str, OpenApiResponse]:
        """The answers this operation can give for reasons common to every view."""
        view = self.view
        found: dict[str, OpenApiResponse] = {}
        if self._validates_input():
            found["400"] = INVALID
        if view.get_authenticators():
            # A token that is not valid is refused before any permission is asked.
            found["401"] = UNAUTHENTICATED
        if any(not isinstance(p, AllowAny) for p in view.get_permissions()):
            found["403"] = FORBIDDEN
        if uritemplate.variables(self.path):
            found["404"] = NOT_FOUND
        found["406"] = NOT_ACCEPTABLE
        if self.method in BODY_METHODS and view.get_parsers():
            found["415"] = UNSUPPORTED
        if view.get_throttles():
            found["429"] = THROTTLED
        return found

    def _validates_input(self) -> bool:
        # DRF filters the queryset of detail lookups too, so every operation of a filtered
        # view can refuse a bad filter value, not only its list.
        return bool(
            self.method in BODY_METHODS
            or getattr(self.view, "filter_backends", None)
            or self._get_pagination_parameters()  # type: ignore[no-untyped-call] # unannotated
            or self.get_override_parameters()
        )
