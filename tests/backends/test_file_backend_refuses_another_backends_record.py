"""A store record proves a file is this backend's only when it names this backend. A plugin
built for backend B with the state of backend A's row (copied by hand, or a row edited to
point at A's file) finds A's mark on the file and A's record to match it: it must still
refuse, because the record itself names another owner. Nothing of A's file changes, by
any write (benchmark, scan, mkswap, resize) nor by handing it to the kernel (activate)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import SwapBackend, header, pageio
from backends.errors import NotOursError
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB

ACTIONS: dict[str, Callable[[SwapBackend], object]] = {
    "benchmark": lambda b: pageio.benchmark(b, seconds=0.2),
    "scan": lambda b: pageio.scan(b, patterns=1),
    "mkswap": lambda b: header.mkswap(b, label="b's"),
    "resize": lambda b: b.resize(2 * SIZE),
    "activate": lambda b: b.verify(),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("kind", ["file", "loop"])
def test_a_copied_record_proves_nothing(
    swap_root: Path, policy: Policy, kind: str, action: str
) -> None:
    a_owner, b_owner = str(uuid.uuid4()), str(uuid.uuid4())
    path = swap_root / "a"
    a = provisioned(kind, {"path": str(path)}, size=SIZE, policy=policy, owner=a_owner)
    a.close()
    try:
        before = digest(path)
        b = rebuilt(a, owner=b_owner)  # B's job, with A's state
        assert b.record["owner"] == a_owner
        with pytest.raises(
            NotOursError, match=rf"names another backend \({a_owner}\) as its owner"
        ):
            ACTIONS[action](b)
        b.close()
        assert digest(path) == before
        assert path.stat().st_size == SIZE
        rebuilt(a).verify()  # still A's own
    finally:
        if kind == "loop":
            rebuilt(a).swapfile(False)
