"""The Django admin's site: for the admin role only.

Django lets any active ``is_staff`` user in; here the role decides, from the same map as
the pages and the API (``swapadmin.core.roles``), so a viewer or operator who happens to
carry ``is_staff`` is refused, and demoting someone from the admin group shuts the admin
to them too. What is in it stays read-mostly (``core/admin.py``, ``health/admin.py``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from . import roles

NOT_ADMIN = "Only the admin role may use the Django admin; ask an admin to add you to it."


def is_admin(user: object) -> bool:
    return bool(getattr(user, "is_active", False)) and roles.role_of(user) >= roles.Role.ADMIN  # type: ignore[arg-type]


class RoleAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user: AbstractBaseUser) -> None:
        # Not super(): Django's would ask for is_staff, which no longer decides.
        if not is_admin(user):
            raise forms.ValidationError(NOT_ADMIN, code="invalid_login")


class RoleAdminSite(admin.AdminSite):
    site_header = "swapadmin administration"
    login_form = RoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Shown to the admin role, never changed here: these rows are written by the services
    (which validate, audit and queue jobs) and by the workers. A change or delete made
    here would skip all of that: deleting a Host cascades to its backends' rows while their
    swap areas stay on the machine, and an audit trail that can be edited proves nothing.
    No bulk action either (Django's "delete selected" is one)."""

    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
