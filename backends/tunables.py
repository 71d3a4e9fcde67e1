"""Host-wide swap tunables: vm.swappiness, vm.page-cluster and zswap's module parameters.

Changes are validated as a whole before the first write, so a batch with one bad value
changes nothing. zswap parameters are module parameters, not sysctls: sysctl.d cannot set
them. The persisted file keeps them on a ``# swapadmin-zswap:`` comment line that
systemd-sysctl ignores and ``read_persisted`` returns, so the worker re-applies them when it
starts; the file also spells out the kernel command line that would do it without us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from .errors import KernelError, UnsafeError, ValidationError
from .fstab import write_atomic

PROC_VM: Final = Path("/proc/sys/vm")
ZSWAP: Final = Path("/sys/module/zswap/parameters")
HEADER: Final = "# Written by swapadmin: host swap tunables. swapadmin replaces this file.\n"
ZSWAP_LINE: Final = "# swapadmin-zswap:"


@dataclass(frozen=True)
class Tunables:
    """The host's swap tunables; zswap fields are None when the kernel has no zswap."""

    swappiness: int
    page_cluster: int
    zswap_enabled: bool | None
    zswap_compressor: str | None
    zswap_max_pool_percent: int | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# Names accepted by apply_tunables besides the field names, as sysadmins write them.
ALIASES: Final = {
    "vm.swappiness": "swappiness",
    "vm.page-cluster": "page_cluster",
    "zswap.enabled": "zswap_enabled",
    "zswap.compressor": "zswap_compressor",
    "zswap.max_pool_percent": "zswap_max_pool_percent",
}
_FILES: Final = {
    "swappiness": PROC_VM / "swappiness",
    "page_cluster": PROC_VM / "page-cluster",
    "zswap_compressor": ZSWAP / "compressor",
    "zswap_max_pool_percent": ZSWAP / "max_pool_percent",
    "zswap_enabled": ZSWAP / "enabled",
}


# ---------------------------------------------------------------- reading


def read_tunables() -> Tunables:
    """The values in force now."""
    has_zswap = ZSWAP.is_dir()
    return Tunables(
        swappiness=int(_read("swappiness")),
        page_cluster=int(_read("page_cluster")),
        zswap_enabled=_read("zswap_enabled") in ("Y", "1") if has_zswap else None,
        zswap_compressor=_read("zswap_compressor") if has_zswap else None,
        zswap_max_pool_percent=int(_read("zswap_max_pool_percent")) if has_zswap else None,
    )


def _read(name: str) -> str:
    try:
        return _FILES[name].read_text().strip()
    except OSError as e:
        raise KernelError(f"cannot read {_FILES[name]}: {e.strerror}", errno=e.errno) from e


def compressors() -> list[str]:
    """Compression algorithms the kernel's crypto API offers now (/proc/crypto)."""
    found: list[str] = []
    for block in Path("/proc/crypto").read_text().split("\n\n"):
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in block.splitlines())
        )
        if fields.get("type") in ("compression", "scomp", "acomp") and "name" in fields:
            found.append(fields["name"])
    return sorted(set(found))


# ---------------------------------------------------------------- validating


def _whole(lo: int, hi: int, what: str) -> Callable[[str, object], object]:
    def clean(field: str, value: object) -> object:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValidationError(
                f"{what} must be a whole number from {lo} to {hi}, not {value!r}", field=field
            )
        return value

    return clean


def _boolean(field: str, value: object) -> object:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("y", "yes", "1", "true", "on"):
        return True
    if text in ("n", "no", "0", "false", "off"):
        return False
    raise ValidationError(f"zswap enabled must be true or false, not {value!r}", field=field)


def _compressor(field: str, value: object) -> object:
    offered = compressors()
    if not isinstance(value, str) or value not in offered:
        # With zswap off the kernel stores any name without checking it, and fails only
        # later at enable: so we check against what the crypto API offers.
        raise ValidationError(
            f"zswap compressor {value!r} is not offered by this kernel "
            f"(available: {', '.join(offered) or 'none'}; load its module first)",
            field=field,
        )
    return value


_CLEAN: Final[dict[str, Callable[[str, object], object]]] = {
    "swappiness": _whole(0, 200, "vm.swappiness"),
    "page_cluster": _whole(0, 10, "vm.page-cluster"),
    "zswap_compressor": _compressor,
    "zswap_max_pool_percent": _whole(1, 100, "zswap max_pool_percent"),
    "zswap_enabled": _boolean,
}


def clean_changes(changes: Mapping[str, object]) -> dict[str, object]:
    """The changes with canonical names and typed values, in the order they must be
    applied (compressor and pool size before enabling zswap); ValidationError otherwise."""
    named: dict[str, object] = {}
    for key, value in changes.items():
        name = ALIASES.get(key, key)
        if name not in _CLEAN:
            raise ValidationError(
                f"unknown tunable {key!r} (known: {', '.join(_CLEAN)})", field=key
            )
        named[name] = value
    if any(n.startswith("zswap_") for n in named) and not ZSWAP.is_dir():
        raise ValidationError("this kernel has no zswap (CONFIG_ZSWAP is off)", field="zswap")
    return {n: _CLEAN[n](n, named[n]) for n in _CLEAN if n in named}


# ---------------------------------------------------------------- applying


def apply_tunables(changes: Mapping[str, object]) -> Tunables:
    """Validate every change, then write them; if the kernel refuses one, the ones already
    written are put back before KernelError is raised. Returns the values now in force."""
    cleaned = clean_changes(changes)
    before = read_tunables().to_dict()
    done: list[str] = []
    try:
        for name, value in cleaned.items():
            _write(name, value)
            done.append(name)
    except KernelError:
        for name in reversed(done):
            _write(name, before[name])
        raise
    return read_tunables()


def _write(name: str, value: object) -> None:
    text = ("Y" if value else "N") if isinstance(value, bool) else str(value)
    try:
        _FILES[name].write_text(text)
    except OSError as e:
        raise KernelError(
            f"the kernel refused {text!r} for {_FILES[name]}: {e.strerror}", errno=e.errno
        ) from e


# ---------------------------------------------------------------- persisting


def render(t: Tunables) -> str:
    """The sysctl.d text for ``t``."""
    out = [HEADER, f"vm.swappiness = {t.swappiness}\n", f"vm.page-cluster = {t.page_cluster}\n"]
    if t.zswap_enabled is not None:
        enabled = "Y" if t.zswap_enabled else "N"
        out += [
            "# zswap takes module parameters, not sysctls: swapadmin's worker applies the line\n",
            "# below when it starts. Without swapadmin, put this on the kernel command line:\n",
            f"#   zswap.enabled={int(t.zswap_enabled)} zswap.compressor={t.zswap_compressor} "
            f"zswap.max_pool_percent={t.zswap_max_pool_percent}\n",
            f"{ZSWAP_LINE} enabled={enabled} compressor={t.zswap_compressor} "
            f"max_pool_percent={t.zswap_max_pool_percent}\n",
        ]
    return "".join(out)


def persist_tunables(path: Path, t: Tunables) -> None:
    """Write ``t`` to the sysctl.d file ``path`` atomically (mode 0644). Refuses
    (UnsafeError) to replace a file that swapadmin did not write."""
    clean_changes(t.to_dict() if t.zswap_enabled is not None else _sysctls(t))
    _check_ours(path)
    write_atomic(path, render(t).encode())


def read_persisted(path: Path) -> dict[str, object]:
    """The changes a persisted file holds, ready for apply_tunables; empty when absent."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    out: dict[str, object] = {}
    for line in text.splitlines():
        if line.startswith(ZSWAP_LINE):
            pairs = (p.partition("=") for p in line[len(ZSWAP_LINE) :].split())
            out.update({f"zswap.{k}": v for k, _, v in pairs})
        elif not line.startswith(("#", ";")) and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def remove_persisted(path: Path) -> bool:
    """Remove the file if swapadmin wrote it; False when there is none. A file that
    swapadmin did not write is refused (UnsafeError) and left alone."""
    if not path.exists():
        return False
    _check_ours(path)
    path.unlink()
    return True


def _sysctls(t: Tunables) -> dict[str, object]:
    return {"swappiness": t.swappiness, "page_cluster": t.page_cluster}


def _check_ours(path: Path) -> None:
    try:
        with open(path) as f:
            first = f.readline()
    except FileNotFoundError:
        return
    if first != HEADER:
        raise UnsafeError(
            f"{path} exists and was not written by swapadmin; move it aside or choose "
            "another path for swapadmin's sysctl file",
            field="path",
        )
