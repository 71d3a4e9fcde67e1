"""What a health check looks at on the host: each probe reads the machine and returns findings.

These run on the host's worker (as root), never in the web process. They read only: the
header through the plugin's ``swap_in(0)``, ``stat`` and ``statvfs``, /proc, /sys, the fstab
file and the kernel log. A probe that cannot look says so in a finding rather than raising,
so one unreadable thing never hides the others.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend, kernel, presence, registry
from backends import fstab as fstab_mod
from backends.errors import NoDeviceError, NotOursError, printable
from backends.registry import compressed_memory as checked_compressed_memory
from backends.registry import kind_says
from swapadmin.core import actions
from swapadmin.core.models import Backend, Host
from swapadmin.core.observe import WHOLE_LIMIT, named_path, said
from swapadmin.core.services import backend_kind_refusal, way_out_of_unproven
from swapadmin.env import envfloat

from .models import Status


def setting(name: str, default: float) -> float:
    """A threshold: the Django setting if there is one (tests override it), else the
    environment (the worker's own), else the default."""
    if hasattr(settings, name):
        return float(getattr(settings, name))
    return envfloat(name, default)


@dataclass(frozen=True)
class Thresholds:
    used_warn: float = 0.80  # fraction of an area in use
    used_fail: float = 0.95
    fs_free_warn: float = 0.10  # fraction of the swap file's filesystem still free
    fs_free_fail: float = 0.02
    psi_some_warn: float = 10.0  # % of the last 10 s some task stalled on memory
    psi_full_warn: float = 2.0  # % of the last 10 s every task stalled on memory
    psi_full_fail: float = 10.0
    swapin_warn: float = 1000.0  # pages/s swapped in
    zram_ratio_warn: float = 1.5  # compression below this, once enough is stored
    zram_ratio_min_bytes: float = 16 << 20
    zram_limit_warn: float = 0.90  # fraction of the zram memory limit in use
    zram_limit_fail: float = 0.98
    io_error_window: float = 3600.0  # seconds of kernel log that count
    host_check_seconds: float = 30.0  # a host-level result this young serves the next check

    @classmethod
    def from_settings(cls) -> Thresholds:
        names = cls.__dataclass_fields__
        return cls(**{n: setting(f"SWAPADMIN_HEALTH_{n.upper()}", getattr(cls, n)) for n in names})


@dataclass
class Finding:
    check: str
    status: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            # The words name paths and quote what kinds and devices said: a NUL or a name
            # that is not UTF-8 would fail the result's write (jsonb), losing the check's
            # round for the backend (review 180/3).
            "message": printable(self.message),
            "value": self.value,
        }


def ok(check: str, message: str, value: Any = None) -> Finding:
    return Finding(check, Status.OK, message, value)


def warn(check: str, message: str, value: Any = None) -> Finding:
    return Finding(check, Status.WARN, message, value)


def fail(check: str, message: str, value: Any = None) -> Finding:
    return Finding(check, Status.FAIL, message, value)


def graded(
    check: str, value: float, warn_at: float, fail_at: float, message: str, *, above: bool = True
) -> Finding:
    """ok/warn/fail for ``value`` against two thresholds (``above``: higher is worse)."""
    worse: Callable[[float], bool] = (lambda t: value >= t) if above else (lambda t: value <= t)
    if worse(fail_at):
        return fail(check, message, value)
    if worse(warn_at):
        return warn(check, message, value)
    return ok(check, message, value)


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


# ---- one backend ----


@dataclass
class Target:
    """One backend as the probes see it: the row, the plugin (None if it cannot be built),
    the path /proc/swaps would show, and the active area if there is one."""

    backend: Backend
    plugin: SwapBackend | None
    swap_path: str | None
    area: kernel.SwapArea | None
    findings: list[Finding] = field(default_factory=list)
    # Why the path /proc/swaps would show could not be named (a boot id or sysfs that
    # cannot be read): whether the area is active is then unknown, not "no".
    path_error: str = ""

    @property
    def file_path(self) -> str | None:
        params = self.backend.params if isinstance(self.backend.params, dict) else {}
        return presence.as_path(params.get("path"))

    @property
    def device(self) -> str | None:
        if self.swap_path and self.swap_path.startswith("/dev/"):
            return self.swap_path
        return None


def target_for(backend: Backend, plugin: SwapBackend | None, plugin_error: str) -> Target:
    swap_path: str | None = None
    path_error = ""
    if plugin is not None:
        # None: a loop or zram device not attached, so the area cannot be active. Whatever
        # a third party's kind raises, or names that is no path, is said (review 173/6).
        swap_path, unnamed = named_path(plugin)
        path_error = unnamed or ""
    else:
        swap_path = presence.as_path(backend.swap_path)
        named = _named_path(backend)
        if swap_path is None and named:
            # A row another machine wrote: nothing is looked at for it, and that is said.
            path_error = f"the row's path {named!r} is not a path"
    area = kernel.find_area(swap_path) if swap_path else None
    t = Target(backend, plugin, swap_path, area, path_error=path_error)
    if plugin is None:
        t.findings.append(fail("plugin", f"cannot load the {backend.kind} plugin: {plugin_error}"))
    return t


def check_store(t: Target) -> list[Finding]:
    """The file or device exists, is root's, and only root can read it: swap holds memory."""
    out: list[Finding] = []
    if t.file_path:
        out.append(
            _check_node(
                t.file_path,
                "file",
                exact_mode=True,
                beneath=kind_says(t.backend.kind, "beneath_mounts"),
            )
        )
    device = t.device
    if (
        device
        and device != t.file_path
        # A released loop or zram device is gone by design; one the look cannot tell of
        # (EACCES, EIO) is looked at, and its failed stat said (review 161/6).
        and (
            presence.there(device) is not False
            or not kind_says(t.backend.kind, "device_is_ephemeral")
        )
    ):
        out.append(_check_node(device, "device", exact_mode=False))
    if not out:
        out = _cannot_tell(t, "store", "tell which file or device to look at") or [
            ok("store", "no file or device to look at while the area is released")
        ]
    return out


def _named_path(backend: Backend) -> object:
    """What the row gives for its path, whatever its type (``Backend.swap_path`` names only
    a string): the first of its last description's path and its params' that is set."""
    info = backend.info if isinstance(backend.info, dict) else {}
    params = backend.params if isinstance(backend.params, dict) else {}
    return info.get("swap_path") or params.get("path") or params.get("device")


def _cannot_tell(t: Target, check: str, what: str) -> list[Finding]:
    """A warning that ``check`` could not look, because the backend's path could not be
    named (``Target.path_error``); nothing when it could. Silence, or an "ok" for a store
    released by design, would read as a clean bill for an area that may be in use."""
    # The cause first, then what it stopped: "cannot {what}: cannot tell whether …" said
    # "cannot" twice and hid which look was not taken (review 159).
    cause = t.path_error.rstrip(".")  # a third party's message may end its sentence
    return [warn(check, f"{cause}; so this check could not {what}")] if t.path_error else []


def _check_node(path: str, what: str, *, exact_mode: bool, beneath: bool = False) -> Finding:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        # Only a kind whose store is a file beneath the mount points asks, as the sampler
        # does: a table that cannot be read says nothing of a missing device (183/7, 184/7).
        hidden = (
            fstab_mod.hidden_by_a_mount(path, Policy.from_env().mount_table) if beneath else None
        )
        if hidden is not None:  # not "does not exist": it may be on the missing mount
            return fail("store", f"cannot find the swap {what}: {hidden.message}", path)
        return fail("store", f"the swap {what} {path} does not exist", path)
    except OSError as e:
        return fail("store", f"cannot stat {path}: {e.strerror}", path)
    mode = stat.S_IMODE(st.st_mode)
    value = {"path": path, "uid": st.st_uid, "mode": f"{mode:04o}"}
    if stat.S_ISLNK(st.st_mode):
        return fail("store", f"{path} is a symbolic link; swap must be the real path", value)
    problems = []
    if st.st_uid != 0:
        problems.append(f"owned by uid {st.st_uid}, not root")
    # A file must be 0600 (mkswap and swapon warn otherwise); a device node is usually
    # 0660 root:disk, so only access for others is a problem there.
    if exact_mode and mode & 0o077:
        problems.append(f"mode {mode:04o}, not 0600")
    if not exact_mode and mode & 0o006:
        problems.append(f"mode {mode:04o} lets every user read or write it")
    if problems:
        fix = f"chown root:root {path}; chmod {'600' if exact_mode else 'o-rw'} {path}"
        return fail(
            "store",
            f"{path} is {' and '.join(problems)}: whoever can read swap reads process "
            f"memory. Fix with: {fix}",
            value,
        )
    return ok("store", f"{path} exists, owned by root, mode {mode:04o}", value)


def check_identity(t: Target) -> list[Finding]:
    """The store at the path is this backend's own: its mark or recorded identity (a disk's
    WWN and partition, a loop device's backing file, a zram device of this boot) and the
    swap UUID on record (the one swapadmin wrote, or for an adopted area the one it held
    when adopted). After a reboot or a hotplug, /dev/sdb1 may be another disk."""
    b = t.backend
    if t.plugin is None:
        return []
    if b.provisioned_at is None:
        return [
            warn(
                "identity",
                f"{b.name} was never provisioned: its store is not proven to be swapadmin's, "
                f"so nothing is written to it. {way_out_of_unproven(b)}",
            )
        ]
    try:
        reached = _another_name(t.plugin)
    except NotOursError as e:
        return [fail("identity", e.message, {"path": t.swap_path})]
    except BackendError as e:
        if presence.could_not_look(e):
            # The store could not be read (EACCES, EIO; a swap root others may write): not
            # proven, which is no "ok", and no repair may act on it (review 164/3).
            return [fail("identity", f"cannot prove the store is this backend's: {e.message}")]
        if (
            t.path_error
            or isinstance(e, NoDeviceError)
            or presence.gone(e, t.file_path or t.swap_path)
        ):
            # No store there now (check_store says so), or no path to look at.
            return _cannot_tell(t, "identity", "prove the store is this backend's")
        # The kind refused what is there for a reason of its own (not a block device, a
        # page 0 too short): not proven either; silence read as a clean bill (review 168/3).
        return [fail("identity", f"cannot prove the store is this backend's: {e.message}")]
    except OSError as e:
        return [warn("identity", f"cannot read the store to prove it is ours: {e.strerror}")]
    finally:
        t.plugin.close()
    if reached:
        # Its own store, reachable by another name too (a loop device attached over it): no
        # "ok", and a FAIL, so that no repair swaps it on (the worker's check_alone would
        # refuse it all the same); the words say it is this backend's (238/1, 236/6).
        return [
            fail(
                "identity",
                f"the store at the path is this backend's (identity and swap UUID), but {reached}",
                {"path": t.swap_path},
            )
        ]
    return [ok("identity", "the store at the path is this backend's (identity and swap UUID)")]


def _another_name(plugin: SwapBackend) -> str:
    """Why another name may reach the bytes of the store proven this backend's (the words
    of ``check_alone``, which every write and swapon asks), or "" when none does: never ""
    for a refusal, whatever a third party's words are, and said too when it cannot be told
    (a loop device that cannot be asked, a kind's bug), which is no "ok" either (239/4-5).
    Raises as ``open_for_swapon`` does when the store is not proven this backend's."""
    store = plugin.open_for_swapon()
    try:
        plugin.check_alone(store)
    except NotOursError as e:
        return said(e, limit=WHOLE_LIMIT)  # never "": the type's name at least
    except Exception as e:
        return f"whether another name reaches its bytes cannot be told: {said(e)}"
    finally:
        store.close()
    return ""


def check_free_space(t: Target, th: Thresholds) -> list[Finding]:
    if not t.file_path or presence.there(t.file_path) is False:
        return []  # no file: check_store says so (a file it cannot stat still has a filesystem)
    try:
        vfs = os.statvfs(os.path.dirname(t.file_path))
    except OSError as e:
        return [warn("free_space", f"cannot statvfs the swap file's filesystem: {e.strerror}")]
    total = vfs.f_blocks * vfs.f_frsize
    free = vfs.f_bavail * vfs.f_frsize
    fraction = free / total if total else 0.0
    f = graded(
        "free_space",
        fraction,
        th.fs_free_warn,
        th.fs_free_fail,
        f"{_mib(free)} free of {_mib(total)} ({fraction:.0%}) on the swap file's filesystem",
        above=False,
    )
    f.value = {"free_bytes": free, "total_bytes": total, "free_fraction": round(fraction, 4)}
    return [f]


def check_header(t: Target) -> list[Finding]:
    """Page 0 read through the plugin (read-only, safe while active): a SWAPSPACE2 header
    whose label and UUID are the ones on record (swapadmin's, or an adopted area's own)."""
    from backends import header

    if t.plugin is None:
        return []
    try:
        io_path = t.plugin.io_path()
    except BackendError:
        # A loop or zram device released by design while inactive; or no path to look at.
        return _cannot_tell(t, "header", "read the swap header")
    if presence.there(io_path, follow=False) is False:
        return []  # no store: check_store reports it (one it cannot stat is read, and said)
    try:
        hdr = header.read_header(t.plugin)
    except BackendError as e:
        if presence.could_not_look(e):
            # Refused before a byte was read (a swap root others may write) or a read that
            # failed (EACCES, EIO, ELOOP): nothing is known of the header, and "damaged"
            # would ask for a new one (review 164/2).
            return [fail("header", f"cannot read the swap header: {e.message}")]
        if presence.gone(e, io_path):
            return []  # gone since the look above (ENXIO, or removed): check_store says so
        return [fail("header", f"the swap header is damaged: {e.message}")]
    except OSError as e:
        return [fail("header", f"cannot read the swap header: {e.strerror}")]
    finally:
        t.plugin.close()
    value = {"label": hdr.label, "uuid": str(hdr.uuid), "badpages": hdr.nr_badpages}
    b = t.backend
    if hdr.label != b.label:
        return [
            fail(
                "header",
                f"the swap label is {hdr.label!r}, not {b.label!r}: someone ran mkswap "
                "on this area outside swapadmin",
                value,
            )
        ]
    if b.swap_uuid is not None and hdr.uuid != b.swap_uuid:
        return [
            fail(
                "header",
                f"the swap UUID is {hdr.uuid}, not {b.swap_uuid}: the area was formatted "
                "again outside swapadmin",
                value,
            )
        ]
    bad = f", {hdr.nr_badpages} bad pages" if hdr.nr_badpages else ""
    return [ok("header", f"swap header intact (label {hdr.label!r}, UUID {hdr.uuid}{bad})", value)]


def check_drift(t: Target) -> list[Finding]:
    """Active or not, and at which priority, as the user asked. ``value["repair"]`` names
    the job that restores it, for auto-repair."""
    b = t.backend
    if t.path_error:
        # No repair: activating or deactivating an area whose state is unknown would act
        # on a guess.
        return [fail("drift", t.path_error, {"desired": b.desired_state, "observed": "unknown"})]
    active = t.area is not None
    value: dict[str, Any] = {
        "desired": b.desired_state,
        "observed": "active" if active else "inactive",
    }
    if b.desired_state == Backend.Desired.ACTIVE and not active:
        value["repair"] = "activate"
        return [
            fail(
                "drift",
                f"{t.swap_path or b.name} should be active but is not in /proc/swaps",
                value,
            )
        ]
    if b.desired_state != Backend.Desired.ACTIVE and active:
        if b.desired_state == Backend.Desired.INACTIVE:
            value["repair"] = "deactivate"
        return [warn("drift", f"{t.swap_path} is active but should be {b.desired_state}", value)]
    if active and b.priority is not None and t.area is not None and t.area.priority != b.priority:
        value.update(priority=t.area.priority, desired_priority=b.priority)
        return [
            warn(
                "drift",
                f"{t.swap_path} is active at priority {t.area.priority}, not {b.priority}; "
                "deactivate and activate it to apply the priority",
                value,
            )
        ]
    return [ok("drift", f"{b.desired_state}, as desired", value)]


def check_used(t: Target, th: Thresholds) -> list[Finding]:
    if t.area is None or not t.area.size_bytes:
        return _cannot_tell(t, "used", "tell how much of the area is in use")
    a = t.area
    fraction = a.used_bytes / a.size_bytes
    f = graded(
        "used",
        fraction,
        th.used_warn,
        th.used_fail,
        f"{_mib(a.used_bytes)} of {_mib(a.size_bytes)} in use ({fraction:.0%})",
    )
    f.value = {
        "used_bytes": a.used_bytes,
        "size_bytes": a.size_bytes,
        "fraction": round(fraction, 4),
    }
    return [f]


def check_compressed_memory(t: Target, th: Thresholds) -> list[Finding]:
    """The compression and memory limit of an area its kind keeps in compressed RAM (a zram
    device; a third party's kind of the same sort), from the kind's own figures."""
    dev = t.swap_path
    if t.plugin is None or not dev:
        return []
    try:
        st = checked_compressed_memory(type(t.plugin), dev)
    except BackendError as e:
        return [warn("zram", f"cannot read {dev}'s compressed memory: {e.message}")]
    except Exception as e:  # a third party's bug: said on the check, not a crash of it
        return [warn("zram", f"the {t.backend.kind} plugin failed to give {dev}'s "
                             f"compressed memory: {said(e)}")]  # fmt: skip
    if st is None:
        return []
    out: list[Finding] = []
    ratio = st.compression_ratio
    if st.orig_data_size >= th.zram_ratio_min_bytes and ratio < th.zram_ratio_warn:
        out.append(
            warn(
                "zram_ratio",
                f"{dev} compresses only {ratio:.2f}:1; the memory it saves may not be worth "
                "the CPU (try another compressor)",
                round(ratio, 3),
            )
        )
    else:
        out.append(ok("zram_ratio", f"{dev} compression {ratio:.2f}:1", round(ratio, 3)))
    if st.mem_limit:
        fraction = st.mem_used_total / st.mem_limit
        out.append(
            graded(
                "zram_limit",
                fraction,
                th.zram_limit_warn,
                th.zram_limit_fail,
                f"{dev} uses {_mib(st.mem_used_total)} of its {_mib(st.mem_limit)} memory "
                f"limit ({fraction:.0%}); at the limit, writes to it fail",
            )
        )
        out[-1].value = {"mem_used_total": st.mem_used_total, "mem_limit": st.mem_limit}
    return out


def check_fstab(
    t: Target, fstab_path: Path, named: list[fstab_mod.Named] | None = None
) -> list[Finding]:
    """A persisted area has its fstab line, and an unpersisted one has none. ``named`` is
    the fstab as resolved once for a round of checks (``fstab_lines``), which every backend's
    check of the round may share; without it, the round's cached reading is used."""
    b = t.backend
    try:
        lines_named = named if named is not None else fstab_lines(fstab_path)
    except (BackendError, OSError) as e:
        return [warn("fstab", f"cannot read {fstab_path}: {e}")]
    specs = _specs(t)
    # The area's own identities by stat alone: the row's tags are compared as written,
    # never probed for (a probe per tag per backend per round opened every device).
    ids = {i for i in (kernel.path_identity(p) for p in (t.swap_path, t.file_path) if p) if i}
    lines = [n.entry for n in lines_named if fstab_mod.names_one_of(n, specs, ids)]
    # The kind's own spelling may be shared with another area (a constant, a PARTLABEL
    # of several devices): a line found by it alone counts when it leads nowhere on this
    # host or to this very area, and never asks a repair that would remove it.
    own = _kind_spec(t)
    by_kind_alone = [
        n.entry
        for n in lines_named
        if own is not None
        and n.entry not in lines
        and fstab_mod.names_one_of(n, {own}, ())
        and (n.identity is None or n.identity in ids)
    ]
    value: dict[str, Any] = {
        "fstab": str(fstab_path),
        "persist": b.persist,
        "lines": [e.line_no for e in lines],
    }
    # What a persist job of this row would be refused by: none is asked then.
    cannot = backend_kind_refusal(b, actions.BY_NAME["persist"])
    refusal = cannot if b.persist and not lines else None
    if refusal is not None and b.kind not in registry():
        # Not that it cannot persist: this host cannot say, and writes no line for it.
        refusal = f"its kind ({b.kind}) is not installed on this host, which writes no line for it"
    if refusal is not None:
        # No repair asked: the control plane would refuse it (a row made before persist
        # was refused at create). The person must turn persist off.
        return [
            warn(
                "fstab",
                f"{b.name} is set to persist, but {refusal}: turn persist off (Edit settings, "
                "or the API's PATCH), which changes only its row",
                value,
            )
        ]
    if b.persist and not lines and by_kind_alone:
        lines = by_kind_alone
        value["lines"] = [e.line_no for e in lines]
    if not lines and t.path_error:
        # Its line may name the path that could not be named: "no line" would be a guess,
        # and its repair (a persist) a second one.
        return _cannot_tell(t, "fstab", "tell whether its fstab line is there")
    if not b.persist and not lines and by_kind_alone:
        return [
            warn(
                "fstab",
                f"{b.name} is not meant to persist, yet {fstab_path} has a line spelled as "
                f"its kind spells its areas ({own}, line {by_kind_alone[0].line_no}): if it is "
                "this area's, remove it or turn persist on",
                value,
            )
        ]
    if b.persist and not lines:
        value["repair"] = "persist"
        return [
            warn(
                "fstab",
                f"{b.name} should be in {fstab_path} but has no line there: it will not "
                "come back after a reboot",
                value,
            )
        ]
    if not b.persist and lines and cannot is not None:
        # The worker cannot spell such a line, so its persist job could not find it.
        return [
            warn(
                "fstab",
                f"{b.name} is not meant to persist, yet {fstab_path} has a line for it "
                f"(line {lines[0].line_no}), and {cannot}: remove the line by hand",
                value,
            )
        ]
    if not b.persist and lines:
        value["repair"] = "persist"
        return [
            warn(
                "fstab",
                f"{b.name} is not meant to persist, yet {fstab_path} has a line for it "
                f"(line {lines[0].line_no})",
                value,
            )
        ]
    if not b.persist:
        return []
    return [ok("fstab", f"{fstab_path} has its line (line {lines[0].line_no})", value)]


#: How long one resolution of the fstab serves: the checks of a host's backends come
#: together once a minute, so each round resolves the fstab's tags once.
FSTAB_ROUND_SECONDS = 20.0
_fstab_cache: dict[str, tuple[float, tuple[object, ...], list[fstab_mod.Named]]] = {}


def fstab_lines(fstab_path: Path) -> list[fstab_mod.Named]:
    """The fstab's swap lines and what each names, resolved once per round of checks. A
    reading is reused for ``FSTAB_ROUND_SECONDS`` while nothing it depends on changed: the
    file (inode, size, times), the block devices the host has, the active swap areas."""
    key = str(fstab_path)
    try:
        st = os.stat(fstab_path)
        file_sig: tuple[object, ...] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except FileNotFoundError:
        file_sig = ("absent",)
    try:
        devices = tuple(sorted(os.listdir("/sys/class/block")))
    except OSError:
        devices = ()
    sig = (file_sig, devices, tuple(sorted(a.path for a in kernel.swap_areas())))
    now = time.monotonic()
    hit = _fstab_cache.get(key)
    if hit is not None and hit[1] == sig and now - hit[0] < FSTAB_ROUND_SECONDS:
        return hit[2]
    named = fstab_mod.named_areas(fstab_path)
    _fstab_cache[key] = (now, sig, named)
    return named


def _specs(t: Target) -> set[str]:
    """The spellings an fstab line names the area by for certain: its paths and tags."""
    b = t.backend
    specs = {p for p in (t.swap_path, t.file_path) if p}
    if b.swap_uuid:
        specs.add(f"UUID={b.swap_uuid}")
    if b.label:
        specs.add(f"LABEL={b.label}")
    return specs


def _kind_spec(t: Target) -> str | None:
    """How the area's kind spells its fstab line (``SwapBackend.fstab_spec``), which a third
    party's kind may spell its own way; None when it has none or its hook fails (the persist
    job reports that, by name)."""
    if t.plugin is None:
        return None
    b = t.backend
    try:
        own = type(t.plugin).fstab_spec(t.plugin.params, str(b.swap_uuid or "") or None)
    except Exception:
        return None
    return own if isinstance(own, str) and own else None


# ---- kernel I/O errors ----


_IO_ERROR = re.compile(r"error", re.IGNORECASE)


def block_names(t: Target) -> tuple[set[str], set[str]]:
    """The kernel's names for the devices under this area (``loop3``, ``vda1`` and its disk
    ``vda``) and their ``major:minor``, as kernel log lines spell them."""
    names: set[str] = set()
    numbers: set[str] = set()
    paths = [p for p in (t.device, t.file_path) if p]
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        dev = st.st_rdev if stat.S_ISBLK(st.st_mode) else st.st_dev
        majmin = f"{os.major(dev)}:{os.minor(dev)}"
        sys_path = Path(f"/sys/dev/block/{majmin}")
        if not sys_path.exists():
            continue  # btrfs and tmpfs files sit on anonymous devices
        real = sys_path.resolve()
        names.add(real.name)
        numbers.add(majmin)
        if (real / "partition").exists():
            names.add(real.parent.name)
    return names, numbers


@dataclass(frozen=True)
class LogLine:
    usec: int  # microseconds since boot
    text: str


def read_kmsg() -> list[LogLine] | None:
    """Every record in the kernel ring buffer (/dev/kmsg, non-blocking), or ``dmesg``'s
    output; None when neither can be read (not root and kernel.dmesg_restrict=1)."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return _read_dmesg()
    lines: list[LogLine] = []
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:
                    continue  # overwritten while we read: the next read resumes
                break
            head, _, msg = rec.decode("utf-8", "replace").partition(";")
            parts = head.split(",")
            with contextlib.suppress(ValueError, IndexError):
                lines.append(LogLine(int(parts[2]), msg.split("\n", 1)[0]))
    finally:
        os.close(fd)
    return lines


def _read_dmesg() -> list[LogLine] | None:
    try:
        proc = subprocess.run(
            ["dmesg", "--kernel", "--notime", "--raw", "--time-format", "raw"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    out = []
    for line in proc.stdout.splitlines():
        m = re.match(r"(?:<\d+>)?\[\s*(\d+)\.(\d+)\]\s?(.*)", line)
        if m:
            out.append(
                LogLine(int(m.group(1)) * 1_000_000 + int(m.group(2)[:6].ljust(6, "0")), m.group(3))
            )
    return out


def boot_usec(when: datetime) -> int:
    """``when`` in the kernel log's clock (microseconds since boot)."""
    ago = (timezone.now() - when).total_seconds()
    return int((time.clock_gettime(time.CLOCK_MONOTONIC) - ago) * 1_000_000)


def device_pattern(names: set[str], numbers: set[str]) -> re.Pattern[str]:
    """How kernel messages name these devices: "dev loop3,", "(device vda1)", "XFS (loop0)",
    and mm/page_io.c's "Write-error on swap-device (7:3:1234)"."""
    alt = "|".join(map(re.escape, sorted(names)))
    pattern = rf"\b(?:dev|device)\s+\(?({alt})\b|\(({alt})\)"
    if numbers:
        pattern += r"|\((" + "|".join(map(re.escape, sorted(numbers))) + r"):"
    return re.compile(pattern)


def is_io_error(text: str, devices: re.Pattern[str]) -> bool:
    return bool(_IO_ERROR.search(text) and devices.search(text))


def check_io_errors(t: Target, th: Thresholds, log: list[LogLine] | None) -> list[Finding]:
    if log is None:
        return [
            ok(
                "io_errors",
                "the kernel log is not readable here (the worker is not root, or "
                "kernel.dmesg_restrict=1)",
            )
        ]
    names, numbers = block_names(t)
    if not names:
        return []
    since = max(t.backend.created_at, timezone.now() - timedelta(seconds=th.io_error_window))
    cutoff = boot_usec(since)
    pattern = device_pattern(names, numbers)
    hits = [ln.text for ln in log if ln.usec >= cutoff and is_io_error(ln.text, pattern)]
    devices = ", ".join(sorted(names))
    if hits:
        return [
            fail(
                "io_errors",
                f"{len(hits)} kernel I/O error(s) on {devices} in the last "
                f"{int(th.io_error_window // 60)} minutes; latest: {hits[-1]}",
                {"count": len(hits), "devices": sorted(names), "latest": hits[-5:]},
            )
        ]
    return [
        ok(
            "io_errors",
            f"no kernel I/O errors on {devices}",
            {"count": 0, "devices": sorted(names)},
        )
    ]


# ---- the host ----


def swapin_rate(host: Host, window: float = 0.5) -> float:
    """Pages swapped in per second: the sampler's rate when it is fresh, else measured now."""
    limit = 3 * max(settings.SWAPADMIN_SAMPLE_SECONDS, 1.0)
    rates = (host.observed or {}).get("rates") or {}
    rate = rates.get("pswpin", rates.get("pswpin_rate"))
    if (
        rate is not None
        and host.observed_at
        and (timezone.now() - host.observed_at).total_seconds() < limit
    ):
        return float(rate)
    start, t0 = kernel.vmstat().get("pswpin", 0), time.monotonic()
    time.sleep(window)
    return max(0, kernel.vmstat().get("pswpin", 0) - start) / (time.monotonic() - t0)


def check_pressure(host: Host, th: Thresholds) -> list[Finding]:
    """Thrashing: memory stalls (PSI) and how fast pages come back from swap."""
    out: list[Finding] = []
    rate = swapin_rate(host)
    psi = kernel.psi_memory()
    if rate >= th.swapin_warn:
        out.append(warn("swapin_rate", f"{rate:.0f} pages/s are being swapped in", round(rate, 1)))
    else:
        out.append(ok("swapin_rate", f"{rate:.0f} pages/s swapped in", round(rate, 1)))
    if psi is None:
        out.append(ok("psi", "this kernel does not report memory pressure (no PSI)"))
        return out
    value = {
        "some_avg10": psi.some_avg10,
        "full_avg10": psi.full_avg10,
        "some_avg60": psi.some_avg60,
    }
    if psi.full_avg10 >= th.psi_full_fail or (
        psi.full_avg10 >= th.psi_full_warn and rate >= th.swapin_warn
    ):
        out.append(
            fail(
                "psi",
                f"thrashing: every task stalled on memory {psi.full_avg10:.1f}% of the last "
                f"10 s while {rate:.0f} pages/s came back from swap",
                value,
            )
        )
    elif psi.full_avg10 >= th.psi_full_warn or psi.some_avg10 >= th.psi_some_warn:
        out.append(
            warn(
                "psi",
                f"memory pressure: some tasks stalled {psi.some_avg10:.1f}% and all tasks "
                f"{psi.full_avg10:.1f}% of the last 10 s",
                value,
            )
        )
    else:
        out.append(ok("psi", f"memory pressure {psi.some_avg10:.1f}% (some, 10 s)", value))
    return out


def check_host_swap(th: Thresholds) -> list[Finding]:
    mem = kernel.meminfo()
    if not mem.swap_total:
        return [ok("swap_used", "no swap is active on the host", 0.0)]
    used = mem.swap_total - mem.swap_free
    fraction = used / mem.swap_total
    f = graded(
        "swap_used",
        fraction,
        th.used_warn,
        th.used_fail,
        f"{_mib(used)} of {_mib(mem.swap_total)} swap in use on the host ({fraction:.0%})",
    )
    f.value = round(fraction, 4)
    return [f]
