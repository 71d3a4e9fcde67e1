"""The last line under the control plane's refusals of an adopted area (the request's, and
the runner's ``check_not_adopted``): the plugin itself, rebuilt from the record as a job's
worker builds it, refuses to open an adopted area for writing. ``prove`` runs on the store
just opened, before the first byte goes through its descriptor, so a page write, a mkswap
or a scan of a swap file a sysadmin made leaves every byte of it as it was."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header, pageio
from backends.errors import NotOursError
from backends.policy import Policy
from tests.backends.test_an_adopted_area_never_proven_is_told_to_be_adopted_again import (
    _adopted,
    _theirs,
)
from tests.fixtures.host import needs_root
from tests.fixtures.stores import rebuilt
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]

REFUSED = "was adopted, not made by swapadmin: it is activated and deactivated, never written"


@pytest.mark.parametrize("write", ["swap_out", "mkswap", "scan"])
def test_no_write_opens_it(swap_root: Path, policy: Policy, write: str) -> None:
    path = _theirs(swap_root)
    job = rebuilt(_adopted(path, policy), owner=str(uuid.uuid4()))
    before = digest(path)
    with pytest.raises(NotOursError, match=REFUSED):
        if write == "swap_out":
            job.swap_out(1, b"\xa5" * 4096)
        elif write == "mkswap":
            header.mkswap(job, label="ours")
        else:
            pageio.scan(job, patterns=1)
    job.close()
    assert digest(path) == before
