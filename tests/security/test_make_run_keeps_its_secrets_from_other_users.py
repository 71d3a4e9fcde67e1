"""`make run` on a machine other people log in to. A local user with no privilege (`nobody`)
cannot read the database (users, sessions, API tokens), the secret key or the broker's
messages: every directory of the data directory is 0700 and every file 0600. The web server
and beat run as the unprivileged account, only the worker as root, and still serve a job
end to end. The data directory the test starts from is one an older swapadmin left (0755,
files 0644, all root's): runall closes it before anyone starts.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.core.runas import Account
from tests.control.make_run import Run, make_run
from tests.fixtures.host import needs_root

from .accounts import ATTACKER, as_user, passable_dir, python_for, system_account

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(600)]

# Opens every path it is given as an attacker would: directories listed, files read, the
# database queried for its tables. Prints, per path, what it got or the error's name.
TRY_TO_READ = textwrap.dedent(
    """
    import json, os, sqlite3, sys
    paths, db = json.load(sys.stdin), sys.argv[1]
    got = {}
    for p in paths:
        try:
            if os.path.isdir(p):
                got[p] = ["listed", len(os.listdir(p))]
            else:
                with open(p, "rb") as f:
                    got[p] = ["read", len(f.read())]
        except OSError as e:
            got[p] = [type(e).__name__, 0]
    try:
        con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        got["tables"] = ["read", tables]
    except sqlite3.Error as e:
        got["tables"] = [str(e), []]
    print(json.dumps(got))
    """
)


@pytest.fixture
def web_account() -> Iterator[Account]:
    with system_account() as made:
        yield made


@pytest.fixture
def where() -> Iterator[Path]:
    with passable_dir() as d:
        yield d


def left_by_an_older_swapadmin(run: Run) -> None:
    """The data directory as `make run` left it before: 0755, files 0644, all root's."""
    data = run.data_dir
    old = os.umask(0o022)
    try:
        done = run.manage("migrate", "--verbosity", "0")
        assert done.returncode == 0, done.stderr
    finally:
        os.umask(old)
    for path in [data, *data.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert (data / "secret_key").stat().st_mode & 0o044


def uids(pid: int) -> tuple[set[int], str] | None:
    """The real, effective, saved and filesystem uids of ``pid``, and its groups; None if
    it has exited meanwhile."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {int(u) for u in fields["Uid"].split()}, fields["Groups"].strip()


def family(pid: int) -> list[int]:
    """``pid`` and its live descendants (gunicorn's workers, celery's pool)."""
    found = [pid]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat_line = (d / "stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(stat_line[1]) == pid and stat_line[0] != "Z":
                found += family(int(d.name))
    return found


def test_a_local_user_reads_nothing_and_only_the_worker_is_root(
    web_account: Account, where: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", python_for(web_account, where))
    # The job-signing key made in the data directory, as `make run` does (not the session's).
    env = {
        "SWAPADMIN_RUN_AS": web_account.name,
        "SWAPADMIN_SIGNING_KEY_FILE": "",
        "SWAPADMIN_VERIFY_KEY": "",
    }
    with make_run(where / "run", prepare=left_by_an_older_swapadmin, **env) as run:
        with run.api(run.token()) as api:
            host = run.wait(
                lambda: (h := run.host_row(api)) and h["online"] and h, 90, "the host online"
            )
            # The unprivileged web server publishes the job; the root worker runs it.
            path = run.swap_root / "split"
            made = api.post("/backends/", json={
                "host": host["id"], "kind": "file", "name": "split", "size_bytes": 16 << 20,
                "params": {"path": str(path)},
            })  # fmt: skip
            assert made.status_code == 202, made.text
            job = made.json()
            done = run.wait(
                lambda: (j := api.get(f"/jobs/{job['id']}/").json())["state"]
                in ("succeeded", "failed") and j,
                120, "the job to end",
            )  # fmt: skip
            assert done["state"] == "succeeded", done
            assert path.stat().st_size == 16 << 20

        # Who runs what.
        for role in ("web", "beat", "worker"):
            pid = run.child(role)
            assert pid, f"no {role}:\n{run.tail()}"
            for member in family(pid):
                seen = uids(member)
                if seen is None:
                    continue
                ids, groups = seen
                want = 0 if role == "worker" else web_account.uid
                assert ids == {want}, (role, member, ids)
                if role != "worker":
                    assert groups == "", (role, member, groups)  # not root's groups either
        # The first start says where the secrets are and who may read them.
        banner = run.output().split("Secrets of this installation", 1)[-1]
        assert banner.startswith(f", readable by root and {web_account.name} only:"), banner
        for secret in ("secret_key", "swapadmin.sqlite3", "broker"):
            assert str(run.data_dir / secret) in banner.split("starting web")[0], banner
        assert f"beat as {web_account.name}" in banner

        # Everything in the data directory is closed, and the account's (root made none of
        # it but what only the worker uses: its locks and the messages it sent itself).
        data = run.data_dir
        inside = [data, *data.rglob("*")]
        db = data / "swapadmin.sqlite3"
        for p in inside:
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue  # a message taken meanwhile
            if stat.S_ISDIR(st.st_mode):
                assert stat.S_IMODE(st.st_mode) == 0o700, (p, oct(st.st_mode))
            else:
                assert stat.S_IMODE(st.st_mode) == 0o600, (p, oct(st.st_mode))
        for p in (data, db, data / "secret_key", data / "broker", data / "broker" / "control"):
            assert p.stat().st_uid == web_account.uid, p
        for table in (data / "broker" / "control").iterdir():
            assert table.stat().st_uid == web_account.uid, table  # the web server writes them

        # The attacker, and root with the very same script: so a denial is the mode's doing.
        paths = [str(p) for p in inside]
        assert {str(db), str(data / "secret_key"), str(data / "broker")} <= set(paths)
        argv = ["/usr/bin/python3", "-c", TRY_TO_READ, str(db)]
        as_root = json.loads(subprocess.check_output(argv, input=json.dumps(paths), text=True))
        denied = json.loads(
            subprocess.check_output(as_user(ATTACKER) + argv, input=json.dumps(paths), text=True)
        )

    # What was still there when root looked (a message may be taken meanwhile) root read...
    there = {p for p in paths if as_root[p][0] != "FileNotFoundError"}
    assert {str(db), str(data / "secret_key"), str(data / "broker")} <= there
    assert all(as_root[p][0] in ("listed", "read") for p in there), as_root
    assert any("token" in t for t in as_root["tables"][1]), as_root["tables"]
    # ...and the attacker none of it: not a file, not a listing, not a table.
    assert {p: denied[p][0] for p in there} == dict.fromkeys(there, "PermissionError")
    assert denied["tables"] == ["unable to open database file", []], denied["tables"]
