"""Mail settings that pass a glance but fail every alert, or go somewhere unnamed, stop the
start with the variable named: a login smtplib cannot send (it encodes it as ASCII), a URL
with no host (dj-email-url reads it as localhost, where the password would go), port 0
(read as 25), a timeout that is infinite, a host or From with a newline (the From is refused
by Django at each send). None of the messages repeats the password."""

from __future__ import annotations

import pytest

from swapadmin.env import SettingError
from swapadmin.mailsettings import email_settings


@pytest.mark.parametrize(
    ("env", "named", "says"),
    [
        ({"EMAIL_URL": "smtp://alerts:hünter2@relay"}, "EMAIL_HOST_PASSWORD", "ASCII"),
        ({"EMAIL_URL": "smtp://alerts:h%C3%BCnter2@relay"}, "EMAIL_HOST_PASSWORD", "ASCII"),
        ({"EMAIL_HOST": "relay", "EMAIL_HOST_PASSWORD": "hunter2\r\n"}, "EMAIL_HOST_PASSWORD",
         "ASCII"),
        ({"EMAIL_HOST": "relay", "EMAIL_HOST_USER": "ålerts"}, "EMAIL_HOST_USER", "ASCII"),
        ({"EMAIL_URL": "smtp://alerts:hunter2@"}, "EMAIL_URL", "no mail server"),
        ({"EMAIL_URL": "submission://:587"}, "EMAIL_URL", "no mail server"),
        ({"EMAIL_URL": "smtp://alerts:hunter2@relay:0"}, "EMAIL_URL", "1 to 65535"),
        ({"EMAIL_HOST": "relay", "EMAIL_TIMEOUT": "inf"}, "EMAIL_TIMEOUT", "above 0"),
        ({"EMAIL_HOST": "relay", "EMAIL_TIMEOUT": "nan"}, "EMAIL_TIMEOUT", "above 0"),
        ({"EMAIL_HOST": "relay\r\nX-Evil: 1"}, "EMAIL_HOST", "control"),
        ({"EMAIL_URL": "smtp://alerts:hunter2@re\nlay"}, "EMAIL_URL", "control"),
        ({"EMAIL_URL": "smtp://alerts:hunter2@re%0Alay"}, "EMAIL_URL", "control"),
        ({"DEFAULT_FROM_EMAIL": "a@example.com\r\nBcc: x@evil.example"}, "DEFAULT_FROM_EMAIL",
         "not an address"),
        ({"DEFAULT_FROM_EMAIL": "swapadmin"}, "DEFAULT_FROM_EMAIL", "not an address"),
    ],
)  # fmt: skip
def test_it_is_refused_with_the_variable_named(env, named, says):
    with pytest.raises(SettingError) as e:
        email_settings(env)
    assert named in str(e.value) and says in str(e.value)
    assert "nter2" not in str(e.value)


def test_a_host_given_beside_a_url_without_one_is_used():
    mail = email_settings({"EMAIL_URL": "smtp://alerts:hunter2@", "EMAIL_HOST": "relay"})
    assert (mail["EMAIL_HOST"], mail["EMAIL_HOST_PASSWORD"]) == ("relay", "hunter2")


def test_an_ipv6_host_is_given_to_the_client_without_brackets():
    assert email_settings({"EMAIL_URL": "smtp://[::1]:2525"})["EMAIL_HOST"] == "::1"
    assert email_settings({"EMAIL_HOST": "[::1]"})["EMAIL_HOST"] == "::1"
    zoned = email_settings({"EMAIL_URL": "smtp://[fe80::1%25eth0]:25"})
    assert zoned["EMAIL_HOST"] == "fe80::1%eth0"  # the zone, as getaddrinfo() takes it
