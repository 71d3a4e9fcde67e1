"""The backend page's section about the store is what the kind's plugin says of it
(``SwapBackend.facts``), from what the worker last read: each built-in kind words its own,
a third party's kind can, and one whose plugin fails, or that is not installed here, still
gets its page, with its parameters."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils.safestring import mark_safe

from backends import Fact
from backends.plugins.file import FileBackend
from swapadmin.core.models import Backend
from swapadmin.web import views

MIB = 1 << 20


def page(as_user: Any, alice: User, backend: Backend, **row: Any) -> str:
    Backend.objects.filter(pk=backend.pk).update(**row)
    r = as_user(alice).get(reverse("backend", args=[backend.uuid]))
    assert r.status_code == 200
    return " ".join(r.content.decode().split())  # the markup's line breaks do not matter


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        (
            {
                "kind": "file",
                "info": {
                    "path": "/srv/swap/a.swap",
                    "filesystem": "ext4",
                    "extents": 3,
                    "exists": True,
                    "file_size_bytes": 64 * MIB,
                },
            },
            [
                '<dt>File</dt><dd class="mono">/srv/swap/a.swap</dd>',
                "<dt>Filesystem</dt><dd>ext4</dd>",
                "<dt>Extents</dt><dd>3 — no holes, nothing shared</dd>",
                "<dt>Size on disk</dt><dd>64.0 MiB</dd>",
            ],
        ),
        (
            {"kind": "file", "info": {"extents": 9, "exists": True, "problems": ["a hole"]}},
            ['<dd>9 — <span class="error-text">a hole</span></dd>', "<dd>unknown</dd>"],
        ),
        (
            {
                "kind": "zram",
                "info": {
                    "device": "/dev/zram7",
                    "comp_algorithm": "lz4",
                    "orig_data_size": 4 * MIB,
                    "compr_data_size": MIB,
                    "compression_ratio": 4,
                    "mem_used_total": 2 * MIB,
                },
            },
            [
                '<dt>Device</dt><dd class="mono">/dev/zram7</dd>',
                "<dt>Algorithm</dt><dd>lz4</dd>",
                "<dd>4.0 MiB in 1.0 MiB — ratio 4.00</dd>",
                "<dt>Memory used</dt><dd>2.0 MiB</dd>",
            ],
        ),
        (
            {
                "kind": "loop",
                "params": {"path": "/srv/swap/l.img"},
                "state": {"device": "/dev/loop9"},
                "info": {"attached": False, "direct_io": True},
            },
            [
                '<dd class="mono">/dev/loop9 (not attached)</dd>',
                '<dt>Backing file</dt><dd class="mono">/srv/swap/l.img</dd>',
                "<dt>Direct I/O</dt><dd>yes</dd>",
            ],
        ),
        (
            {
                "kind": "block",
                "params": {"device": "/dev/vdb"},
                "info": {
                    "kernel_name": "vdb",
                    "major_minor": "254:16",
                    "capacity_bytes": 1 << 30,
                    "holders": ["dm-0"],
                    "mount_points": [],
                    "signatures": [],
                },
            },
            [
                '<dd class="mono">/dev/vdb (vdb, 254:16)</dd>',
                "<dt>Capacity</dt><dd>1.0 GiB</dd>",
                "<dt>Signatures</dt><dd>swap only</dd>",
                "<dd>not mounted · dm-0</dd>",
            ],
        ),
    ],
    ids=["file", "file-with-problems", "zram", "loop", "block"],
)
def test_each_kind_words_what_the_worker_read(
    as_user: Any, alice: User, backend: Backend, row: dict[str, Any], shown: list[str]
) -> None:
    body = page(as_user, alice, backend, **row)
    for words in shown:
        assert words in body


class Tenant(FileBackend):
    name = "tenant"
    label = "Tenant slot"

    @classmethod
    def facts(cls, info: Any, params: Any, state: Any, swap_path: str | None) -> list[Fact]:
        return [Fact("Slot", f"{state['slot']} <of {info['of']}>", mono=True), "not a fact"]  # type: ignore[list-item]


class Broken(FileBackend):
    name = "broken"
    label = "Broken"

    @classmethod
    def facts(cls, info: Any, params: Any, state: Any, swap_path: str | None) -> list[Fact]:
        raise KeyError("slot")


def test_a_third_party_kind_words_its_own_escaped(
    as_user: Any, alice: User, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "_plugin", lambda kind: Tenant)
    body = page(as_user, alice, backend, state={"slot": 7}, info={"of": "<b>16</b>"})
    assert '<dt>Slot</dt><dd class="mono">7 &lt;of &lt;b&gt;16&lt;/b&gt;&gt;</dd>' in body
    assert "not a fact" not in body


@pytest.mark.parametrize("plugin", [Broken, None], ids=["fails", "not-installed"])
def test_a_kind_that_cannot_say_still_gets_its_page(
    as_user: Any,
    alice: User,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    plugin: type[FileBackend] | None,
) -> None:
    monkeypatch.setattr(views, "_plugin", lambda kind: plugin)
    body = page(as_user, alice, backend, info={"filesystem": "ext4"})
    assert "<dt>Filesystem</dt>" not in body and "<dt>Parameters</dt>" in body


class MarkedSafe(FileBackend):
    name = "marked-safe"
    label = "Marked safe"

    @classmethod
    def facts(cls, info: Any, params: Any, state: Any, swap_path: str | None) -> list[Fact]:
        return [Fact("Slot", mark_safe(f"<b>{params['path']}</b>"))]


def test_what_a_plugin_marks_safe_is_escaped_all_the_same(
    as_user: Any, alice: User, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "_plugin", lambda kind: MarkedSafe)
    body = page(as_user, alice, backend, params={"path": "<img src=x>"})
    assert "<img src=x>" not in body and "&lt;img src=x&gt;" in body
