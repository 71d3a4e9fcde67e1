"""The Django admin app, with swapadmin's own site as its default (``RoleAdminSite``).

Its own module: Django imports an app config while the app registry is still loading,
before any model may be imported, and the site's module imports the roles (and so the
auth models).
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class RoleAdminConfig(AdminConfig):
    default_site = "swapadmin.core.adminsite.RoleAdminSite"
