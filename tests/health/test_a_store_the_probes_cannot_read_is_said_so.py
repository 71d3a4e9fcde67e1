"""The free-space and header probes skip a store that is not there (the store probe says
so). They asked ``os.path.exists``/``lexists``, False for any failed stat, so a store they
could not stat (EACCES, EIO; ELOOP here) was skipped in silence, as if gone: a check round
then showed no header finding at all for an area it could not read (review 161/6). And a
header read the kind refused (a swap root others may write) is no damaged header: it says
it could not read, not "damaged", which asks for a new one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.utils import timezone

from backends.plugins.block import BlockBackend
from backends.policy import Policy
from swapadmin.core.models import Backend
from swapadmin.health import probes
from swapadmin.health.probes import Thresholds
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

LOOPS = "Too many levels of symbolic links"


def test_the_header_probe_says_it_could_not_read(unstattable_device: str) -> None:
    row = Backend(kind="block", name="a", params={"device": unstattable_device})
    plugin = BlockBackend({"device": unstattable_device})

    [finding] = probes.check_header(probes.Target(row, plugin, unstattable_device, None))

    assert finding.status == "fail"
    assert finding.check == "header"
    # Not "damaged", which asks for a new header (review 164/2): the kind's error was a
    # ValidationError carrying ELOOP.
    assert finding.message.startswith("cannot read the swap header: "), finding.message
    assert LOOPS in finding.message


def test_the_free_space_probe_says_it_could_not_look(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    path = str(tmp_path / "loop" / "store")
    row = Backend(kind="file", name="a", params={"path": path})

    [finding] = probes.check_free_space(probes.Target(row, None, path, None), Thresholds())

    assert finding.status == "warn"
    assert finding.message == f"cannot statvfs the swap file's filesystem: {LOOPS}"


def test_neither_speaks_of_a_store_that_is_not_there(tmp_path: Path) -> None:
    gone = f"/dev/swapadmin-test-{uuid.uuid4().hex}"  # a name no device has: never made
    row = Backend(kind="block", name="a", params={"device": gone})
    assert probes.check_header(probes.Target(row, BlockBackend({"device": gone}), gone, None)) == []
    path = str(tmp_path / "gone")
    row = Backend(kind="file", name="a", params={"path": path})
    assert probes.check_free_space(probes.Target(row, None, path, None), Thresholds()) == []


@needs_root
def test_a_header_read_the_kind_refuses_is_not_called_damaged(
    swap_root: Path, policy: Policy
) -> None:
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=4 << 20, policy=policy) as made:
        pass
    os.chmod(swap_root, 0o777)
    row = Backend(kind="file", name="a", params={"path": str(path)})

    [finding] = probes.check_header(probes.Target(row, rebuilt(made), str(path), None))

    assert finding.status == "fail"
    assert finding.message.startswith(
        f"cannot read the swap header: {swap_root} (the swap root) has mode 777"
    )


@needs_root
def test_an_identity_the_kind_cannot_read_is_not_proven(swap_root: Path, policy: Policy) -> None:
    # It said nothing at all (review 164/3): no finding reads as a clean bill, and a repair
    # could be queued for a store that cannot be proven.
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=4 << 20, policy=policy) as made:
        pass
    os.chmod(swap_root, 0o777)
    row = Backend(kind="file", name="a", params={"path": str(path)}, provisioned_at=timezone.now())

    [finding] = probes.check_identity(probes.Target(row, rebuilt(made), str(path), None))

    assert (finding.check, finding.status) == ("identity", "fail")
    assert finding.message.startswith(
        f"cannot prove the store is this backend's: {swap_root} (the swap root) has mode 777"
    ), finding.message
