"""A fact about a block device that the worker cannot read is shown as not known, with why.

The block kind's description read five facts under one ``suppress``: one that failed (a
wipefs that cannot read the device) dropped them all, and the backend's page then said
"Signatures: swap only" and "not mounted", the words for nothing there (review 148/3).
Each fact is read on its own now; one that fails is named with its reason, and the page
says "not known" beside it. The loop device is real; the failing wipefs is a program
earlier on PATH failing as util-linux's does when it cannot open a device.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

FAILING_WIPEFS = (
    "#!/bin/sh\n"
    "for arg; do last=$arg; done\n"
    'echo "wipefs: error: $last: probing initialization failed: Input/output error" >&2\n'
    "exit 1\n"
)


def _facts(info: dict[str, object], device: str) -> dict[str, tuple[str, str]]:
    said = BlockBackend.facts(info, {"device": device}, {}, device)
    return {f.term: (f.text, f.problem) for f in said}


@needs_root
def test_the_other_facts_stay_and_the_failed_one_says_why(
    loop_device: str, policy: Policy, tool_on_path: Callable[..., Path]
) -> None:
    tool_on_path("wipefs", FAILING_WIPEFS)
    info = BlockBackend({"device": loop_device}, policy=policy).describe()
    assert info["capacity_bytes"] == 64 << 20
    assert info["mount_points"] == [] and info["holders"] == []
    assert info["kernel_name"] == Path(loop_device).name
    assert "signatures" not in info
    why = info["unreadable"]["signatures"]
    assert why.startswith(f"wipefs could not read {loop_device}, so what it holds is not known")

    facts = _facts(info, loop_device)
    assert facts["Signatures"] == ("not known", why)
    assert facts["Mounted / held by"] == ("not mounted", "")
    assert facts["Capacity"][1] == ""


def test_facts_never_read_are_not_read_yet_rather_than_none() -> None:
    facts = _facts({"device": "/dev/sdz"}, "/dev/sdz")
    assert facts["Signatures"] == ("not read yet", "")
    assert facts["Mounted / held by"] == ("not read yet", "")


@needs_root
def test_a_device_that_is_gone_is_named_as_such(policy: Policy, scratch: Path) -> None:
    gone = "/dev/swapadmin-test-no-such-device"
    info = BlockBackend({"device": gone}, policy=policy).describe()
    assert set(info["unreadable"]) == {"device"}
    assert gone in info["unreadable"]["device"]
    facts = _facts(info, gone)
    assert facts["Device"][1] == info["unreadable"]["device"]
    assert facts["Signatures"] == ("not known", "")
