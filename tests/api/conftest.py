"""API test helpers: a client per persona, authenticated with a real DRF token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Job

PAGE = 4096


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    # The personas' passwords are hashed with the production hasher otherwise: seconds a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_with_token(user: User | None) -> APIClient:
    client = APIClient(REMOTE_ADDR="192.0.2.7")
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def as_user(db: None) -> Callable[[User | None], APIClient]:
    return client_with_token


@pytest.fixture
def people(alice: User, oscar: User, victor: User, nora: User) -> dict[str, User | None]:
    return {"anonymous": None, "nora": nora, "victor": victor, "oscar": oscar, "alice": alice}


@pytest.fixture
def make_backend(host_row: Host, swap_root: Path) -> Callable[..., Backend]:
    """A Backend row as if provisioned: inactive, no job holding it. Nothing on disk."""

    def make(name: str = "swap0", **fields: object) -> Backend:
        defaults: dict[str, object] = {
            "host": host_row,
            "kind": "file",
            "name": name,
            "params": {"path": str(swap_root / name)},
            "size_bytes": 64 * PAGE,
            "observed_state": Backend.Observed.READY,
        }
        defaults.update(fields)
        return Backend.objects.create(**defaults)

    return make


@pytest.fixture
def backend(make_backend: Callable[..., Backend]) -> Backend:
    return make_backend()


def jobs_of(backend: Backend) -> list[Job]:
    return list(Job.objects.filter(backend=backend).order_by("queued_at"))
