"""knox registers its own AuthToken in the Django admin; that model is swapped out for
ApiToken (it has no table), and tokens are made and revoked on the tokens page and the API,
which audit each change. So the admin shows none. (Imported after knox's admin module:
``knox`` comes before this app in INSTALLED_APPS.)"""

from __future__ import annotations

from django.contrib import admin
from knox.models import AuthToken

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)
