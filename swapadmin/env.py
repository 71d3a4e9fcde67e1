"""Strict settings helpers: a typo in the environment fails at start, not at 3 a.m.

After healthchecks.io's ``envbool``: a boolean is "True" or "False" and nothing else, and a
secret may come from a file named by ``NAME_FILE`` (Docker and systemd credentials).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class SettingError(RuntimeError):
    pass


def envstr(
    name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    # ``environ``: settings built from a given mapping (tests, a subprocess's env).
    env = os.environ if environ is None else environ
    file_var = env.get(f"{name}_FILE")
    if file_var:
        try:
            return Path(file_var).read_text().strip()
        except OSError as e:
            raise SettingError(f"{name}_FILE: cannot read {file_var}: {e.strerror}") from None
    return env.get(name, default)


def envbool(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> bool:
    value = envstr(name, default, environ=environ)
    if value not in ("True", "False"):
        raise SettingError(f"{name} must be True or False, not {value!r}")
    return value == "True"


def envint(name: str, default: int, *, environ: Mapping[str, str] | None = None) -> int:
    value = envstr(name, str(default), environ=environ)
    try:
        return int(value or "")
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {value!r}") from None


def envfloat(name: str, default: float, *, environ: Mapping[str, str] | None = None) -> float:
    value = envstr(name, str(default), environ=environ)
    try:
        return float(value or "")
    except ValueError:
        raise SettingError(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str = "", sep: str = ",") -> list[str]:
    return [v.strip() for v in (envstr(name, default) or "").split(sep) if v.strip()]
