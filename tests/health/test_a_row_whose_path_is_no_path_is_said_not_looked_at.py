"""A row another machine wrote may give a number or a list for its path. The probes took
``str()`` of it (a list became a relative path, stat'ed in the worker's directory) and
``kernel.find_area`` gave a number to ``os.stat``, which takes it for a descriptor of this
process; then a TypeError ended the backend's check, every round, with nothing said on its
page. Now nothing is looked at for such a path, and the check says why (found beside
review 161/8, the same rows in the sampler)."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend
from swapadmin.health import checks


@pytest.mark.parametrize("path", [5, ["/var/tmp/x"]], ids=["a number", "a list"])
def test_the_check_says_the_path_is_no_path(path: object) -> None:
    row = Backend(kind="file", name="a", params={"path": path}, info={})

    findings = checks.backend_findings(row)

    [store] = [f for f in findings if f.check == "store"]
    assert store.status == "warn"
    assert store.message == (
        f"the row's path {path!r} is not a path; so this check could not tell which file or "
        "device to look at"
    )


def test_no_area_is_looked_for_by_a_number() -> None:
    assert kernel.find_area(1) is None  # type: ignore[arg-type]  # not stdout's descriptor
