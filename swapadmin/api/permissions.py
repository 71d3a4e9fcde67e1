"""Who may call what: roles from swapadmin.core.roles, refusals written to the audit trail.

Anonymous callers fail ``has_permission`` before any role check, so DRF answers 401 with
``WWW-Authenticate: Token`` (TokenAuthentication is the first authenticator). A caller with
an account but not the role gets 403, and a refused change is audited like an accepted one:
an operator probing admin actions shows up in the trail.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from swapadmin.core import roles, services
from swapadmin.core.clientip import client_ip
from swapadmin.core.models import Job


def actor_for(request: Request) -> services.Actor:
    # Every API view refuses anonymous callers (a 401) before it names an actor.
    user = cast(User, request.user)
    # X-Forwarded-For only from SWAPADMIN_TRUSTED_PROXIES: anyone else's is their own words.
    return services.Actor(user, Job.Via.API, client_ip(request.META))


def refuse(request: Request, action: str, obj: Any = None) -> PermissionDenied:
    """Audit a role refusal and return the 403 to raise."""
    needed = roles.ACTIONS[action].name.lower()
    services.audit(
        actor_for(request),
        action,
        obj,
        "refused",
        {"reason": f"needs the {needed} role", "path": request.path},
    )
    return PermissionDenied(f"{action.replace('_', '-')} needs the {needed} role")


def require(request: Request, action: str, obj: Any = None) -> None:
    if not roles.can(request.user, action):
        raise refuse(request, action, obj)


class RolePermission(BasePermission):
    """Reading needs the viewer role; a change needs the role of the view's ``role_actions``
    entry for its DRF action. Detail actions are checked once the object is loaded, so the
    refusal is audited against it (and a missing object is a 404, not a 403). A change the
    view does not map is refused: new actions fail closed until someone gives them a role."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            if not roles.can(request.user, "view"):
                raise PermissionDenied("reading needs the viewer role")
            return True
        action = self._action(view)
        if not roles.can(request.user, "view"):
            raise refuse(request, action)
        if not getattr(view, "detail", False):
            require(request, action)
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method not in SAFE_METHODS:
            require(request, self._action(view), obj)
        return True

    @staticmethod
    def _action(view: APIView) -> str:
        mapping: dict[str, str] = getattr(view, "role_actions", {})
        action = mapping.get(getattr(view, "action", None) or "")
        if action is None:
            raise PermissionDenied("this change is not allowed through the API")
        return action
