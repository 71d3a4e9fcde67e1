"""Roles are Django groups: viewer < operator < admin. One map, shared by pages and the API."""

from __future__ import annotations

from enum import IntEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from .actions import BACKEND_ACTIONS


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3


GROUPS = {"viewer": Role.VIEWER, "operator": Role.OPERATOR, "admin": Role.ADMIN}

#: The least role each action needs: the backend actions' from their table, and the rest.
ACTIONS: dict[str, Role] = {
    "view": Role.VIEWER,
    "cancel": Role.OPERATOR,
    "create": Role.ADMIN,
    "force": Role.ADMIN,
    "discover": Role.ADMIN,
    "adopt": Role.ADMIN,
    "tune": Role.ADMIN,
    "settings": Role.ADMIN,
    **{a.name: GROUPS[a.role] for a in BACKEND_ACTIONS},
}


def role_of(user: AbstractBaseUser | AnonymousUser | None) -> Role:
    if user is None or not user.is_authenticated:
        return Role.NONE
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    return max((GROUPS[n] for n in names if n in GROUPS), default=Role.NONE)


def can(user: AbstractBaseUser | AnonymousUser | None, action: str) -> bool:
    return role_of(user) >= ACTIONS[action]
