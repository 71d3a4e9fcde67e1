"""Discovery follows an adopted store that its owner recreates at each boot (a
distribution's zram device) by asking the kind (``SwapBackend.follow_recreated``), not by
its name: a third party's kind that overrides the hook is followed the same way, a kind
that does not is never built for it, and one kind's plugin failing to look leaves the
others followed. The zram kind's own following runs end to end in
test_a_distributions_zram_device_is_the_same_backend_after_a_reboot.py."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from backends import Policy
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core import handlers
from swapadmin.core import plugins as core_plugins
from swapadmin.core.context import JobContext
from swapadmin.core.models import Backend, Host, Job

NEW_UUID = str(uuid.uuid4())
built: list[str] = []


class Recreated(FileBackend):
    """A third party's kind whose stores are made again under the same name."""

    name = "recreated"
    label = "Recreated"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        built.append(self.name)

    def follow_recreated(self) -> None:
        if not self.state.get("moved"):
            return
        # Found again: recorded afresh from the store itself, as zram records its device.
        store = self.open_store(False)
        try:
            fields = {k: v for k, v in store.info.items() if k != "key"}
            self.update_record(key=store.key, uuid=NEW_UUID, **fields)
        finally:
            store.close()


class Failing(Recreated):
    name = "failing"
    label = "Failing"

    def follow_recreated(self) -> None:
        raise KeyError("its own bug")


class Plain(FileBackend):
    """Says nothing of recreated stores: never built by the follow-up."""

    name = "plain"
    label = "Plain"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        built.append(self.name)


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry()
    for cls in (FileBackend, BlockBackend, LoopBackend, ZramBackend, Recreated, Failing, Plain):
        reg.register(cls)
    monkeypatch.setattr(handlers, "registry", lambda: reg)
    monkeypatch.setattr(core_plugins, "registry", lambda: reg)
    built.clear()


def open_files() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed meanwhile
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
    return out


def adopted(host: Host, root: Path, kind: str, *, moved: bool = False) -> Backend:
    """An adopted backend of ``kind`` over a real swap file of its own under ``root``."""
    path = root / f"{kind}.swap"
    path.write_bytes(b"\0" * (1 << 20))
    path.chmod(0o600)
    subprocess.run(["mkswap", str(path)], check=True, capture_output=True)  # never swapped on
    return Backend.objects.create(
        host=host,
        kind=kind,
        name=kind,
        params={"path": str(path)},
        state={"store": {"adopted": True, "key": f"old-{kind}"}, "moved": moved},
        size_bytes=1 << 20,
        adopted=True,
        store_key=f"old-{kind}",
    )


def test_each_kind_that_looks_again_is_asked_and_its_row_follows(
    kinds: None, host_row: Host, swap_root: Path, policy: Policy
) -> None:
    moved = adopted(host_row, swap_root, "recreated", moved=True)
    adopted(host_row, swap_root, "failing")
    plain = adopted(host_row, swap_root, "plain")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING)
    ctx = JobContext(job=job, backend=None, policy=policy)

    followed = handlers._follow_recreated(ctx)

    assert followed == [{"name": "recreated", "device": moved.params["path"]}]
    moved.refresh_from_db()
    assert moved.store_key not in (None, "old-recreated") and str(moved.swap_uuid) == NEW_UUID
    assert moved.header["version"] == 1, moved.header  # read from the store, proven
    gc.collect()
    assert moved.params["path"] not in open_files()  # nor left open (a zram reset's EBUSY)
    assert "plain" not in built  # a kind that never recreates is not even built
    plain.refresh_from_db()
    assert plain.store_key == "old-plain"
    log = Job.objects.get(pk=job.pk).log
    assert "failing: not followed: the failing plugin failed to say where failing's" in log


def test_a_store_found_where_it_was_is_not_reported_as_followed(
    kinds: None, host_row: Host, swap_root: Path, policy: Policy
) -> None:
    same = adopted(host_row, swap_root, "recreated", moved=False)
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING)

    assert handlers._follow_recreated(JobContext(job=job, backend=None, policy=policy)) == []
    same.refresh_from_db()
    assert same.store_key == "old-recreated" and same.swap_uuid is None


def test_a_store_another_backend_names_is_not_followed_and_the_rest_are(
    kinds: None, host_row: Host, swap_root: Path, policy: Policy
) -> None:
    """Two rows (a copy, a tampered row) following to one store: the first is followed, the
    second refused as the first's, and discovery goes on."""
    first = adopted(host_row, swap_root, "recreated", moved=True)
    twin = Backend.objects.create(
        host=host_row,
        kind="recreated",
        name="twin",
        params=dict(first.params),
        state={"store": {"adopted": True, "key": "old-twin"}, "moved": True},
        size_bytes=1 << 20,
        adopted=True,
        store_key="old-twin",
    )
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING)

    followed = handlers._follow_recreated(JobContext(job=job, backend=None, policy=policy))

    assert [f["name"] for f in followed] == ["recreated"]
    twin.refresh_from_db()
    assert twin.store_key == "old-twin" and twin.swap_uuid is None
    assert "twin: not followed: " in Job.objects.get(pk=job.pk).log
    assert "is the store of backend 'recreated' on this host already" in (
        Job.objects.get(pk=job.pk).log
    )


class ClosesBadly(Recreated):
    name = "closes-badly"
    label = "Closes badly"

    def close(self) -> None:
        super().close()
        raise OSError("its own bug")


def test_a_row_of_another_shape_or_a_plugin_that_fails_to_close_stops_nothing(
    kinds: None, monkeypatch: pytest.MonkeyPatch, host_row: Host, swap_root: Path, policy: Policy
) -> None:
    reg = handlers.registry()
    reg.register(ClosesBadly)
    # Another row whose recorded overlaps are no list (a hand's edit, another machine's).
    odd = adopted(host_row, swap_root, "plain")
    Backend.objects.filter(pk=odd.pk).update(
        state={"store": {"adopted": True, "key": "old-plain", "overlaps": 5}}
    )
    moved = adopted(host_row, swap_root, "closes-badly", moved=True)
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING)

    followed = handlers._follow_recreated(JobContext(job=job, backend=None, policy=policy))

    assert followed == [{"name": "closes-badly", "device": moved.params["path"]}]
    moved.refresh_from_db()
    assert str(moved.swap_uuid) == NEW_UUID
