"""The compose ``control`` service, which runs the notify task, receives the mail settings
from the .env file (compose passes a container only the variables it names), and no other
service gets the mail server's password."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MAIL = ("EMAIL_URL", "SWAPADMIN_ALERT_EMAILS", "DEFAULT_FROM_EMAIL")


def test_the_control_service_gets_the_mail_settings_and_only_it():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    control = services["control"]["environment"]
    for name in MAIL:
        assert control[name] == f"${{{name}:-}}", name
    for other in set(services) - {"control"}:
        assert "EMAIL_URL" not in (services[other].get("environment") or {}), other
