"""Strict settings helpers: a typo in the environment fails at start, not at 3 a.m.

After healthchecks.io's ``envbool``: a boolean is "True" or "False" and nothing else, and a
secret may come from a file named by ``NAME_FILE`` (Docker and systemd credentials).
"""

from __future__ import annotations

import os
from pathlib import Path


class SettingError(RuntimeError):
    pass


def envstr(name: str, default: str | None = None) -> str | None:
    file_var = os.environ.get(f"{name}_FILE")
    if file_var:
        return Path(file_var).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = envstr(name, default)
    if value not in ("True", "False"):
        raise SettingError(f"{name} must be True or False, not {value!r}")
    return value == "True"


def envint(name: str, default: int) -> int:
    value = envstr(name, str(default))
    try:
        return int(value or "")
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {value!r}") from None


def envfloat(name: str, default: float) -> float:
    value = envstr(name, str(default))
    try:
        return float(value or "")
    except ValueError:
        raise SettingError(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str = "", sep: str = ",") -> list[str]:
    return [v.strip() for v in (envstr(name, default) or "").split(sep) if v.strip()]
