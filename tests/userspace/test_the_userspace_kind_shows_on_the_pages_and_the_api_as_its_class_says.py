"""The pages and the API show the user-space kind from what its class says, with no change
to swapadmin: the API's plugin description, the create form's fields, prose and summary, and
the backend page's facts about its store (the daemon, the mount, the loop device, and the
PR_SET_IO_FLUSHER it lacks, shown as a problem). Neither resize nor fstab persistence is
offered: the class says it can do neither."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from swapadmin_userspace.plugin import IO_FLUSHER_WHY, UserspaceBackend

from swapadmin.core.models import Backend, Host, Job

MIB = 1 << 20


@pytest.fixture(autouse=True)
def fast_passwords(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


def squeezed(body: bytes) -> str:
    return " ".join(body.decode().split())


def test_the_api_describes_it_as_its_class_does(victor: User) -> None:
    client = APIClient()
    client.force_authenticate(victor)
    r = client.get("/api/v1/plugins/userspace/")
    assert r.status_code == 200
    assert r.json() == UserspaceBackend.kind_info()
    assert r.json()["resizable"] is False


def test_the_create_form_asks_and_summarises_it(
    client: Client, alice: User, host_row: Host, swap_root: Path
) -> None:
    client.force_login(alice)
    url = reverse("backend-new")
    body = squeezed(client.get(url).content)
    assert re.search(r'<option value="userspace"\s*>User-space store \(FUSE\)</option>', body)
    hx = {"HX-Request": "true", "HX-Target": "new-form"}
    body = squeezed(client.get(f"{url}?kind=userspace&host={host_row.uuid}", headers=hx).content)
    assert '<label for="id_param_path">Store file' in body
    assert "User-space store (FUSE) on testhost" in body
    fields = {
        "host": str(host_row.uuid),
        "kind": "userspace",
        "name": "uswap1",
        "size_mib": "64",
        "priority": "",
        "discard": "",
        "label": "",
        "param_path": str(swap_root / "uswap1"),
    }
    body = squeezed(client.post(url, fields, headers=hx).content)
    assert "What will happen" in body
    assert f"Create a store file of 64.0 MiB at {swap_root}/uswap1" in body
    assert "start swapadmin&#x27;s daemon uswapd over it" in body
    assert not Backend.objects.exists() and not Job.objects.exists()


def test_its_page_words_its_own_facts(
    client: Client, alice: User, host_row: Host, swap_root: Path
) -> None:
    backend = Backend.objects.create(
        host=host_row,
        kind="userspace",
        name="uswap1",
        params={"path": str(swap_root / "uswap1"), "request_timeout": 60},
        size_bytes=64 * MIB,
        observed_state=Backend.Observed.READY,
        provisioned_at=timezone.now(),
        state={
            "device": "/dev/loop6",
            "mountpoint": "/run/swapadmin/uswap/2049-12",
            "daemon": {"pid": 4242, "start_time": 99, "boot_id": "b"},
            "io_flusher": False,
            "request_timeout": 0,  # what a kernel before 6.14 grants
        },
        info={"daemon_running": True, "io_flusher": False, "device": "/dev/loop6"},
    )
    client.force_login(alice)
    r = client.get(reverse("backend", args=[backend.uuid]))
    assert r.status_code == 200
    body = squeezed(r.content)
    assert f'<dt>Store file</dt><dd class="mono">{swap_root}/uswap1</dd>' in body
    assert "<dt>Daemon</dt><dd>uswapd, pid 4242, running</dd>" in body
    assert '<dt>FUSE mount</dt><dd class="mono">/run/swapadmin/uswap/2049-12</dd>' in body
    assert '<dt>Loop device</dt><dd class="mono">/dev/loop6</dd>' in body
    refused = "swapon is refused: " + IO_FLUSHER_WHY.replace("'", "&#x27;")
    assert f'<dt>PR_SET_IO_FLUSHER</dt><dd>no — <span class="error-text">{refused}' in body
    assert (
        '<dt>Request timeout</dt><dd>none — <span class="error-text">60 s was asked for, but '
        "the kernel offers no request timeout"
    ) in body
    assert 'id="resize-submit"' not in body and 'id="persist-toggle"' not in body
