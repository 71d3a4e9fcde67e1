"""`manage.py check --deploy` has nothing to say about the production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "SESSION_COOKIE_SECURE": "True",
    "CSRF_COOKIE_SECURE": "True",
    "SECURE_SSL_REDIRECT": "True",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
    "SECURE_HSTS_PRELOAD": "True",
    "SECURE_PROXY_SSL": "True",
    "ALLOWED_HOSTS": "swap.example.com",
}


def check_deploy(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {**inherited, **PRODUCTION, "SWAPADMIN_DATA_DIR": str(tmp_path), **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_it_is_clean_with_the_production_settings(tmp_path: Path) -> None:
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_complains_when_cookies_are_not_secure(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, SESSION_COOKIE_SECURE="False")
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr


def test_a_malformed_boolean_stops_the_start(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, DEBUG="yes")
    assert result.returncode != 0
    assert "DEBUG must be True or False" in result.stderr
