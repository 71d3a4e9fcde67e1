"""An error page or error mail never shows a connection URL's password.

Django's filter hides names with PASS, KEY, TOKEN...; ``DATABASE_URL=postgres://u:pw@db``
matched none, and with ``DEBUG=True`` the page listed the environment (``request.META``)
and settings as they were."""

from __future__ import annotations

from django.test import RequestFactory
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter

SECRET = "hunter2-in-a-url"


def test_the_environment_of_a_request_shows_no_url_password() -> None:
    request = RequestFactory().get(
        "/",
        DATABASE_URL=f"postgres://swapadmin:{SECRET}@db/swapadmin",
        EMAIL_URL=f"submission://alerts:{SECRET}@mail.example.com",
        REDIS_URL=f"redis://:{SECRET}@redis:6379/0",
        SWAPADMIN_WEBHOOK_URL=f"https://hooks.example.com/{SECRET}",
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError as e:
        html = ExceptionReporter(request, type(e), e, e.__traceback__).get_traceback_html()
    assert "DATABASE_URL" in html, "the page does list the environment"
    assert SECRET not in html


def test_settings_named_url_are_cleansed_too() -> None:
    reporter_filter = get_default_exception_reporter_filter()
    assert reporter_filter.cleanse_setting("DATABASE_URL", f"postgres://u:{SECRET}@h/d") != (
        f"postgres://u:{SECRET}@h/d"
    )
    # What no password is in stays readable: the page is still of use.
    assert reporter_filter.cleanse_setting("TIME_ZONE", "UTC") == "UTC"
