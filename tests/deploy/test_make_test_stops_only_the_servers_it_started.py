"""`make test` (scripts/test.sh) starts the Redis and PostgreSQL servers it needs
(scripts/services.sh) and stops, when it ends, those it started and no other: on a sysadmin's
machine a run leaves the servers as it found them. A server already answering on the port
(`make services`, another run's) is used and left running; a run cut short by an interrupt
still stops its own.

The real scripts run here against a Redis on a free port of the test's own, with a state
directory under the test's temporary root. DATABASE_URL is given, so the scripts touch no
PostgreSQL cluster (the suite's own is running beside this test). The run's tools (pytest,
ruff, mypy) are small stand-ins in a venv of the test's: what is shown is the script's
start and stop around them, not the suite."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.own_servers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
MARKS = ("SWAPADMIN_STARTED_REDIS", "SWAPADMIN_STARTED_PG")


def answers(port: int) -> bool:
    got = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    return got.stdout.strip() == "PONG"


class Stage:
    """A port, a state directory and a venv of stand-ins, all the test's own."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.state = tmp_path / "services"
        self.venv = tmp_path / "venv"
        self.seen_env = tmp_path / "pytest-env"
        (self.venv / "bin").mkdir(parents=True)
        self.stand_in("ruff", "exit 0")
        self.stand_in("mypy", "exit 0")
        self.started: list[subprocess.Popen[bytes]] = []

    def stand_in(self, tool: str, body: str) -> None:
        path = self.venv / "bin" / tool
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", *MARKS)}
        return {**inherited, "SWAPADMIN_TEST_REDIS_PORT": str(self.port),
                "SWAPADMIN_SERVICES_DIR": str(self.state), "VENV": str(self.venv),
                # Named, so neither script starts or stops a PostgreSQL cluster here.
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", **extra}  # fmt: skip

    def run_make_test(self) -> subprocess.CompletedProcess[str]:
        # With SIGINT's default action, as a terminal's `make test` has it: a suite started in
        # the background by a non-interactive shell (`nohup … &` in a script) inherits it
        # ignored, and bash can trap no signal it was started ignoring (round 110 failed so).
        return subprocess.run(["env", "--default-signal=INT", "bash", "scripts/test.sh"],
                              cwd=ROOT, env=self.env(), capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    def redis_already_running(self) -> None:
        """A server on the port that no run of the scripts started (as `make services` or a
        sysadmin's own would be)."""
        self.state.mkdir(exist_ok=True)
        proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--dir", str(self.state)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.started.append(proc)
        wait_port(self.port)

    def cleanup(self) -> None:
        for proc in self.started:
            proc.terminate()
            proc.wait(timeout=30)
        # Any daemon the scripts started in this stage's directory and a failing test left
        # behind (its pid file may since name another, or nothing).
        for pid in _redis_pids_in(self.state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    s = Stage(tmp_path)
    try:
        yield s
    finally:
        s.cleanup()


def test_a_run_stops_the_redis_it_started_and_keeps_its_status(stage: Stage) -> None:
    stage.stand_in("pytest", f'env > {stage.seen_env}; redis-cli -p "$SWAPADMIN_TEST_REDIS_PORT"'
                             " ping >/dev/null || exit 9; exit 3")  # fmt: skip
    assert not answers(stage.port)
    done = stage.run_make_test()
    # The suite's status is the run's: the stop at the end does not turn a failure green.
    assert done.returncode == 3, done.stderr
    # The suite ran on the server the run started, which is gone after it.
    seen = stage.seen_env.read_text()
    assert f"REDIS_URL=redis://127.0.0.1:{stage.port}/0" in seen
    assert not answers(stage.port)
    assert not (stage.state / "redis" / "redis.pid").exists() or not _alive(stage)
    # The marks went to the stop alone: a test calling the script reads none of them.
    assert not any(f"{mark}=" in seen for mark in MARKS)


def test_a_run_leaves_running_the_redis_that_was_running_before_it(stage: Stage) -> None:
    stage.stand_in("pytest", "exit 0")
    stage.redis_already_running()
    done = stage.run_make_test()
    assert done.returncode == 0, done.stderr
    assert answers(stage.port)


def test_an_interrupted_run_still_stops_the_redis_it_started(stage: Stage) -> None:
    # The stand-in interrupts the script that runs it, as a Ctrl-C in the terminal would
    # (there pytest gets the signal too, and ends first).
    stage.stand_in("pytest", "kill -INT $PPID; exit 0")
    done = stage.run_make_test()
    assert done.returncode == 130, done.stderr
    assert not answers(stage.port)


def test_start_marks_only_the_server_it_started(stage: Stage) -> None:
    first = subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, env=stage.env(),
                           capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "SWAPADMIN_STARTED_REDIS=1" in first.stdout.splitlines()
    # A second start finds it answering: it did not start it, so it does not mark it, and
    # a stop of what that start started stops nothing.
    again = subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, env=stage.env(),
                           capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "SWAPADMIN_STARTED_REDIS" not in again.stdout
    subprocess.run(["bash", "scripts/services.sh", "stop-started"], cwd=ROOT, env=stage.env(),
                   check=True, timeout=60)  # fmt: skip
    assert answers(stage.port)
    subprocess.run(["bash", "scripts/services.sh", "stop-started"], cwd=ROOT,
                   env=stage.env(SWAPADMIN_STARTED_REDIS="1"), check=True, timeout=60)  # fmt: skip
    assert not answers(stage.port)
    assert not _alive(stage)


def test_a_stale_pid_file_naming_another_process_is_never_signalled(stage: Stage) -> None:
    # After a crash or a reboot the pid file can name a pid the kernel has given to some
    # other process since; here a process of the test's own stands for it.
    other = subprocess.Popen(["sleep", "infinity"])
    stage.started.append(other)
    (stage.state / "redis").mkdir(parents=True)
    (stage.state / "redis" / "redis.pid").write_text(f"{other.pid}\n")
    subprocess.run(["bash", "scripts/services.sh", "stop-started"], cwd=ROOT,
                   env=stage.env(SWAPADMIN_STARTED_REDIS="1"), check=True, timeout=60)  # fmt: skip
    assert other.poll() is None, "a stop signalled a process that is not its Redis"
    # Nor does that file make a Redis already on the port count as the scripts' own (whose
    # databases a test run may claim).
    stage.redis_already_running()
    got = subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, env=stage.env(),
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "export SWAPADMIN_TEST_OWN_REDIS=0" in got.stdout.splitlines()


def test_a_pid_file_naming_a_redis_the_scripts_did_not_start_is_not_theirs(stage: Stage) -> None:
    # The file names the very Redis that answers on the port, but one started elsewhere
    # (its own directory, as the machine's Redis would be after a pid was reused).
    stage.redis_already_running()
    (stage.state / "redis").mkdir(parents=True)
    (stage.state / "redis" / "redis.pid").write_text(f"{stage.started[0].pid}\n")
    subprocess.run(["bash", "scripts/services.sh", "stop-started"], cwd=ROOT,
                   env=stage.env(SWAPADMIN_STARTED_REDIS="1"), check=True, timeout=60)  # fmt: skip
    assert answers(stage.port)
    got = subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, env=stage.env(),
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "export SWAPADMIN_TEST_OWN_REDIS=0" in got.stdout.splitlines()


def test_a_run_whose_redis_cannot_start_fails_and_stops_the_scripts_other_redis_not(
    stage: Stage,
) -> None:
    # `make services` left the scripts' Redis on one port; a run told to use another finds
    # it held by something that is not Redis. Its start fails (naming the port), and the old
    # pid file, which names the Redis on the first port, makes no stop kill that one.
    subprocess.run(["bash", "scripts/services.sh", "start"], cwd=ROOT, env=stage.env(),
                   capture_output=True, check=True, timeout=60)  # fmt: skip
    first = _redis_pid(stage)
    assert first is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        other_port = squatter.getsockname()[1]
        stage.stand_in("pytest", "exit 0")
        done = subprocess.run(
            ["env", "--default-signal=INT", "bash", "scripts/test.sh"], cwd=ROOT,
            env=stage.env(SWAPADMIN_TEST_REDIS_PORT=str(other_port)),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"Redis did not start on 127.0.0.1:{other_port}" in done.stderr
    assert answers(stage.port)
    assert _redis_pid(stage) == first


def test_marks_in_the_callers_environment_stop_nothing(stage: Stage) -> None:
    stage.stand_in("pytest", f"env > {stage.seen_env}; exit 0")
    stage.redis_already_running()
    done = subprocess.run(["env", "--default-signal=INT", "bash", "scripts/test.sh"], cwd=ROOT,
                          env=stage.env(SWAPADMIN_STARTED_REDIS="1"), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert answers(stage.port)
    assert "SWAPADMIN_STARTED_REDIS" not in stage.seen_env.read_text()


def test_a_database_url_comes_back_from_start_as_it_was_given(stage: Stage) -> None:
    stage.redis_already_running()
    url = "postgres://u:p;w 'x'@127.0.0.1:1/db"
    got = subprocess.run(
        ["bash", "-c", 'eval "$(bash scripts/services.sh start)" && printf %s "$DATABASE_URL"'],
        cwd=ROOT, env=stage.env(DATABASE_URL=url), capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert got.stdout == url


def _redis_pids_in(directory: Path) -> list[int]:
    """The Redis servers running in ``directory`` or below it (by their working directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "comm").read_text().strip() != "redis-server":
                continue
            cwd = Path(os.readlink(proc / "cwd").removesuffix(" (deleted)"))
        except (OSError, ValueError):
            continue
        if cwd.is_relative_to(directory):
            found.append(int(proc.name))
    return found


def _redis_pid(stage: Stage) -> int | None:
    """The pid in the scripts' pid file, if that process is a Redis server."""
    pidfile = stage.state / "redis" / "redis.pid"
    try:
        pid = int(pidfile.read_text())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "redis-server" else None


def _alive(stage: Stage) -> bool:
    return _redis_pid(stage) is not None
