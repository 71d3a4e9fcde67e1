"""docker-compose.yml as compose would see it, for tests that run its pieces here.

No Docker engine (nor the compose plugin) runs on the test machine, so the file is parsed
with PyYAML and its ``${VAR...}`` references are filled the way compose fills them from the
environment or an .env file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME
_REFERENCE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), f"{COMPOSE_FILE} is not a mapping"
    return data


def interpolate(value: str, env: dict[str, str]) -> str:
    """``value`` with every variable reference filled from ``env``; a required variable
    that ``env`` lacks raises ``KeyError`` naming it, as compose refuses to start."""

    def fill(m: re.Match[str]) -> str:
        if m["dollar"]:
            return "$"
        name = m["name"] or m["bare"]
        op, arg = m["op"], m["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _REFERENCE.sub(fill, value)


def service_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """The environment compose gives a service's container, from the host's ``env``."""
    raw = service.get("environment") or {}
    return {k: interpolate(str(v), env) for k, v in raw.items()}
