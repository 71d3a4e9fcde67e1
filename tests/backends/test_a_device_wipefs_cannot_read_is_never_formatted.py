"""When wipefs cannot say what a device holds, the device is treated as holding something.

The block kind refuses a device holding a filesystem by asking wipefs on the open store.
A listing that wipefs could not make (it could not open the device: a device cgroup, a
node gone; it was not installed; it hung) used to be taken as an empty one: the
provision's check passed, and only mkswap's own listing, made through another reader that
did raise, stood between that device and a write. Now there is one reader, and it raises.
On a device it opens but cannot read, wipefs exits 0 with a short listing instead; that is
test_a_device_whose_probed_sectors_cannot_be_read_is_never_formatted.py. Here wipefs's
failure is made by a wipefs earlier on PATH that fails as util-linux's does when it cannot
open the device; everything else (the loop device, its ext4, the refusal) is real.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import store as store_mod
from backends import wipefs
from backends.errors import KernelError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

pytestmark = needs_root


def _digest(dev: str) -> str:
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def failing_wipefs(tool_on_path: Callable[..., Path]) -> None:
    tool_on_path(
        "wipefs",
        "#!/bin/sh\n"
        "for arg; do last=$arg; done\n"
        'echo "wipefs: error: $last: probing initialization failed: Input/output error" >&2\n'
        "exit 1\n",
    )


def _block(dev: str, policy: Policy, **kw: object) -> BlockBackend:
    return BlockBackend({"device": dev}, policy=policy, **kw)  # type: ignore[arg-type]


def test_a_provision_is_refused_with_wipefs_s_reason(
    loop_device: str, policy: Policy, failing_wipefs: None
) -> None:
    run("mkfs.ext4", "-q", "-L", "precious", loop_device)
    before = _digest(loop_device)
    backend = _block(loop_device, policy, provisioning=True, owner=str(uuid.uuid4()))
    with pytest.raises(
        KernelError,
        # The device by its path, not the descriptor wipefs was given (review 148/5).
        match=rf"^wipefs could not read {loop_device}, so what it holds is not known: "
        r"wipefs: error: /dev/fd/\d+: probing initialization failed: Input/output error",
    ):
        backend.swapfile(True)
    assert backend._store is None  # nothing was kept open for a write
    assert _digest(loop_device) == before


def test_a_refusal_s_sentence_still_says_what_it_could(
    loop_device: str, failing_wipefs: None
) -> None:
    fd = os.open(loop_device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert store_mod.describe_contents(fd, 4096).startswith(
            "no swap header, and nothing else could be read (wipefs could not read /dev/fd/"
        )
        with pytest.raises(KernelError, match="not known"):
            wipefs.signatures(fd)
    finally:
        os.close(fd)


def test_a_missing_wipefs_is_named(monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
    monkeypatch.setenv("PATH", str(scratch))  # no wipefs there
    with pytest.raises(KernelError, match="wipefs is not installed; install util-linux"):
        wipefs.signatures(str(scratch))


@pytest.mark.parametrize(
    "listing",
    [
        '{"signatures": ["ext4"]}',  # a row that is no object
        '{"signatures": [{"offset": "0x438", "type": "ext4", "usage": "filesystem"}]}',
        '{"signatures": [{"offset": "at the start", "length": 2, "type": "ext4"}]}',
        '{"devices": []}',
        "ext4 at 0x438",
    ],
    ids=["row-not-an-object", "no-length", "offset-not-a-number", "no-signatures", "not-json"],
)
def test_a_listing_not_understood_is_no_listing(
    tool_on_path: Callable[..., Path], listing: str
) -> None:
    tool_on_path("wipefs", f"#!/bin/sh\ncat <<'END'\n{listing}\nEND\n")
    with pytest.raises(KernelError, match=r"^wipefs's listing of /dev/sdz is not understood: "):
        wipefs.signatures("/dev/sdz")


def test_a_wipefs_that_cannot_be_run_is_named(
    tool_on_path: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tool_on_path("wipefs", "#!/bin/sh\nexit 0\n", mode=0o644)
    monkeypatch.setenv("PATH", str(tool.parent))  # found there, and not executable
    with pytest.raises(
        KernelError,
        match=r"^wipefs cannot be run \(Permission denied\), so what /dev/sdz holds is not known",
    ):
        wipefs.signatures("/dev/sdz")
