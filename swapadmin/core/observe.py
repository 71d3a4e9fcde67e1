"""One backend, thoroughly: what the kernel and the plugin say of it, written to its row.

Run after every job (runner), when settling a dead worker's job (orphans) and at a worker's
start. It asks the plugin (is the store there, is it still ours, does it hold a swap header)
instead of only /proc/swaps, as the sampler's cheap turn does.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from django.db.models import Case, F, Value, When
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend, header, kernel, presence
from backends.errors import NoDeviceError, NotMountedError, NotOursError, printable

from .models import Backend
from .plugins import build_plugin


def observe_backend(backend: Backend, plugin: SwapBackend | None = None) -> str:
    """Refresh ``backend``'s observed state from the kernel and the plugin; returns it."""
    return write_observation(backend, read_observation(backend, plugin))


# The state written when a plugin cannot be built: an expression, so that the UPDATE reads
# the row's state as it is when written.
# A FOREIGN verdict stays too: as ERROR, the next sample would take someone else's area at
# the path for this backend's (it skips only these two), and hide it from adoption (review
# 164/4).
_UNTOLD_STAYS_ELSE_ERROR = Case(
    When(
        observed_state__in=(Backend.Observed.INDETERMINATE, Backend.Observed.FOREIGN),
        then=F("observed_state"),
    ),
    default=Value(Backend.Observed.ERROR),
)


def read_observation(backend: Backend, plugin: SwapBackend | None = None) -> dict[str, Any]:
    """What the kernel and the plugin say of ``backend`` now, as the row's fields. Reads the
    store (its proof, the header, extents): may be slow on a failing disk, so it is never
    called inside a transaction, where it would hold every other writer (SQLite has one
    write lock for the whole database). Closes ``plugin``, a caller's too, once read: its
    store is opened again on its next use (``runner._refresh``, the one caller that passes
    one, is done with it)."""
    fields: dict[str, Any] = {"observed_at": timezone.now(), "observed_error": ""}
    if plugin is None:
        try:
            plugin = build_plugin(backend, Policy.from_env())
        except BackendError as e:
            # A plugin that cannot be built tells nothing of whether the area is active: a
            # row that could not tell keeps saying so (ERROR would let a sample guess).
            # Judged by the row as written, not the caller's copy, which may be older than
            # a look that found it untold meanwhile (review 161/9).
            fields.update(
                observed_state=_UNTOLD_STAYS_ELSE_ERROR, observed_error=said(e, WHOLE_LIMIT)
            )
            return fields
    try:
        return _observe(backend, plugin, fields)
    finally:
        # On every path: a descriptor of the store left open (an active area's header was
        # read) would keep a zram device from being reset until the collector ran.
        plugin.close()


#: The most a kind's description may hold, as JSON: every page and sample reads it with the
#: row. And the most of an exception's words a row keeps.
DESCRIPTION_LIMIT = 64 * 1024
SAID_LIMIT = 500
#: The most of a refusal's words a row keeps where the end says what to do ("Fix with:
#: chmod go-w …", "mount …"), naming long paths twice (review 179/4).
WHOLE_LIMIT = 4000
#: A NUL as JSON writes it (``\u0000``), not a backslash the text held before "u0000": the
#: escape's backslash is preceded by an even number of backslashes.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def full_stop(words: str) -> str:
    """``words`` as a sentence that ends: a full stop added unless one (or ! or ?) ends it."""
    words = words.rstrip()
    return words if words.endswith((".", "!", "?")) else f"{words}."


def said(e: Exception, limit: int | None = SAID_LIMIT) -> str:
    """What ``e`` says, as a row, a page and a log can hold it, whatever a third party's
    exception does: words that raise, or are not text, or are endless (review 173/2), cut
    at ``limit`` characters (None: a job's own refusal, said whole). A BaseException that
    is not an Exception (an interrupt, a worker's exit) is never asked: it ends the look,
    as it must."""
    try:
        text = e.message if isinstance(e, BackendError) else str(e)
        if not isinstance(text, str):
            text = ""
    except Exception:
        text = ""
    if not isinstance(e, (BackendError, OSError)):
        text = f"{type(e).__name__}: {text}" if text else type(e).__name__
    text = printable(text or type(e).__name__)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def said_typed(e: Exception) -> str:
    """``e`` in words as a job's error says it: a BackendError whole (its words are written
    for the reader), anything else cut short, an OSError with its type named (its words
    alone rarely say what failed)."""
    if isinstance(e, BackendError):
        return said(e, None)
    words = said(e)
    named = isinstance(e, OSError) and words != type(e).__name__
    return f"{type(e).__name__}: {words}" if named else words


def describe(plugin: SwapBackend) -> tuple[dict[str, Any] | None, str | None]:
    """The plugin's description, or why there is none: whatever a third party's
    ``describe`` raises, a result that is no dict or has an ``error`` key (which says a
    description failed), or one no row can hold (a value JSON cannot say, NaN, text that
    is not UTF-8 or holds a NUL, which PostgreSQL refuses, or too much of it): the write of
    the row would fail after the job's kernel work (reviews 172/1, 172/5, 173/1)."""
    try:
        described = plugin.describe()
    except Exception as e:
        return None, said(e)
    if not isinstance(described, dict):
        return None, f"the kind described its store as a {type(described).__name__}, not a dict"
    if "error" in described:
        # Every reader takes a row's ``error`` for a description that could not be read,
        # its facts the last one's (the page, the sampler): a kind's own would read as
        # that (review 174/9).
        return None, (
            'the kind\'s description has a key "error", which swapadmin keeps for saying '
            "that a description could not be read"
        )
    try:
        text = json.dumps(described, allow_nan=False, ensure_ascii=False)
        size = len(text.encode("utf-8"))
    except Exception as e:  # TypeError, ValueError, UnicodeEncodeError, RecursionError
        return None, f"the kind's description cannot be kept as JSON: {said(e)}"
    if _JSON_NUL.search(text):
        return None, "the kind's description holds a NUL, which the database cannot keep"
    if size > DESCRIPTION_LIMIT:
        return None, (
            f"the kind's description is {size} bytes of JSON, more than the "
            f"{DESCRIPTION_LIMIT} a row keeps"
        )
    return described, None


def no_path(path: object) -> str | None:
    """Why ``path``, as a kind named its store's path, is none (None if it is one: a
    non-empty string without a NUL, or None for no device now). An empty string would let
    the row fall back to its params' guess (review 172/7), anything else fail its match."""
    # Not UTF-8 (a lone surrogate, as the os module decodes a name's byte) or a NUL: text
    # PostgreSQL cannot keep, so the row's write would fail (review 174/5).
    if path is None or (isinstance(path, str) and path and printable(path) == path):
        return None
    try:
        shown = printable(repr(path))[:80]
    except Exception:
        shown = f"a {type(path).__name__}"
    return f"the kind named {shown} as its path, which is no path"


def named_path(plugin: SwapBackend) -> tuple[str | None, str | None]:
    """The area's path (None: no device now, so nothing of it can be active), or why it
    cannot be named: whatever a third party's kind raises, or names that is no path
    (reviews 172/2, 172/7)."""
    try:
        path = plugin.swap_path_if_any()
    except Exception as e:
        return None, said(e)
    unnamed = no_path(path)
    return (None, unnamed) if unnamed is not None else (path, None)


def failed_description(last: Any, error: str, path: str | None) -> dict[str, Any]:
    """What a failed description leaves on the row: the last one, its facts still shown
    (the page says they are the last one's: review 170/9), with the error and the path
    named now over it."""
    out = dict(last) if isinstance(last, dict) else {}
    out.pop("swap_path_error", None)
    # Not a size read before (a resize's): the metrics and the used fraction take it
    # before the row's column, which says the size now (review 174/4).
    out.pop("size_bytes", None)
    out.update(error=error, swap_path=path)
    return out


def _info_as_written(backend: Backend) -> Any:
    """The row's description as written now, not the caller's copy, loaded before a look
    that may have been slow: another job's newer one is not overlaid with older facts
    (review 173/7)."""
    written = Backend.objects.filter(pk=backend.pk).values_list("info", flat=True).first()
    return backend.info if written is None else written


def took_a_look(fields: dict[str, Any]) -> bool:
    """Whether ``read_observation`` read the kernel and the store: not when the plugin could
    not be built, and then a reason to read them again is not settled (review 167/7)."""
    return fields.get("observed_state") is not _UNTOLD_STAYS_ELSE_ERROR


def _observe(backend: Backend, plugin: SwapBackend, fields: dict[str, Any]) -> dict[str, Any]:
    foreign, proven = _proof(backend, plugin)
    if foreign is not None:
        # Whatever is at the path now is not ours: none of its state is this backend's.
        fields.update(
            observed_state=Backend.Observed.FOREIGN,
            observed_error=foreign,
            used_bytes=0,
            active_priority=None,
        )
        return fields
    described, failed = describe(plugin)
    # A description that could not name the path is not kept: the row's last one names
    # the path the sampler matches the area by.
    if described is not None and not described.get("swap_path_error"):
        fields["info"] = described
    # None: a loop or zram device not attached, so the area cannot be active.
    path, unnamed = named_path(plugin)
    if unnamed is not None:
        # Whether the area is active is unknown: "inactive" would offer an activate of an
        # area that may be on, and hide its use. Used bytes and priority are left as last
        # seen.
        fields.update(observed_state=Backend.Observed.INDETERMINATE, observed_error=unnamed)
        # Nor is the description kept: it was read without a path (describe takes any error
        # for none), and the row's last one names the path the area was last seen at.
        fields.pop("info", None)
        return fields
    if failed is not None:
        # Said, with the path just named, as ``handlers._info`` says it: a row left with an
        # error and no path (as jobs wrote it before) is sampled again (review 170/7); over
        # the last description, whose facts a page still shows (review 172/4).
        fields["info"] = failed_description(_info_as_written(backend), failed, path)
    area = kernel.find_area(path) if path else None
    if area is not None:
        fields.update(
            observed_state=Backend.Observed.ACTIVE,
            used_bytes=area.used_bytes,
            active_priority=area.priority,
        )
        with contextlib.suppress(BackendError, OSError):
            fields["header"] = header.read_header(plugin).to_dict()
    else:
        fields.update(used_bytes=0, active_priority=None)
        fields["observed_state"] = _inactive_state(plugin, path, fields, backend.adopted)
    if _own_header(plugin, fields.get("header"), proven):
        # The header holds the label: an edit whose worker died between writing it and
        # saving the row must not leave the row's old label, which a later mkswap (resize)
        # would write back. Only from a store proven this backend's own just now: the row's
        # label is signed and written by mkswap, and a header on a store that is not
        # proven (never provisioned, or a proof that could not finish) may be anyone's
        # (review 167/2).
        fields["label"] = fields["header"]["label"]
    return fields


def _own_header(plugin: SwapBackend, found: Any, proven: bool) -> bool:
    """Whether ``found``, the header just read, is this backend's own: its store proven
    just now, and the header the UUID the proof checked (the record's, which a zram area
    found again after a reboot updates before the row's column: review 170/1): the proof
    and the header read open the store apart, and another area swapped in between keeps
    the mark but not the UUID (review 169/7)."""
    want = plugin.record.get("uuid")
    return (
        proven
        and isinstance(found, dict)
        and "label" in found
        and isinstance(want, str)
        and found.get("uuid") == want
    )


def write_observation(backend: Backend, fields: dict[str, Any]) -> str:
    """Write what ``read_observation`` found to the row and to ``backend``; returns the
    observed state."""
    Backend.objects.filter(pk=backend.pk).update(**fields)
    told = {k: v for k, v in fields.items() if not hasattr(v, "resolve_expression")}
    for k, v in told.items():
        setattr(backend, k, v)
    if len(told) < len(fields):  # an expression's value is the row's, as the UPDATE wrote it
        backend.refresh_from_db(fields=[k for k in fields if k not in told])
    return str(backend.observed_state)


def _proof(backend: Backend, plugin: SwapBackend) -> tuple[str | None, bool]:
    """Why the store at a provisioned backend's path is not its own (another device after a
    reboot, a file replaced, a loop device re-pointed), or None; and whether it was proven
    its own just now. Neither when there is no store there to judge, the row was never
    provisioned, or the proof could not finish."""
    if backend.provisioned_at is None:
        return None, False
    try:
        plugin.verify()
    except NotOursError as e:
        # said(): a third party's class may set ``message`` as its own attribute, which the
        # property's printing never sees (review 182/5).
        return said(e, limit=WHOLE_LIMIT), False
    except (BackendError, OSError):
        return None, False
    return None, True


def _says_gone(e: BaseException, path: str | None) -> bool:
    """Whether ``e``, from sizing the store, says it is not there: its errno says so, or,
    with none (a kind's own "does not exist", a third party's ValidationError), nothing is
    at the path now (review 167/4). A kind with no device now names no path to look at:
    then only its own "no device" says so, not any error in words (review 169/6)."""
    if path is None and presence.errno_in_chain(e) is None:
        return isinstance(e, NoDeviceError)
    return presence.gone(e, path)


def _cannot_read(e: BackendError | OSError) -> str:
    """Why the store could not be read, as the row keeps it: one that may be hidden beneath
    a filesystem not mounted says so in words the sampler and the dynamic policy know
    (``Backend.HIDDEN_SAID``)."""
    why = Backend.HIDDEN_SAID if isinstance(e, NotMountedError) else "cannot read the store: "
    return why + said(e, limit=WHOLE_LIMIT)


def _inactive_state(
    plugin: SwapBackend, path: str | None, fields: dict[str, Any], adopted: bool
) -> str:
    try:
        plugin.capacity_bytes()
    except (BackendError, OSError) as e:
        if not presence.could_not_look(e) and _says_gone(e, path):
            return Backend.Observed.ABSENT
        # Denied (a devices cgroup, EACCES), EIO, a hung mount, a refusal of what is at
        # the path: the store may well be there. "Absent" would call it gone and offer a
        # provision of it.
        fields["observed_error"] = _cannot_read(e)
        return Backend.Observed.ERROR
    if path is None:
        # The store is there but not attached (a loop file after a reboot): activating
        # attaches it again.
        return Backend.Observed.READY
    try:
        fields["header"] = header.read_header(plugin).to_dict()
    except (BackendError, OSError) as e:
        if presence.could_not_look(e):
            # A failed read (EIO) or a refusal (a swap root others may write) says nothing
            # of the header: "provision it again" would be the wrong advice, and a harm.
            fields["observed_error"] = _cannot_read(e)
            return Backend.Observed.ERROR
        if presence.gone(e, path):
            # Gone since capacity_bytes found it (ENXIO; a file removed): "no usable header,
            # provision it again" would call a store that is not there damaged (168/4).
            return Backend.Observed.ABSENT
        # The library's advice, which knows that an adopted area is never provisioned (its
        # header is the sysadmin's), told by the row that it was adopted: a row adopted
        # before adoption recorded the store (never proven: how this look is reached) has
        # no record that says so.
        why = "swapadmin writes no header on an area it adopted: " if adopted else ""
        try:
            way_out = printable(plugin.way_out(headerless=True, adopted=adopted))
        except Exception as way:  # a third party's kind: its advice is not the verdict
            way_out = f"(its kind could not say what to do: {said(way)})"
        fields["observed_error"] = (
            f"no usable swap header: {said(e, limit=WHOLE_LIMIT)}; {why}{way_out}."
        )
        return Backend.Observed.ERROR
    return Backend.Observed.READY
