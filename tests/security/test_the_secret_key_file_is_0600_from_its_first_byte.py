"""The secret key file (and any secret made by ``read_or_create_secret``) is never readable by
another user, not even for a moment: it is written in a file created with O_EXCL and mode
0600, and appears under its name only once complete (a hard link, never a chmod after the
write; the old code wrote the file 0644 under the usual umask, then chmodded it). Of
processes racing to make it, all end up with one key; a link planted in its place is
refused, not followed."""

from __future__ import annotations

import multiprocessing
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from swapadmin.secretfiles import SecretFileError, read_or_create_secret

#: What the audit hook saw while ``recording`` is on (a hook cannot be removed once added).
events: list[tuple[str, tuple[Any, ...], int | None]] = []
recording: list[Path] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not recording or event not in ("open", "os.chmod", "os.link"):
        return
    mode = None
    if event == "os.link":  # the temp file, as it is the moment it gets the secret's name
        mode = stat.S_IMODE(os.stat(args[0]).st_mode)
    events.append((event, args, mode))


sys.addaudithook(_hook)


@pytest.fixture
def umask_zero() -> Any:
    """No umask to hide a mode asked for too wide: what is created is what was asked."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_it_is_0600_before_it_has_its_name(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "secret_key"
    events.clear()
    recording.append(path)
    try:
        key = read_or_create_secret(path, lambda: b"k" * 50)
    finally:
        recording.clear()
    assert key == b"k" * 50 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creates = [
        a for e, a, _ in events if e == "open" and isinstance(a[2], int) and a[2] & os.O_CREAT
    ]
    assert creates and all(flags & os.O_EXCL for _p, _m, flags in creates), creates
    assert [e for e, _a, _m in events if e == "os.chmod"] == []  # nothing widened, nothing fixed
    links = [(a, mode) for e, a, mode in events if e == "os.link"]
    assert len(links) == 1 and links[0][1] == 0o600 and Path(links[0][0][1]) == path, links
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temp file left


def test_a_second_reader_gets_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    first = read_or_create_secret(path, lambda: b"first")
    assert read_or_create_secret(path, lambda: b"second") == first == b"first"


def test_the_loser_of_a_race_reads_the_winners_key(tmp_path: Path) -> None:
    """Another process makes the key between this one's look and its write: this one's key
    is thrown away and the other's returned."""
    path = tmp_path / "secret_key"

    def make_while_another_wins() -> bytes:
        assert read_or_create_secret(path, lambda: b"winner") == b"winner"
        return b"loser"

    assert read_or_create_secret(path, make_while_another_wins) == b"winner"
    assert path.read_bytes() == b"winner"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def _racer(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(read_or_create_secret(Path(path), lambda: os.urandom(16).hex().encode()))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(10):
        path = tmp_path / f"secret_key.{round_}"
        barrier, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_racer, args=(str(path), barrier, results)) for _ in range(8)]
        for p in procs:
            p.start()
        keys = {results.get(timeout=30) for _ in procs}
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
        assert keys == {path.read_bytes()}, keys
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"secret_key.{i}" for i in range(10)]


def test_a_link_in_its_place_is_refused_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"not a key")
    path = tmp_path / "secret_key"
    path.symlink_to(elsewhere)
    with pytest.raises(SecretFileError, match="symbolic link"):
        read_or_create_secret(path, lambda: b"new")
    assert elsewhere.read_bytes() == b"not a key"


def test_an_empty_key_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_bytes(b"")
    with pytest.raises(SecretFileError, match=f"{path} is empty"):
        read_or_create_secret(path, lambda: b"new")
    assert path.read_bytes() == b""


def test_a_key_an_older_version_left_0644_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_bytes(b"old")
    path.chmod(0o644)
    assert read_or_create_secret(path, lambda: b"new") == b"old"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
