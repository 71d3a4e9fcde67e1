"""Keep a swap area's line in fstab, touching nothing else in the file.

fstab belongs to the sysadmin: every line that is not the area's own (comments, spacing,
order, other mounts, a missing final newline) is written back byte for byte. The new file
is written beside the old one, fsynced and renamed over it, so a crash leaves either the
old file or the new one, never half of each. Writers take an flock on the directory (the
file itself is replaced, so a lock on it would not exclude the next writer).

A ``label`` is kept as a ``# swapadmin: <label>`` comment on the line just above the
entry, so a sysadmin reading fstab knows which area swapadmin manages there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from . import presence, safepath, wipefs
from .errors import BackendError, KernelError, ValidationError
from .kernel import DISCARD_FLAGS, MAX_PRIORITY, path_identity
from .names import TAG_LINKS

MARKER: Final = "# swapadmin: "
#: The tags an fstab source may use: exactly those names.py resolves (libblkid's, spelled
#: as libblkid spells them: ``uuid=`` or ``ID=`` name nothing to findfs or swapon).
_TAGS: Final = {tag: link + "/" for tag, link in TAG_LINKS.items()}
#: The options ``ensure_entry(as_written=...)`` may be asked to change on a line kept as
#: the sysadmin wrote it.
CHANGEABLE: Final = ("priority", "discard")
# Options that say how swap is used; ensure_entry owns them, every other option is kept.
_OWNED: Final = re.compile(r"^(sw|defaults|noauto|pri=.*|discard(=.*)?)$")


@dataclass(frozen=True)
class FstabEntry:
    """One swap line of fstab, with its escapes (``\\040``) undone."""

    spec: str
    file: str
    vfstype: str
    options: tuple[str, ...]
    freq: int
    passno: int
    #: 1-based line number in the file as read.
    line_no: int

    @property
    def priority(self) -> int | None:
        for opt in self.options:
            if opt.startswith("pri="):
                with contextlib.suppress(ValueError):
                    return int(opt[4:])
        return None

    @property
    def discard(self) -> str | None:
        """None, or the discard policy as swapon takes it: both, once or pages."""
        for opt in self.options:
            if opt == "discard":
                return "both"
            if opt.startswith("discard="):
                return opt[len("discard=") :]
        return None


# ---------------------------------------------------------------- reading


def entries(fstab: Path) -> list[FstabEntry]:
    """The swap entries of ``fstab``, in file order; none when the file does not exist."""
    lines, _ = _read_lines(fstab)
    found = (_parse(line, i + 1) for i, line in enumerate(lines))
    return [e for e in found if e is not None and e.vfstype == "swap"]


def mount_points(fstab: Path) -> dict[str, str]:
    """Where ``fstab`` mounts a filesystem (lines whose mount point is a path other than
    ``/``, not swap), each with what it mounts there; none when the file does not exist;
    KernelError when it cannot be read: a line not read may be the very mount a walk must
    find (``safepath.open_parent``)."""
    lines, _ = _read_lines(fstab)
    found = (_parse(line, i + 1) for i, line in enumerate(lines))
    points = {}
    for e in found:
        if e is None or e.vfstype == "swap" or not e.file.startswith("/"):
            continue
        # normpath keeps a leading "//" (POSIX leaves its meaning open); the walk's
        # names never have one (review 178/7).
        point = os.path.normpath("/" + e.file.lstrip("/"))
        if point != "/":
            points[point] = e.spec
    return points


def mounts(fstab: Path) -> safepath.Mounts:
    """``mount_points`` as a walk takes them (``safepath.open_parent``)."""
    return safepath.Mounts(str(fstab), mount_points(fstab))


def hidden_by_a_mount(path: str, fstab: Path) -> BackendError | None:
    """Why finding nothing at ``path`` by name says nothing (``safepath.unmounted_on_the_way``,
    or this table cannot be read), or None: then nothing there means nothing there."""
    try:
        return safepath.unmounted_on_the_way(path, mounts(fstab))
    except KernelError as e:
        return e


def find_entry(fstab: Path, spec: str) -> FstabEntry | None:
    """The first swap entry naming the same area as ``spec``, however it is spelled."""
    _check_spec(spec)
    return next((e for e in entries(fstab) if same_area(e.spec, spec)), None)


def _parse(line: str, line_no: int) -> FstabEntry | None:
    body = line.strip(" \t")
    if not body or body.startswith("#"):
        return None
    fields = re.split(r"[ \t]+", body)
    if len(fields) < 3:
        return None
    opts = fields[3] if len(fields) > 3 else "defaults"
    return FstabEntry(
        spec=_name(fields[0]),
        file=_name(fields[1]),
        vfstype=_name(fields[2]),
        options=tuple(o for o in opts.split(",") if o),
        freq=_int_or_zero(fields, 4),
        passno=_int_or_zero(fields, 5),
        line_no=line_no,
    )


#: An escape as fstab(5) writes one: a backslash and three octal digits.
_OCTAL: Final = re.compile(rb"\\([0-7]{3})")


def _name(field: str) -> str:
    """A field as mount(8) and swapon(8), in C, read it: each escape undone into the byte
    it names (``\\303\\251`` is the two bytes of "é"; ``\\400`` the byte 0, as a C char
    holds it), and the name ended at a NUL, as a C string is (review 179/2). A character
    per escape read "é" as "Ã©", so a line written so was never found again; and a NUL
    kept failed every later look at the name (``os.path.realpath`` raises ValueError):
    discover, the health check, persist (review 177/3)."""
    raw = field.encode("utf-8", "surrogateescape")
    raw = _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)
    return raw.partition(b"\0")[0].decode("utf-8", "surrogateescape")


def _int_or_zero(fields: list[str], i: int) -> int:
    try:
        return int(fields[i])
    except (IndexError, ValueError):
        return 0


def _escape(field: str) -> str:
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in field)


def same_area(a: str, b: str) -> bool:
    """True when two fstab specs name the same area: the same text once normalised, or
    the same block device or file once tags (UUID=, LABEL=...) are resolved on this host."""
    if _normal(a) == _normal(b):
        return True
    ida, idb = path_identity(_resolve(a)), path_identity(_resolve(b))
    return ida is not None and ida == idb


def _normal(spec: str) -> str:
    tag, sep, value = spec.partition("=")
    if sep and tag in _TAGS:
        value = value.strip(chr(34) + chr(39))
        # libblkid's UUID match ignores case (udev links it lower-cased); a label's does not.
        return f"{tag}={value.lower() if tag == 'UUID' else value}"
    return os.path.normpath(spec)


def _resolve(spec: str) -> str:
    """The path ``spec`` leads to, by libblkid's rules (``names.resolve``); the udev link
    it would be when nothing on the host answers to it (then it matches nothing)."""
    from . import names

    try:
        return names.resolve(spec).path
    except (names.Unresolved, BackendError):
        tag, sep, value = spec.partition("=")
        if sep and tag in _TAGS:
            return _TAGS[tag] + value.strip("\"'")
        return spec


@dataclass(frozen=True)
class Named:
    """A swap line and the identity (``kernel.path_identity``) of what its source leads to
    on this host; None when it leads nowhere now."""

    entry: FstabEntry
    identity: tuple[str, int, int] | None


def named_areas(fstab: Path) -> list[Named]:
    """Each swap line of ``fstab`` with what it names, each distinct source resolved once:
    udev's ``/dev/disk/by-*`` link when there is one, a blkid probe only for a tag udev
    links nowhere. For looks made often (the health checks): matching a backend against
    these is a comparison, where ``same_area`` per line and per name probed every device
    for each tag, each time."""
    from . import names

    seen: dict[str, tuple[str, int, int] | None] = {}
    out = []
    for e in entries(fstab):
        if e.spec not in seen:
            try:
                seen[e.spec] = path_identity(names.resolve(e.spec, every=False).path)
            except (names.Unresolved, BackendError):
                seen[e.spec] = None
        out.append(Named(e, seen[e.spec]))
    return out


def names_one_of(named: Named, specs: Collection[str], identities: Collection[object]) -> bool:
    """True when the line names one of ``specs`` as written (tags compared as findfs would
    take them) or leads to one of ``identities`` on this host. Nothing is resolved here."""
    normal = {_normal(s) for s in specs}
    if _normal(named.entry.spec) in normal:
        return True
    return named.identity is not None and named.identity in identities


def resolve_entries(fstab: Path) -> list[tuple[FstabEntry, str | None, str]]:
    """Each swap entry of ``fstab`` with the real path its source names on this host (tags
    resolved as findfs does, symlinks followed), or None and the reason it names nothing
    swapadmin may take: nothing at all, several areas at once, a probe that did not answer
    (that line alone is skipped), or something that is not swap (a ``UUID=`` copied from
    a filesystem's line names that filesystem: swapon would refuse it at boot, and
    adopting it would make a filesystem's device a swap backend)."""
    from . import kernel, names

    out: list[tuple[FstabEntry, str | None, str]] = []
    active = {a.path for a in kernel.swap_areas()}
    for e in entries(fstab):
        try:
            found = names.resolve(e.spec)
        except names.Unresolved as u:
            out.append((e, None, u.reason))
            continue
        except BackendError as err:
            out.append((e, None, f"could not be resolved: {err.message}"))
            continue
        # A device (or a FIFO...) is judged here; a regular file by discover, which knows
        # whether it lies inside the swap roots.
        judged_here = found.path not in active and not _regular(found.path)
        if judged_here and not names.is_swap_area(found.path):
            out.append((e, None, f"{found.path} ({found.how}) {_not_swap(found.path)}"))
            continue
        out.append((e, found.path, found.how))
    return out


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _not_swap(path: str) -> str:
    """Why ``path`` is not taken as swap, naming what wipefs finds on a block device."""
    held = ""
    with contextlib.suppress(BackendError, OSError, ValueError):
        if stat.S_ISBLK(os.lstat(path).st_mode):
            held = ", ".join(sorted({s.type for s in wipefs.signatures(path) if s.type}))
    what = f"it holds {held}" if held else "no swap header"
    return f"is not a swap area (not active in /proc/swaps, {what}): only swap is adopted"


# ---------------------------------------------------------------- writing


def ensure_entry(
    fstab: Path,
    spec: str,
    *,
    priority: int | None,
    discard: str | None,
    label: str | None = None,
    as_written: Collection[str] | None = None,
) -> bool:
    """Make ``fstab`` hold exactly one swap line for ``spec``'s area, with these options
    (``sw``, ``pri=N``, ``discard``/``discard=once|pages``; other options such as
    ``nofail`` on an existing line are kept, ``noauto`` is dropped). Lines for the same
    area under other spellings are merged into the first. Returns True if the file changed;
    an entry that already says this is left byte for byte.

    With ``as_written`` (an adopted area's line, which is the sysadmin's), an existing line
    is kept as they wrote it: its spelling, ``noauto``, every option and the spacing stay,
    no comment is added, no other line is merged; only the options named in
    ``as_written`` (of ``CHANGEABLE``) are set to ``priority``/``discard``, the change the
    user asked for. Without a line, one is written as usual."""
    _check_spec(spec)
    _check_options(priority, discard, label)
    if as_written is not None and not set(as_written) <= set(CHANGEABLE):
        raise ValidationError(
            f"only {', '.join(CHANGEABLE)} can be changed on a line kept as written, "
            f"not {', '.join(sorted(set(as_written) - set(CHANGEABLE)))}",
            field="as_written",
        )
    with _locked(fstab) as real:
        lines, trailing = _read_lines(real)
        hits = _matches(lines, spec)
        if as_written is not None and hits:
            change = {"priority": priority, "discard": discard}
            new = _as_written(lines, hits[0], {k: change[k] for k in as_written})
        else:
            new = _with_entry(lines, spec, priority, discard, label)
        return _save(real, lines, trailing, new)


def _as_written(lines: list[str], at: int, change: dict[str, int | str | None]) -> list[str]:
    """``lines`` with only the options in ``change`` set on line ``at``, in place: every
    other byte of the line (spacing, the other options, their order) as it was."""
    entry = _parse(lines[at], at + 1)
    assert entry is not None  # _matches only returns parsed swap lines
    opts = list(entry.options)
    if "priority" in change and change["priority"] != entry.priority:
        at_pri = [i for i, o in enumerate(opts) if o.startswith("pri=")]
        new_pri = [] if change["priority"] is None else [f"pri={change['priority']}"]
        opts = _replace(opts, at_pri, new_pri)
    if "discard" in change and change["discard"] != entry.discard:
        at_discard = [i for i, o in enumerate(opts) if o == "discard" or o.startswith("discard=")]
        d = change["discard"]
        new_discard = [] if d is None else ["discard" if d == "both" else f"discard={d}"]
        opts = _replace(opts, at_discard, new_discard)
    if opts == list(entry.options):
        return lines
    # Split keeping the separators, so only the options field is rewritten.
    lead = lines[at][: len(lines[at]) - len(lines[at].lstrip(" \t"))]
    parts = re.split(r"([ \t]+)", lines[at][len(lead) :])
    text = ",".join(opts) or "defaults"
    if len(parts) > 6:  # spec, sep, file, sep, type, sep, options...
        parts[6] = text
    else:
        parts[len(parts) :] = ["\t", text]
    out = list(lines)
    out[at] = lead + "".join(parts)
    return out


def _replace(opts: list[str], where: list[int], new: list[str]) -> list[str]:
    """``opts`` with the options at ``where`` replaced by ``new``, put where the first of
    them was (or appended)."""
    if not where:
        return [*opts, *new]
    kept = [o for i, o in enumerate(opts) if i not in where[1:]]
    first = where[0]
    return kept[:first] + new + kept[first + 1 :]


def remove_entry(fstab: Path, spec: str) -> bool:
    """Remove every swap line for ``spec``'s area (and swapadmin's label comment above it).
    Returns True if the file changed; a missing file or entry is not an error, a file that
    cannot be read is (KernelError): ``exists()`` said False for it, and a line was
    reported gone that was still there."""
    _check_spec(spec)
    with _locked(fstab) as real:
        lines, trailing = _read_lines(real)
        kept = _without(lines, _matches(lines, spec))
        return _save(real, lines, trailing, kept)


def _with_entry(
    lines: list[str], spec: str, priority: int | None, discard: str | None, label: str | None
) -> list[str]:
    hits = _matches(lines, spec)
    if not hits:
        marker = [MARKER + label] if label else []
        return [*lines, *marker, _render(spec, "none", ["sw"], priority, discard)]
    first = hits[0]
    entry = _parse(lines[first], first + 1)
    assert entry is not None  # _matches only returns parsed swap lines
    out = list(lines)
    if (entry.spec, entry.priority, entry.discard) != (spec, priority, discard) or (
        "noauto" in entry.options
    ):
        kept = [o for o in entry.options if not _OWNED.match(o)]
        out[first] = _render(spec, entry.file, ["sw", *kept], priority, discard)
    out = _set_marker(out, first, label)
    # The marker edit may shift lines by one: find the other spellings again.
    rest = _matches(out, spec)[1:]
    return _without(out, rest)


def _set_marker(lines: list[str], at: int, label: str | None) -> list[str]:
    has = at > 0 and lines[at - 1].startswith(MARKER)
    if label is None:
        return lines[: at - 1] + lines[at:] if has else lines
    line = MARKER + label
    if has:
        return lines[: at - 1] + [line] + lines[at:]
    return lines[:at] + [line] + lines[at:]


def _matches(lines: list[str], spec: str) -> list[int]:
    out = []
    for i, line in enumerate(lines):
        e = _parse(line, i + 1)
        if e is not None and e.vfstype == "swap" and same_area(e.spec, spec):
            out.append(i)
    return out


def _without(lines: list[str], drop: list[int]) -> list[str]:
    gone = set(drop)
    # swapadmin's own label comment goes with the line it labels.
    gone |= {i - 1 for i in drop if i > 0 and lines[i - 1].startswith(MARKER)}
    return [line for i, line in enumerate(lines) if i not in gone]


def _render(spec: str, file: str, opts: list[str], priority: int | None, d: str | None) -> str:
    opts = list(opts)
    if priority is not None:
        opts.append(f"pri={priority}")
    if d is not None:
        opts.append("discard" if d == "both" else f"discard={d}")
    return f"{_escape(spec)}\t{_escape(file)}\tswap\t{','.join(opts)}\t0\t0"


# ---------------------------------------------------------------- validation


def _check_spec(spec: str) -> None:
    if not isinstance(spec, str) or not spec:
        raise ValidationError("an fstab source (a path or UUID=...) is required", field="spec")
    if "\x00" in spec or "\n" in spec:
        raise ValidationError("an fstab source must not hold a NUL or newline", field="spec")
    tag, sep, value = spec.partition("=")
    if sep and tag in _TAGS:
        if not value.strip("\"'"):
            raise ValidationError(f"{tag}= needs a value", field="spec")
        return
    if sep and tag.upper() in _TAGS:
        raise ValidationError(
            f"{tag}= is not a tag to findfs or swapon, which know only {tag.upper()}= (tag "
            "names are case-sensitive): such a line would name nothing at boot",
            field="spec",
        )
    if not spec.startswith("/"):
        raise ValidationError(
            f"{spec!r} is neither an absolute path nor one of {', '.join(t + '=' for t in _TAGS)}",
            field="spec",
        )


def _check_options(priority: int | None, discard: str | None, label: str | None) -> None:
    if priority is not None and (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not 0 <= priority <= MAX_PRIORITY
    ):
        raise ValidationError(
            f"swap priority must be a whole number from 0 to {MAX_PRIORITY}, not {priority!r}",
            field="priority",
        )
    if discard is not None and discard not in DISCARD_FLAGS:
        raise ValidationError(
            f"discard must be one of {', '.join(DISCARD_FLAGS)} (or empty), not {discard!r}",
            field="discard",
        )
    if label is not None and (
        not label or len(label) > 64 or not label.isprintable() or label != label.strip()
    ):
        raise ValidationError(
            "an fstab label comment must be 1 to 64 printable characters, without "
            "leading or trailing spaces",
            field="label",
        )


# ---------------------------------------------------------------- the file


def _read_lines(path: Path) -> tuple[list[str], bool]:
    """The file's lines without their newlines, and whether the last one had one. Bytes
    that are not UTF-8 survive the round trip (surrogateescape)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        # Only "no such file" is an empty fstab: one that cannot be read (EIO, a link
        # loop) may hold the very line a removal was asked to take out.
        if presence.says_absent(e.errno):
            return [], True
        raise KernelError(f"cannot read {path}: {e.strerror}", errno=e.errno) from e
    # Split on "\n" only: mount(8) does, and other line breaks may sit inside a field.
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    return lines, trailing


@contextlib.contextmanager
def _locked(fstab: Path) -> Iterator[Path]:
    """Hold the directory's flock; yields the real path (fstab may be a symlink, and the
    link must stay a link: the file it points to is the one replaced)."""
    real = Path(os.path.realpath(fstab))
    try:
        fd = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(f"cannot open {real.parent}: {e.strerror}", errno=e.errno) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield real
    finally:
        os.close(fd)


def _save(path: Path, old: list[str], old_trailing: bool, new: list[str]) -> bool:
    if new == old:
        return False
    # A file that lacked its final newline keeps lacking it while its last line is the same;
    # a line we wrote or moved to the end gets one.
    trailing = old_trailing or not old or not new or new[-1] != old[-1]
    end = "\n" if trailing and new else ""
    data = "\n".join(new).encode("utf-8", "surrogateescape") + end.encode()
    write_atomic(path, data)
    return True


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: same mode and owner, fsynced, renamed, dir fsynced."""
    try:
        like: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        like = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".swapadmin")
    except OSError as e:
        raise KernelError(f"cannot write beside {path}: {e.strerror}", errno=e.errno) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), stat.S_IMODE(like.st_mode) if like else 0o644)
            if like is not None:
                os.fchown(f.fileno(), like.st_uid, like.st_gid)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise KernelError(f"cannot write {path}: {e.strerror}", errno=e.errno) from e
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:  # some filesystems cannot fsync a directory
            raise
    finally:
        os.close(fd)
