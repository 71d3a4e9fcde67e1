"""Names starting with "dyn-" are the policy's: a person cannot create a backend so named,
through the services, the API or the page, so the policy's files never collide with theirs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from tests.api.conftest import client_with_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize("name", ["dyn-1", "DYN-x", "dyn-"])
def test_services_refuse_it(alice, host_row, swap_root, name):
    with pytest.raises(services.InvalidRequest) as e:
        services.create_backend(
            host=host_row, kind="file", name=name, size_bytes=16 << 20,
            actor=services.Actor(alice, "api"), params={"path": str(swap_root / "x")},
        )  # fmt: skip
    assert "reserved for the files dynamic swap adds" in e.value.errors["name"][0]
    assert not Backend.objects.exists() and not Job.objects.exists()


def test_the_api_refuses_it(alice, host_row, swap_root):
    r = client_with_token(alice).post(
        "/api/v1/backends/",
        {"host": str(host_row.uuid), "kind": "file", "name": "dyn-7", "size_bytes": 16 << 20,
         "params": {"path": str(swap_root / "dyn-7")}},
        format="json",
    )  # fmt: skip
    assert r.status_code == 400 and "reserved" in str(r.json()["name"])
    assert not Backend.objects.exists()


def test_the_page_refuses_it(client, alice, host_row, swap_root):
    client.force_login(alice)
    r = client.post(
        reverse("backend-new"),
        {"host": str(host_row.uuid), "kind": "file", "name": "dyn-7", "size_mib": "16",
         "discard": "", "param_path": str(swap_root / "dyn-7"), "step": "create"},
    )  # fmt: skip
    assert "reserved for the files dynamic swap adds" in r.content.decode()
    assert not Backend.objects.exists()


def test_a_name_merely_containing_it_is_fine(alice, host_row, swap_root):
    services.create_backend(
        host=host_row, kind="file", name="my-dyn-1", size_bytes=16 << 20,
        actor=services.Actor(alice, "api"), params={"path": str(swap_root / "my-dyn-1")},
    )  # fmt: skip
    assert Backend.objects.filter(name="my-dyn-1").exists()
