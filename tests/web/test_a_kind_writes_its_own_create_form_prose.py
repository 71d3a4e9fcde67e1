"""The create form asks the chosen kind's plugin what provisioning it does to the host, in
plain words for the summary, and which parameters the form opens with: a third party's
kind writes its own, with no line in the control plane that names it. A plugin that fails
to answer, or answers with the wrong type, gets what any kind says, not a broken page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from swapadmin.core.models import Host
from swapadmin.web import views


class Tenant(FileBackend):
    name = "tenant"
    label = "Tenant slot"

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return f"Reserve a tenant slot of {size} at {where}."

    @classmethod
    def form_initial(cls, swap_roots: Sequence[str]) -> dict[str, str]:
        return {"path": "/srv/tenant-slots/"}


class Broken(FileBackend):
    name = "broken"
    label = "Broken"

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        raise KeyError("where")

    @classmethod
    def form_initial(cls, swap_roots: Sequence[str]) -> dict[str, str]:
        return ["path"]  # type: ignore[return-value]


def summary(plugin: type[FileBackend], host: Host) -> list[str]:
    return views.creation_summary(
        plugin,
        {
            "host": host,
            "name": "s",
            "size_bytes": 64 << 20,
            "params": {"path": "/srv/s.swap"},
            "label": "",
            "priority": None,
            "activate": False,
            "persist": False,
        },
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("plugin", "says"),
    [
        (Tenant, "Reserve a tenant slot of 64.0 MiB at /srv/s.swap."),
        (LoopBackend, "Create a backing file of 64.0 MiB at /srv/s.swap (a file already"),
        (ZramBackend, "Create a compressed RAM device of 64.0 MiB; nothing on disk."),
        (Broken, "Prepare the store (64.0 MiB) as the Broken plugin does."),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_the_summary_says_what_the_kind_does(
    host_row: Host, plugin: type[FileBackend], says: str
) -> None:
    assert any(step.startswith(says) for step in summary(plugin, host_row))


@pytest.mark.parametrize(("plugin", "opens_with"), [(Tenant, "/srv/tenant-slots/"), (Broken, "")])
def test_the_form_opens_with_what_the_kind_says(
    as_user: Any,
    alice: User,
    host_row: Host,
    swap_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    plugin: type[FileBackend],
    opens_with: str,
) -> None:
    monkeypatch.setattr(views, "_plugin", lambda kind: plugin)
    r = as_user(alice).get(reverse("backend-new"))
    assert r.status_code == 200
    body = r.content.decode()
    assert f'value="{swap_root}/"' not in body  # the file kind's opening is its own
    if opens_with:
        assert f'value="{opens_with}"' in body
