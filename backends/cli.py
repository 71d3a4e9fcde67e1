"""``python -m backends``: the operator's command line over the backend library.

Every command that writes turns PATH into a backend through ``backends.plugins.for_path``
with the host's policy (``SWAPADMIN_SWAP_ROOTS``), so the command line refuses exactly
what the worker refuses. Exit status: 0 done, 2 bad input or a refusal, 1 any other
failure; a refusal or failure is one line, ``swapadmin: <reason>``, on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from .base import PAGE_SIZE, SwapBackend
from .errors import BackendError, HeaderError, UnsafeError, ValidationError
from .policy import Policy

PROG = "swapadmin"
EXIT_FAILURE = 1
EXIT_REFUSED = 2


class Refused(Exception):
    """Bad input found by the command line itself (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage and exits 2; the one-line contract holds for usage errors too.
        sys.stderr.write(f"{PROG}: {message} (see --help)\n")
        raise SystemExit(EXIT_REFUSED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status instead of raising."""
    _one_line_logging()
    args = _parser().parse_args(argv)
    try:
        command: Callable[[argparse.Namespace], int] = args.command
        return command(args)
    except (ValidationError, UnsafeError, HeaderError, Refused) as e:
        return _fail(e, EXIT_REFUSED)
    except BackendError as e:
        return _fail(e, EXIT_FAILURE)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        return _fail(f"{where}{e.strerror or e}", EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(reason: object, status: int) -> int:
    line = " ".join(str(reason).split()) or type(reason).__name__
    sys.stderr.write(f"{PROG}: {line}\n")
    return status


def _one_line_logging() -> None:
    # The registry logs a broken third-party plugin with its traceback; an operator at a
    # terminal needs the one line that names it.
    class OneLine(logging.Formatter):
        def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's API)
            return ""

        def format(self, record: logging.LogRecord) -> str:
            record.exc_info = None
            record.exc_text = None
            return super().format(record)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine(f"{PROG}: warning: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


# ---- argument parsing ----


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m backends", description="Inspect and prepare swap areas.")
    sub = parser.add_subparsers(title="commands", required=True, parser_class=_Parser)

    p = sub.add_parser("inspect", help="print the swap header (read-only; fine on active areas)")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print JSON, with an 'active' flag")
    p.set_defaults(command=cmd_inspect)

    p = sub.add_parser("mkswap", help="format an existing file or block device as swap")
    p.add_argument("path")
    p.add_argument("--label", "-L", default="", help="at most 16 bytes of UTF-8")
    p.add_argument("--uuid", "-U", type=_uuid, default=None, help="default: a random UUID")
    p.add_argument(
        "--force",
        action="store_true",
        help="format a block device that holds other data, or a file under a swap root that "
        "swapadmin did not make and that is not swap yet",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=cmd_mkswap)

    p = sub.add_parser("scan", help="write and verify test patterns; record bad pages")
    p.add_argument("path")
    p.add_argument("--patterns", type=_positive_int, default=4)
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=cmd_scan)

    p = sub.add_parser("benchmark", help="measure page I/O (overwrites the area's data pages)")
    p.add_argument("path")
    p.add_argument("--seconds", type=_positive_float, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=cmd_benchmark)

    p = sub.add_parser("list-kinds", help="the installed backend kinds and their parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(command=cmd_list_kinds)
    return parser


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UUID") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


# ---- commands ----


def cmd_inspect(args: argparse.Namespace) -> int:
    from .header import read_header

    with _backend(args.path) as backend:
        hdr = read_header(backend)
        active = backend.is_active()
    if args.json:
        _print_json({**hdr.to_dict(), "active": active})
    else:
        _print_fields({**hdr.to_dict(), "active": active})
    return 0


def cmd_mkswap(args: argparse.Namespace) -> int:
    from .header import mkswap

    with _backend(args.path, force=args.force, writes=True) as backend:
        hdr = mkswap(backend, label=args.label, uuid=args.uuid)
    if args.json:
        _print_json(hdr.to_dict())
    else:
        usable = (hdr.last_page - hdr.nr_badpages) * PAGE_SIZE
        print(f"Setting up swapspace version 1, size = {usable // 1024} KiB ({usable} bytes)")
        print(f"LABEL={hdr.label or '(none)'}, UUID={hdr.uuid}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from . import pageio

    progress = _Progress("scanned")
    with _backend(args.path, writes=True) as backend, _cancel_on_sigint() as cancelled:
        result = pageio.scan(
            backend, patterns=args.patterns, progress=progress, cancel=cancelled.is_set
        )
    progress.done()
    _print_result(result.to_dict(), args.json)
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from . import pageio

    with _backend(args.path, writes=True) as backend:
        result = (
            pageio.benchmark(backend)
            if args.seconds is None
            else pageio.benchmark(backend, seconds=args.seconds)
        )
    _print_result(result.to_dict(), args.json)
    return 0


def cmd_list_kinds(args: argparse.Namespace) -> int:
    from .registry import registry

    kinds = [cls.kind_info() for cls in registry()]
    if args.json:
        _print_json(kinds)
        return 0
    for kind in kinds:
        print(f"{kind['name']}: {kind['label']}" + (" (resizable)" if kind["resizable"] else ""))
        if kind["description"]:
            print(f"    {kind['description']}")
        for name, schema in kind["parameters"]["properties"].items():
            required = ", required" if name in kind["parameters"]["required"] else ""
            print(f"    --{name} ({schema['type']}{required}): {schema['title']}")
    return 0


# ---- helpers ----


def _backend(path: str, *, force: bool = False, writes: bool = False) -> SwapBackend:
    """The backend ``backends.plugins.for_path`` makes of PATH under this host's policy.
    For a command that ``writes``, the plugin has taken the store the way a provision does
    (``swapfile(True)``: swap roots, symlinks, ownership, holes; mounted or data-holding
    devices; a file that another swapadmin backend owns), so only a store that already is
    swap, or one forced with ``--force`` (mkswap), is ever written; the checks change
    nothing on a store that already exists."""
    try:
        policy = Policy.from_env()
    except ValueError as e:
        raise Refused(str(e)) from None
    # Imported here so the command line (list-kinds, --help) works while a plugin module is
    # broken or missing; the failure then names the command that needs it.
    try:
        from .plugins import for_path
    except ImportError as e:
        raise BackendError(f"this installation cannot open a path as a swap area: {e}") from e
    if not writes and os.path.isfile(path) and not os.path.islink(path):
        # Reading a header needs no permission to write there: `inspect /swapfile` works
        # for any swap file, while every command that writes keeps to the swap roots.
        parent = Path(os.path.abspath(path)).parent
        policy = dataclasses.replace(policy, swap_roots=(*policy.swap_roots, parent))
    backend = for_path(path, policy, force=force, provisioning=writes)
    if writes:
        backend.swapfile(True)
    return backend


class _Progress:
    """Pages done out of total, on one rewritten stderr line, at most ten times a second."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        percent = 100.0 * done / total if total else 100.0
        sys.stderr.write(f"\r{self.verb} {done}/{total} pages ({percent:.1f}%)")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


class _cancel_on_sigint:  # noqa: N801 (used as a context manager, like a function)
    """A first Ctrl-C asks the engine to stop cleanly (it restores what it changed); a
    second one interrupts at once."""

    def __enter__(self) -> threading.Event:
        self.event = threading.Event()
        self.previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        sys.stderr.write(f"\n{PROG}: stopping after the current batch (Ctrl-C again to abort)\n")

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def _print_fields(fields: dict[str, Any]) -> None:
    width = max((len(k) for k in fields), default=0)
    for key, value in fields.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        print(f"{key + ':':<{width + 1}} {value}")


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(result)
    else:
        _print_fields(result)
