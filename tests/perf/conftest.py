"""Fixtures the overview's cost tests share."""

from __future__ import annotations

from typing import Any

import pytest

from swapadmin.web import views


@pytest.fixture
def no_live_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every drawing computes what it draws: the shared 0.5 s cache would hide the cost."""
    monkeypatch.setattr(views, "_live_cache", None)
    monkeypatch.setattr(views, "LIVE_CACHE_SECONDS", 0)


@pytest.fixture
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
