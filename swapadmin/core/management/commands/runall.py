"""`make run`: the whole of swapadmin on one machine, in the foreground.

Migrates, creates the admin on first start (printing the login once), then runs the web
server (gunicorn on 127.0.0.1:$PORT), this host's worker and beat as child processes.
SIGINT and SIGTERM are passed on to all three; when one of them exits, the others are
stopped and runall exits with its status. With no DATABASE_URL or REDIS_URL the settings
choose SQLite and kombu's filesystem broker under SWAPADMIN_DATA_DIR, so nothing else is
needed.
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
    """Run the children until one exits or a signal comes; stop the rest; return a status."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, argv in children.items():
            # Own process groups: a terminal's Ctrl-C reaches runall alone, which then
            # stops each child once and in order.
            procs[name] = subprocess.Popen(argv, cwd=cwd, start_new_session=True)
        status = 0
        while not stopping:
            for name, proc in procs.items():
                code = proc.poll()
                if code is not None:
                    sys.stderr.write(f"runall: {name} exited with status {code}; stopping\n")
                    status = code or 1
                    stopping.append(0)
                    break
            time.sleep(0.2)
        return status
    finally:
        _stop_all(procs)


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
