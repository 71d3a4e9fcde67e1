"""What Django's error pages and error mails may show of settings and the environment.

Django hides values whose names contain API, AUTH, TOKEN, KEY, SECRET, PASS, SIGNATURE or
HTTP_COOKIE. Connection URLs carry passwords too (``DATABASE_URL``, ``REDIS_URL``,
``EMAIL_URL``, a webhook URL with a token), and the environment is in ``request.META``, so
a debug page under ``DEBUG=True`` showed them all."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class HideUrlsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN", flags=re.IGNORECASE
    )
