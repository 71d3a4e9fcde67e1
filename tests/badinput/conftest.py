"""Helpers for bad-input tests: an admin's API client and a snapshot of what is on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.fixtures.tokens import token_for


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_api(alice: Any) -> APIClient:
    client = APIClient(REMOTE_ADDR="192.0.2.9")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(alice)}")
    return client


def disk_state(*roots: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``roots`` with its (mode, size, mtime_ns): equal before and after
    means nothing on disk changed."""
    out: dict[str, tuple[int, int, int]] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out
