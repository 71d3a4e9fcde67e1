"""The compose web's health check passes against the web as compose runs it: its request
carries a Host that the web's ALLOWED_HOSTS accepts, whatever ALLOWED_HOSTS the .env sets.

The web's own gunicorn command, environment and secrets, taken from docker-compose.yml, run
in a private network and mount namespace (as in a container, 127.0.0.1:8000 is the web's
alone and its secrets are files under /run/secrets), and the health check's own command runs
beside it. The check the file had before (no Host header, so urllib sent "127.0.0.1:8000")
fails against the same server: that is what the test tells apart.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import compose
from tests.fixtures.host import needs_root

pytestmark = needs_root

NEEDED = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "p", "REDIS_PASSWORD": "r"}
OLD_CHECK = [
    "python", "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')",
]  # fmt: skip

# Runs inside `unshare --net --mount`: brings up loopback, puts the secrets under a private
# /run (a tmpfs no one else sees), starts the web, waits until it answers any request (a 400
# for an unknown Host is an answer), runs each check, prints their exit codes.
DRIVER = r"""
import http.client, json, os, pathlib, signal, subprocess, sys, time
server_argv, checks = json.loads(sys.argv[1]), json.loads(sys.argv[2])
secrets = json.loads(sys.argv[4])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)
for target, content in secrets.items():
    pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(target).write_text(content)
log = open(sys.argv[3], "wb")
server = subprocess.Popen(server_argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
try:
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", 8000, timeout=5)
            c.request("GET", "/healthz", headers={"Host": "readiness.invalid"})
            c.getresponse().read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("the web did not start")
            time.sleep(0.1)
    out = []
    for argv in checks:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        out.append([r.returncode, r.stderr[-1500:]])
    print(json.dumps(out))
finally:
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    server.wait(timeout=20)
"""


@pytest.fixture(scope="module")
def web() -> dict[str, Any]:
    return compose.load()["services"]["web"]


def make_signing_key() -> str:
    from swapadmin.core.signing import new_private_key_pem

    return new_private_key_pem().decode()


# What each compose secret holds (the deployer makes them; docs/DEPLOY.md says how).
SECRET_MAKERS = {"job-signing-key": make_signing_key}


def secret_files(service: dict[str, Any]) -> dict[str, str]:
    """Compose mounts each of a service's secrets at /run/secrets/<name>: path -> content."""
    out = {}
    for name in service.get("secrets", []):
        assert name in SECRET_MAKERS, f"the test does not know what secret {name!r} holds"
        out[f"/run/secrets/{name}"] = SECRET_MAKERS[name]()
    return out


def gunicorn_argv(web: dict[str, Any]) -> list[str]:
    """The gunicorn part of the web's command (the migrate before it needs the database)."""
    inner = shlex.split(web["command"])[-1]  # sh -c "<migrate> && <gunicorn ...>"
    step = next(s for s in inner.split("&&") if s.strip().startswith("gunicorn "))
    return shlex.split(step)


def run_checks(
    web: dict[str, Any], tmp_path: Path, allowed_hosts: str | None
) -> list[tuple[int, str]]:
    """Start the web as compose would with this ALLOWED_HOSTS in .env; run the compose health
    check and then OLD_CHECK against it; their exit codes and error output."""
    dotenv = dict(NEEDED) if allowed_hosts is None else {**NEEDED, "ALLOWED_HOSTS": allowed_hosts}
    env = {
        # What the image provides (Dockerfile ENV, its Python on PATH) and the compose environment.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "SWAPADMIN_DATA_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **compose.service_environment(web, dotenv),
    }
    check = web["healthcheck"]["test"]
    assert check[0] == "CMD", check
    log = tmp_path / "web.log"
    result = subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", "--",
         sys.executable, "-c", DRIVER, json.dumps(gunicorn_argv(web)),
         json.dumps([check[1:], OLD_CHECK]), str(log), json.dumps(secret_files(web))],
        cwd=compose.ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    web_log = log.read_text() if log.exists() else ""
    assert result.returncode == 0, result.stderr + "\n--- web log ---\n" + web_log
    return [(code, err) for code, err in json.loads(result.stdout)]


@pytest.mark.parametrize(
    "allowed_hosts",
    [None, "swap.example.com", "swap.example.com,localhost", " .example.com"],
    ids=["compose-default", "a-public-name", "two-names", "a-domain-pattern"],
)
def test_the_check_passes_and_the_hostless_check_fails(
    web: dict[str, Any], tmp_path: Path, allowed_hosts: str | None
) -> None:
    (new_code, new_err), (old_code, old_err) = run_checks(web, tmp_path, allowed_hosts)
    assert new_code == 0, new_err
    assert old_code != 0 and "400" in old_err, old_err


def test_a_wildcard_allowed_hosts_is_checked_as_localhost(
    web: dict[str, Any], tmp_path: Path
) -> None:
    (new_code, new_err), _ = run_checks(web, tmp_path, "*")
    assert new_code == 0, new_err
