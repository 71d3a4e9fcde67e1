"""Unprivileged accounts for the tests of `make run`'s privilege split: one to run web and beat
as (made for the test, removed after it), `nobody` to play the local attacker, and what
those need that a root-only checkout does not give them (a directory they may pass through,
a Python they may run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.core.runas import Account, account

REPO = Path(__file__).resolve().parents[2]
ATTACKER = "nobody"


def as_user(name: str) -> list[str]:
    """A command prefix that runs what follows as ``name`` with its own group alone and no
    capability (util-linux's setpriv), as a local user's shell would."""
    who = account(name)
    assert who is not None, name
    return ["setpriv", f"--reuid={who.uid}", f"--regid={who.gid}", "--clear-groups", "--"]


@contextlib.contextmanager
def system_account() -> Iterator[Account]:
    """A fresh system account (its own group, no home, no login shell), deleted afterwards."""
    name = f"sa-t{os.getpid() % 100000}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        made = account(name)
        assert made is not None and made.uid != 0
        yield made
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)  # gone with it already


@contextlib.contextmanager
def passable_dir() -> Iterator[Path]:
    """A directory other users may pass through (0711) but not list: the tests' own base is
    root's alone (0700), which no account but root could reach a data directory under."""
    d = Path(tempfile.mkdtemp(prefix="swapadmin-runas-", dir="/var/tmp"))
    try:
        d.chmod(0o711)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def python_for(who: Account, where: Path) -> str:
    """A Python ``who`` can run on this checkout: this one when it can (a checkout made with
    the system's Python), else a virtualenv under ``where`` on the system's Python of the
    same version, seeing this virtualenv's packages (this one's interpreter is under /root)."""
    probe = [sys.executable, "-c", "import swapadmin"]
    with contextlib.suppress(OSError):
        if (
            subprocess.run(
                probe, cwd=REPO, user=who.uid, group=who.gid, extra_groups=[], capture_output=True
            ).returncode
            == 0
        ):
            return sys.executable
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"no {system} for an unprivileged account, and it cannot run {sys.executable}")
    venv = where / "venv"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True)
    lib = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (next(venv.glob("lib/python*/site-packages")) / "swapadmin-tests.pth").write_text(
        f"import site; site.addsitedir({str(lib / 'site-packages')!r})\n"
    )
    return str(venv / "bin" / "python")
