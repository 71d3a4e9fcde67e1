"""Bad input is refused with a message naming it, and the file is left untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import fstab
from backends.errors import ValidationError


@pytest.mark.parametrize(
    ("spec", "kwargs", "message"),
    [
        ("relative/path", {}, "neither an absolute path"),
        ("", {}, "is required"),
        ("/a\nb", {}, "newline"),
        ("UUID=", {}, "needs a value"),
        ("/swap", {"priority": -1}, "0 to 32767"),
        ("/swap", {"priority": 40000}, "0 to 32767"),
        ("/swap", {"discard": "sometimes"}, "discard must be one of"),
        ("/swap", {"label": "two\nlines"}, "printable"),
        ("/swap", {"label": "x" * 65}, "1 to 64"),
    ],
)
def test_it_refuses_and_changes_nothing(
    scratch: Path, spec: str, kwargs: dict[str, object], message: str
) -> None:
    tab = scratch / "fstab"
    tab.write_bytes(b"# untouched\n")
    args: dict[str, object] = {"priority": None, "discard": None, **kwargs}
    with pytest.raises(ValidationError, match=message):
        fstab.ensure_entry(tab, spec, **args)  # type: ignore[arg-type]
    assert tab.read_bytes() == b"# untouched\n"
    assert sorted(p.name for p in scratch.iterdir()) == ["fstab"]
