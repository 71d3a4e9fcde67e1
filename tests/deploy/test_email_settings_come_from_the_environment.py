"""The mail settings come from the environment: one EMAIL_URL or the usual EMAIL_HOST...
variables (each overriding its part of the URL, the password also from a file); an SMTP host
alone selects the SMTP backend; a value that cannot work stops the start with the variable
named. Built by ``email_settings`` from a given environment, and by a real ``manage.py``
from its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swapadmin.env import SettingError
from swapadmin.mailsettings import CONSOLE_BACKEND, SMTP_BACKEND, email_settings

REPO = Path(__file__).resolve().parents[2]


def test_with_nothing_set_mail_goes_to_the_console():
    mail = email_settings({})
    assert mail["EMAIL_BACKEND"] == CONSOLE_BACKEND
    assert (mail["EMAIL_HOST"], mail["EMAIL_PORT"]) == ("localhost", 25)
    assert mail["DEFAULT_FROM_EMAIL"] == "swapadmin@localhost"
    assert mail["EMAIL_TIMEOUT"] == 10.0  # never Django's "wait for ever"


def test_variables_set_empty_count_as_unset():
    # docker-compose.yml passes ${EMAIL_URL:-} and the like: empty when .env has none.
    empty = {"EMAIL_URL": "", "EMAIL_HOST": "", "DEFAULT_FROM_EMAIL": "", "EMAIL_BACKEND": ""}
    assert email_settings(empty) == email_settings({})


def test_an_email_url_sets_everything_at_once():
    mail = email_settings(
        {"EMAIL_URL": "submission://alerts%40example.com:p%40ss%3Aword@mail.example.com"}
    )
    assert mail["EMAIL_BACKEND"] == SMTP_BACKEND
    assert (mail["EMAIL_HOST"], mail["EMAIL_PORT"]) == ("mail.example.com", 587)
    assert (mail["EMAIL_HOST_USER"], mail["EMAIL_HOST_PASSWORD"]) == (
        "alerts@example.com",
        "p@ss:word",
    )
    assert (mail["EMAIL_USE_TLS"], mail["EMAIL_USE_SSL"]) == (True, False)


def test_ssl_in_the_url_means_port_465_unless_one_is_given():
    mail = email_settings({"EMAIL_URL": "smtp://relay.example.com/?ssl=True&timeout=7"})
    assert (mail["EMAIL_PORT"], mail["EMAIL_USE_SSL"], mail["EMAIL_USE_TLS"]) == (465, True, False)
    assert mail["EMAIL_TIMEOUT"] == 7
    assert email_settings({"EMAIL_URL": "smtp://relay:2465/?ssl=True"})["EMAIL_PORT"] == 2465
    assert email_settings({"EMAIL_URL": "smtp://relay"})["EMAIL_PORT"] == 25


def test_an_smtp_host_alone_selects_the_smtp_backend():
    mail = email_settings({"EMAIL_HOST": "relay.internal", "EMAIL_USE_TLS": "True"})
    assert mail["EMAIL_BACKEND"] == SMTP_BACKEND
    assert (mail["EMAIL_HOST"], mail["EMAIL_PORT"], mail["EMAIL_USE_TLS"]) == (
        "relay.internal",
        587,
        True,
    )
    explicit = email_settings({"EMAIL_HOST": "relay.internal", "EMAIL_BACKEND": CONSOLE_BACKEND})
    assert explicit["EMAIL_BACKEND"] == CONSOLE_BACKEND


def test_the_variables_override_the_url_and_the_password_can_be_a_file(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("from-the-file\n")
    mail = email_settings(
        {
            "EMAIL_URL": "smtp://alerts@relay.example.com:25",
            "EMAIL_PORT": "2525",
            "EMAIL_HOST_PASSWORD_FILE": str(secret),
            "EMAIL_TIMEOUT": "2.5",
            "DEFAULT_FROM_EMAIL": "swap@example.com",
        }
    )
    assert (mail["EMAIL_HOST"], mail["EMAIL_PORT"]) == ("relay.example.com", 2525)
    assert (mail["EMAIL_HOST_USER"], mail["EMAIL_HOST_PASSWORD"]) == ("alerts", "from-the-file")
    assert (mail["EMAIL_TIMEOUT"], mail["DEFAULT_FROM_EMAIL"]) == (2.5, "swap@example.com")


@pytest.mark.parametrize(
    ("env", "named", "says"),
    [
        ({"EMAIL_HOST": "relay", "EMAIL_PORT": "smtp"}, "EMAIL_PORT", "whole number"),
        ({"EMAIL_HOST": "relay", "EMAIL_PORT": "70000"}, "EMAIL_PORT", "1 to 65535"),
        ({"EMAIL_USE_TLS": "yes"}, "EMAIL_USE_TLS", "True or False"),
        ({"EMAIL_USE_TLS": "True", "EMAIL_USE_SSL": "True"}, "EMAIL_USE_SSL", "both"),
        ({"EMAIL_URL": "submission://relay", "EMAIL_USE_SSL": "True"}, "EMAIL_USE_SSL", "both"),
        ({"EMAIL_TIMEOUT": "soon"}, "EMAIL_TIMEOUT", "number"),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT", "above 0"),
        ({"EMAIL_URL": "gopher://relay"}, "EMAIL_URL", "'gopher'"),
        ({"EMAIL_URL": "smtps://relay"}, "EMAIL_URL", "ambiguous"),
        ({"EMAIL_URL": "smtp://relay/?ssl=True&tls=True"}, "EMAIL_URL", "both"),
        ({"EMAIL_URL": "smtp://u:hunter2@relay:twenty-five"}, "EMAIL_URL", "twenty-five"),
        ({"EMAIL_URL": "smtp://relay/?timeout=soon"}, "EMAIL_URL", "soon"),
        ({"EMAIL_HOST_PASSWORD_FILE": "/nonexistent/pw"}, "EMAIL_HOST_PASSWORD_FILE", "/nonex"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(env, named, says):
    with pytest.raises(SettingError) as e:
        email_settings(env)
    assert named in str(e.value) and says in str(e.value)
    assert "hunter2" not in str(e.value)  # a URL's password is never repeated


def manage_py(tmp_path: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DEFAULT_FROM"))}
    full.update(env, SWAPADMIN_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="swapadmin.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO, env=full, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
    "for k in ('EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'EMAIL_TIMEOUT')}))"
)


def test_the_running_settings_are_read_from_the_process_environment(tmp_path):
    (tmp_path / "pw").write_text("s3cret")
    done = manage_py(
        tmp_path,
        {
            "EMAIL_HOST": "relay.internal",
            "EMAIL_PORT": "2525",
            "EMAIL_HOST_USER": "swap",
            "EMAIL_HOST_PASSWORD_FILE": str(tmp_path / "pw"),
            "EMAIL_USE_SSL": "True",
            "EMAIL_TIMEOUT": "3",
        },
        SHOW,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": "relay.internal",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "swap",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": True,
        "EMAIL_TIMEOUT": 3.0,
    }


def test_a_bad_value_stops_the_start(tmp_path):
    done = manage_py(tmp_path, {"EMAIL_URL": "smtp://relay:twenty-five"}, "print('started')")
    assert done.returncode != 0
    assert "started" not in done.stdout
    assert "EMAIL_URL" in done.stderr
