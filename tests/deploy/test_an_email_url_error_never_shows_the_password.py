"""A password with an unencoded / ? or # cuts EMAIL_URL's login short: urllib then reads the
password's start as the port (or the login's start as the host). The start is refused with
what to encode, and the message holds no piece of the password; a URL that does not parse
at all is a SettingError naming EMAIL_URL, not a traceback."""

from __future__ import annotations

import pytest

from swapadmin.env import SettingError
from swapadmin.mailsettings import email_settings


@pytest.mark.parametrize(
    "url",
    [
        "smtp://alerts:hunter2/x@mail.example.com",
        "smtp://alerts:hunter2#x@mail.example.com",
        "smtp://alerts:hunter2?x@mail.example.com",
        "smtp://alerts:hunter2?a=b@mail.example.com",
    ],
)
def test_a_password_that_cuts_the_url_short_is_refused_unrepeated(url):
    with pytest.raises(SettingError) as e:
        email_settings({"EMAIL_URL": url})
    assert "EMAIL_URL" in str(e.value) and "%2F" in str(e.value)
    assert "hunter2" not in str(e.value)


def test_a_numeric_password_start_is_not_read_as_host_and_port():
    # "alerts:2525/x@mail..." parses as host "alerts", port 2525: a mail server nobody named.
    with pytest.raises(SettingError) as e:
        email_settings({"EMAIL_URL": "smtp://alerts:2525/x@mail.example.com"})
    assert "%2F" in str(e.value)


@pytest.mark.parametrize("url", ["smtp://[::1", "smtp://alerts:hun[ter2@mail.example.com"])
def test_a_url_that_does_not_parse_is_a_setting_error(url):
    with pytest.raises(SettingError) as e:
        email_settings({"EMAIL_URL": url})
    assert "EMAIL_URL" in str(e.value)
    assert "hun[ter2" not in str(e.value)


def test_an_encoded_password_still_works():
    mail = email_settings({"EMAIL_URL": "smtp://alerts:hun%2Fter%3F2%23@mail.example.com"})
    assert (mail["EMAIL_HOST"], mail["EMAIL_HOST_PASSWORD"]) == ("mail.example.com", "hun/ter?2#")
