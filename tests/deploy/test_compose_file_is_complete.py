"""docker-compose.yml names the six services with health checks, and every command it runs
exists in this project (no engine runs here, so the file is checked, not started)."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_has_the_six_services_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"web", "control", "worker", "beat", "broker", "db"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert service["healthcheck"]["test"], name


def test_it_runs_the_web_unprivileged_and_the_worker_as_the_host_agent(
    compose: dict[str, Any],
) -> None:
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    assert web["user"] not in ("0", "root")
    assert not web.get("privileged", False)
    assert worker["privileged"] is True
    assert worker["pid"] == "host"
    mounts = {v.split(":")[1] for v in worker["volumes"]}
    assert {"/dev", "/sys", "/var/lib/swapadmin/swap"} <= mounts
    assert worker["environment"]["SWAPADMIN_SWAP_ROOTS"] == "/var/lib/swapadmin/swap"


def test_it_protects_redis_with_a_password(compose: dict[str, Any]) -> None:
    broker = " ".join(compose["services"]["broker"]["command"])
    # Users are kept in an ACL file (hosts' users); its default user gets the password.
    assert "--aclfile" in broker
    assert 'echo "user default on >$$REDIS_PASSWORD ~* &* +@all"' in broker
    assert "nopass" not in broker
    assert compose["x-app"]["environment"]["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")


def test_it_takes_every_secret_from_the_environment(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert f"${{{secret}:?" in text, f"{secret} must be required from the environment"


def _argv(command: str | list[str]) -> list[str]:
    return command if isinstance(command, list) else shlex.split(command)


def test_each_app_command_exists_in_the_project(compose: dict[str, Any]) -> None:
    from django.core.management import get_commands

    commands = get_commands()
    web = compose["services"]["web"]["command"]
    assert "manage.py migrate" in web
    target = web.split("gunicorn ", 1)[1].split()[0]
    module, attr = target.split(":")
    assert callable(getattr(importlib.import_module(module), attr))
    for name, role in (("worker", "worker"), ("control", "worker"), ("beat", "beat")):
        argv = _argv(compose["services"][name]["command"])
        assert argv[:3] == ["celery", "-A", "swapadmin"], argv
        assert argv[3] == role
    assert importlib.import_module("swapadmin.celery").app.main == "swapadmin"
    worker_check = compose["services"]["worker"]["healthcheck"]["test"]
    assert worker_check[1:] == ["python", "manage.py", "worker-alive"]
    assert "worker-alive" in commands
    beat_check = compose["services"]["beat"]["healthcheck"]["test"]
    assert beat_check[1:4] == ["python", "manage.py", "shell"] and "shell" in commands
    assert "migrate" in commands
    assert (ROOT / "Dockerfile").exists()
