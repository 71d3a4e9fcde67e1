"""`make run`: the whole of swapadmin on one machine, in the foreground.

Migrates, creates the admin on first start (printing the login once), then runs the web
server (gunicorn on 127.0.0.1:$PORT), this host's worker and beat as child processes.
A child that exits is started again (what it left in its process group killed first),
after a wait that doubles while it keeps dying soon after its start: one crash never
takes the rest down. SIGINT and SIGTERM stop all three and runall exits 0. A worker
refused as another machine's host (exit status EX_CONFIG) would only be refused again:
runall stops everything and exits with that status. With no DATABASE_URL or REDIS_URL the
settings choose SQLite and kombu's filesystem broker under SWAPADMIN_DATA_DIR, so nothing
else is needed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

STOP_GRACE_SECONDS = 10.0
#: The wait before a child that exited is started again: doubled each time it dies again
#: within RESTART_STABLE_SECONDS of its start, up to RESTART_MAX_SECONDS.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
RESTART_STABLE_SECONDS = 60.0


class Command(BaseCommand):
    help = "Run the web server, this host's worker and beat (what `make run` runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--bind", default=os.environ.get("SWAPADMIN_BIND", "127.0.0.1"))

    def handle(self, *args: Any, **options: Any) -> None:
        port, bind = options["port"], options["bind"]
        url = f"http://{bind}:{port}/"
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensureadmin", url=url, stdout=self.stdout)
        if os.geteuid() != 0:
            self.stderr.write(
                "warning: not running as root: the worker cannot swapon, attach loop or "
                "zram devices; run `sudo make run` to manage this host's swap"
            )
        bin_dir = Path(sys.executable).parent
        celery = str(bin_dir / "celery")
        children = {
            "web": [
                str(bin_dir / "gunicorn"), "swapadmin.wsgi:application",
                "--bind", f"{bind}:{port}", "--workers", "2", "--access-logfile", "-",
            ],
            "worker": [celery, "-A", "swapadmin", "worker", "-l", "info"],
            "beat": [
                celery, "-A", "swapadmin", "beat", "-l", "info",
                "-S", "django_celery_beat.schedulers:DatabaseScheduler",
            ],
        }  # fmt: skip
        self.stdout.write(f"starting web on {url}, worker for {settings.SWAPADMIN_HOST}, beat")
        self.stdout.flush()
        sys.exit(supervise(children, cwd=settings.BASE_DIR))


def supervise(children: dict[str, list[str]], cwd: Path) -> int:
    """Run the children until SIGINT or SIGTERM, starting again any that exits; then stop
    them all. Returns 0, or EX_CONFIG when a child refused its configuration."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    def start(name: str) -> None:
        # Own process groups: a terminal's Ctrl-C reaches runall alone, which then stops
        # each child once and in order.
        procs[name] = subprocess.Popen(children[name], cwd=cwd, start_new_session=True)
        started[name] = time.monotonic()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started: dict[str, float] = {}
    waits = dict.fromkeys(children, RESTART_FIRST_SECONDS)
    due: dict[str, float] = {}  # a child that exited -> when to start it again
    try:
        for name in children:
            start(name)
        while not stopping:
            now = time.monotonic()
            for name, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                # What it left behind (a dead worker's pool processes, gunicorn's workers)
                # goes with it before anything takes its place.
                _signal_group(proc, signal.SIGKILL)
                del procs[name]
                if code == os.EX_CONFIG:
                    _say(f"{name} refused its configuration (exit status {code}); stopping")
                    return code
                lived = now - started[name]
                if lived >= RESTART_STABLE_SECONDS:
                    waits[name] = RESTART_FIRST_SECONDS
                wait = waits[name]
                waits[name] = min(wait * 2, RESTART_MAX_SECONDS)
                due[name] = now + wait
                _say(
                    f"{name} {_exit_reason(code)} after {lived:.0f} s; "
                    f"starting it again in {wait:.0f} s"
                )
            for name, when in list(due.items()):
                if now >= when and not stopping:
                    del due[name]
                    start(name)
                    _say(f"{name} started again (pid {procs[name].pid})")
            time.sleep(0.2)
        return 0
    finally:
        _stop_all(procs)


def _say(line: str) -> None:
    sys.stderr.write(f"runall: {line}\n")
    sys.stderr.flush()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # each main process stops its own children
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in procs.values():
        _signal_group(proc, signal.SIGKILL)  # anything left in the group (pool children)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
