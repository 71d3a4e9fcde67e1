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

Only the worker needs root. When runall is root, the web server and beat run as an
unprivileged account (swapadmin.core.runas): SWAPADMIN_RUN_AS names it (`make run` sets
`swapadmin`, creating that system account if missing); it must exist and reach the code and
the data directory, or runall refuses to start and says why. Unset (runall started by
hand), they run as `swapadmin` when that works and as root otherwise, with a warning.
SWAPADMIN_RUN_AS=root runs them as root on purpose (a machine no one else uses). Every
child runs with umask 077, and the data directory is closed (0700, files 0600, owned by
that account) before any child starts. The first start prints where the secrets are.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from swapadmin.core.management.commands.ensureadmin import marker_path
from swapadmin.core.runas import DEFAULT_ACCOUNT, Account, account, tighten

if TYPE_CHECKING:
    from kombu import Queue

STOP_GRACE_SECONDS = 10.0
#: The wait before a child that exited is started again: doubled each time it dies again
#: within RESTART_STABLE_SECONDS of its start, up to RESTART_MAX_SECONDS.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
RESTART_STABLE_SECONDS = 60.0
#: Files the children make are their owner's alone: the database's journals, the broker's
#: messages, the worker's locks.
CHILD_UMASK = 0o077
#: What the unprivileged account must be able to do before web and beat run as it: start
#: this Python on this code, read the settings (the key), write the database, and declare
#: the worker's queues on the embedded broker, so that the exchange tables the web server
#: and beat must update are this account's files and not the root worker's.
PREPARE = (
    "import django; django.setup(); "
    "from swapadmin.core.management.commands.runall import prepare_shared_state; "
    "prepare_shared_state()"
)


class Command(BaseCommand):
    help = "Run the web server, this host's worker and beat (what `make run` runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--bind", default=os.environ.get("SWAPADMIN_BIND", "127.0.0.1"))

    def handle(self, *args: Any, **options: Any) -> None:
        port, bind = options["port"], options["bind"]
        url = f"http://{bind}:{port}/"
        os.umask(CHILD_UMASK)  # what migrate and collectstatic write, too
        configured = os.environ.get("SWAPADMIN_RUN_AS") or None
        web_as = self.unprivileged_account(configured)
        self.close_data_dir(web_as)  # before anything is written: an older run left it open
        first_start = not marker_path().exists()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()
        self.close_data_dir(web_as)  # and what migrate made as root is the account's now
        if web_as is not None:
            # Before the admin's password is printed: it is printed once, on a start that
            # goes on to serve, not on one refused here.
            web_as = self.checked(web_as, configured)
        call_command("ensureadmin", url=url, stdout=self.stdout)
        connections.close_all()
        self.close_data_dir(web_as)
        if os.geteuid() != 0:
            self.stderr.write(
                "warning: not running as root: the worker cannot swapon, attach loop or "
                "zram devices; run `sudo make run` to manage this host's swap"
            )
        who = web_as.name if web_as is not None else _user_name(os.geteuid())
        if first_start:
            self.stdout.write(secrets_banner(who))
        # `python -m`, not the venv's scripts: their #! line names the interpreter by a path
        # the unprivileged account may not reach, while this one it was checked to run.
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "swapadmin"]
        children = {
            "web": [
                python, "-m", "gunicorn", "swapadmin.wsgi:application",
                "--bind", f"{bind}:{port}", "--workers", "2", "--access-logfile", "-",
                # gunicorn's control socket lives in $HOME, which the account has none of;
                # runall is what controls it.
                "--no-control-socket",
            ],
            "worker": [*celery, "worker", "-l", "info"],
            "beat": [
                *celery, "beat", "-l", "info",
                "-S", "django_celery_beat.schedulers:DatabaseScheduler",
            ],
        }  # fmt: skip
        accounts = {"web": web_as, "beat": web_as}
        self.stdout.write(
            f"starting web on {url} as {who}, worker for {settings.SWAPADMIN_HOST} as "
            f"{_user_name(os.geteuid())}, beat as {who}"
        )
        self.stdout.flush()
        sys.exit(supervise(children, cwd=settings.BASE_DIR, accounts=accounts))

    def unprivileged_account(self, configured: str | None) -> Account | None:
        """The account web and beat run as; None: as runall's own user."""
        if os.geteuid() != 0:
            return None  # not root: nothing to drop, and no one to switch to
        name = configured or DEFAULT_ACCOUNT
        found = account(name)
        if found is None:
            if configured:
                raise CommandError(
                    f"SWAPADMIN_RUN_AS={configured}: no such user on this machine. Create "
                    f"it (useradd --system --no-create-home --shell /usr/sbin/nologin "
                    f"{configured}), name another, or unset it"
                )
            self.warn_as_root(f"there is no user {name} (`make run` creates it)")
            return None
        if found.uid == 0:
            self.warn_as_root(f"SWAPADMIN_RUN_AS={configured} asks for it")
            return None
        return found

    def close_data_dir(self, owner: Account | None) -> None:
        left_open = tighten(settings.DATA_DIR, owner)
        if left_open:
            self.stderr.write(
                "warning: could not close to other users (change their mode by hand): "
                + ", ".join(left_open)
            )

    def checked(self, web_as: Account, configured: str | None) -> Account | None:
        """``web_as`` if it can run web and beat here (PREPARE, run as it), else the reason:
        refused when the account was asked for, web and beat as root otherwise."""
        try:
            done = subprocess.run(
                [sys.executable, "-c", PREPARE], cwd=settings.BASE_DIR,
                env=web_as.env(dict(os.environ)), user=web_as.uid, group=web_as.gid,
                extra_groups=[], umask=CHILD_UMASK, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            problem = "" if done.returncode == 0 else _last_lines(done.stderr)
        except OSError as e:  # its Python is out of its reach: exec failed
            problem = f"cannot run {sys.executable}: {e.strerror}"
        if not problem:
            return web_as
        why = (
            f"web and beat cannot run as {web_as.name}: {problem}. Put the checkout, its "
            f"virtualenv's Python and SWAPADMIN_DATA_DIR ({settings.DATA_DIR}) where "
            f"{web_as.name} can reach them (not under /root), or set SWAPADMIN_RUN_AS=root "
            f"to run them as root (only where no one else logs in)"
        )
        if configured:
            raise CommandError(why)
        self.warn_as_root(why)
        return None

    def warn_as_root(self, why: str) -> None:
        self.stderr.write(f"warning: web and beat run as root: {why}")


def prepare_shared_state() -> None:
    """What PREPARE runs as the unprivileged account (Django set up): fails, with the
    reason on stderr, if that account cannot run web and beat on this data directory."""
    from django.db import transaction

    from swapadmin.celery import app
    from swapadmin.core.worker import host_queue

    with transaction.atomic():  # BEGIN IMMEDIATE on SQLite: the write lock, so write access
        connections["default"].cursor().execute("SELECT 1")
    if str(settings.CELERY_BROKER_URL).startswith("filesystem"):
        # kombu writes an exchange's table when a queue is first bound to it, owned by the
        # process that binds: let that be this account, not the root worker, for the queues
        # the worker binds, or the web server could not publish to them.
        queues = app.amqp.queues
        with app.connection_for_write() as conn:
            default = queues[app.conf.task_default_queue]
            # celery-types say select_add takes a Queue and returns None; Celery's takes a
            # queue's name too and returns the Queue it added (celery/app/amqp.py).
            host = cast("Queue", queues.select_add(host_queue()))  # type: ignore[arg-type]
            for queue in (default, host):
                queue.bind(conn.default_channel).declare()


def secrets_banner(readers: str) -> str:
    """Where this installation's secrets are, and who besides root (``readers``) can
    read them."""
    readers = "root" if readers == "root" else f"root and {readers}"
    data = settings.DATA_DIR
    key = str(data / "secret_key")
    if os.environ.get("SECRET_KEY"):
        key = "SECRET_KEY in the environment"
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        db = f"{database['NAME']} (users, sessions, API token digests)"
    else:
        db = "the server in DATABASE_URL (its password is in the environment)"
    broker = "the server in REDIS_URL" if settings.REDIS_URL else str(settings.BROKER_DIR)
    return "\n".join([
        "",
        f"Secrets of this installation, readable by {readers} only:",
        f"  data directory: {data} (0700; every file in it 0600)",
        f"  secret key:     {key}",
        f"  database:       {db}",
        f"  broker:         {broker} (the jobs' messages)",
        "Keep them out of backups others can read; a copy of the key signs sessions.",
        "",
    ])  # fmt: skip


def supervise(
    children: dict[str, list[str]],
    cwd: Path,
    accounts: dict[str, Account | None] | None = None,
) -> int:
    """Run the children until SIGINT or SIGTERM, starting again any that exits; then stop
    them all. Returns 0, or EX_CONFIG when a child refused its configuration. A child named
    in ``accounts`` runs as that account (with no supplementary groups), the rest as this
    process; all with umask 077."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    def start(name: str) -> None:
        # Own process groups: a terminal's Ctrl-C reaches runall alone, which then stops
        # each child once and in order.
        who = (accounts or {}).get(name)
        as_account: dict[str, Any] = {}
        if who is not None:
            as_account = dict(
                user=who.uid, group=who.gid, extra_groups=[], env=who.env(dict(os.environ))
            )
        procs[name] = subprocess.Popen(
            children[name],
            cwd=cwd,
            start_new_session=True,
            umask=CHILD_UMASK,
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
            **as_account,
        )
        started[name] = time.monotonic()

    # SIGHUP too: a closed terminal or a dropped ssh session ends `make run`, children and
    # all, instead of leaving them running under init for the next start to collide with.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
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


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _last_lines(text: str, count: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[-count:]) or "it failed without saying why"


def _say(line: str) -> None:
    sys.stderr.write(f"runall: {line}\n")
    sys.stderr.flush()


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:  # a real-time signal has no name of its own
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGTERM when runall dies, however it dies (SIGKILL, the
    OOM killer), so that no web server, worker or beat outlives it. Set after the switch to
    the child's account, which would clear it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # runall died before the line above
        os._exit(1)


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
