"""The file kind's lexical checks: they run in the web process, before any job exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.errors import ValidationError
from backends.plugins.file import FileBackend
from backends.policy import Policy

ROOT = Path("/srv/swaproot")
POLICY = Policy(swap_roots=(ROOT,))
SIZE = 1024 * 1024


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("swap0", "not an absolute path"),
        ("/srv/swaproot/../etc/passwd", "'..' component"),
        ("/srv/swaproot/a/../b", "'..' component"),
        ("/srv/swaproot//swap0", "not normalised"),
        ("/srv/swaproot/./swap0", "not normalised"),
        ("/srv/swaproot/swap0/", "not normalised"),
        ("/srv/swaproot", "is a swap root itself"),
        ("/srv/swaprootx/swap0", "outside the swap roots (/srv/swaproot)"),
        ("/etc/swap0", "outside the swap roots"),
        ("/srv/swaproot/a\nb", "newline"),
    ],
)
def test_it_refuses_with_the_reason(path: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("(", r"\(").replace(")", r"\)")) as e:
        FileBackend({"path": path}, size_bytes=SIZE, policy=POLICY)
    assert e.value.field == "path"


def test_it_accepts_a_file_inside_a_root() -> None:
    backend = FileBackend({"path": "/srv/swaproot/deep/swap0"}, size_bytes=SIZE, policy=POLICY)
    assert backend.swap_path == "/srv/swaproot/deep/swap0"


def test_it_requires_the_path() -> None:
    with pytest.raises(ValidationError, match="Path is required"):
        FileBackend({}, size_bytes=SIZE, policy=POLICY)


def test_it_refuses_a_size_that_is_not_whole_pages() -> None:
    with pytest.raises(ValidationError, match="multiple of the page size"):
        FileBackend({"path": "/srv/swaproot/swap0"}, size_bytes=SIZE + 1, policy=POLICY)


def test_it_refuses_the_job_the_host_policy_forbids(scratch: Path) -> None:
    # The web process may have accepted it under another policy; the worker checks again.
    allowed = scratch / "allowed"
    allowed.mkdir()
    backend = FileBackend(
        {"path": str(allowed / "swap0")},
        size_bytes=SIZE,
        policy=Policy(swap_roots=(allowed,)),
        provisioning=True,
        owner="b-1",
    )
    backend.policy = Policy(swap_roots=(scratch / "elsewhere",))
    with pytest.raises(ValidationError, match="outside the swap roots"):
        backend.swapfile(True)
    assert not (allowed / "swap0").exists()
