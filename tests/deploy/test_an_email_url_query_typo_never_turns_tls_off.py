"""EMAIL_URL's query is read strictly: dj-email-url ignores an unknown key (?tsl=True) or a
boolean it does not know (?ssl=maybe), reads only the first of ssl and tls present
(?ssl=False&tls=True is plain text), and a repeated key takes its first value; each would
send the login in clear without a word. Refused with the key named, or read as written."""

from __future__ import annotations

import pytest

from swapadmin.env import SettingError
from swapadmin.mailsettings import email_settings


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("tsl=True", "'tsl'"),
        ("ssl=maybe", "'maybe'"),
        ("tls=ture", "'ture'"),
        ("tls=True&tls=False", "twice"),
        ("backend=django.core.mail.backends.locmem.EmailBackend", "'backend'"),
        ("timeout=inf", "above 0"),
        ("timeout=0", "above 0"),
    ],
)
def test_a_query_it_cannot_read_is_refused(query, says):
    with pytest.raises(SettingError) as e:
        email_settings({"EMAIL_URL": f"smtp://alerts:hunter2@relay/?{query}"})
    assert "EMAIL_URL" in str(e.value) and says in str(e.value)
    assert "hunter2" not in str(e.value)


def test_tls_asked_for_after_ssl_off_is_starttls():
    mail = email_settings({"EMAIL_URL": "smtp://relay/?ssl=False&tls=True"})
    assert (mail["EMAIL_USE_TLS"], mail["EMAIL_USE_SSL"], mail["EMAIL_PORT"]) == (True, False, 587)


def test_a_fractional_timeout_is_read_as_seconds():
    # dj-email-url casts it with int() and fails with "invalid literal for int()".
    assert email_settings({"EMAIL_URL": "smtp://relay/?timeout=2.5"})["EMAIL_TIMEOUT"] == 2.5


def test_the_from_address_may_be_given_in_the_query():
    url = "smtp://relay/?_default_from_email=alerts%40example.com&_server_email=x%40example.com"
    assert email_settings({"EMAIL_URL": url})["DEFAULT_FROM_EMAIL"] == "alerts@example.com"
