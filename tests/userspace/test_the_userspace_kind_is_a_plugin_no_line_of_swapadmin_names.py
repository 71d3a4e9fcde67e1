"""The user-space kind is a third party's kind in all but its address: a distribution of its
own (contrib/swapadmin-userspace), installed into the venv as any package is, whose entry
point in the ``swapadmin.backends`` group is what makes the registry and the command line
know it. No line of swapadmin's own code, templates or metadata names it: adding one fails
here, because the point is that a kind needs none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import swapadmin_userspace
from swapadmin_userspace.plugin import UserspaceBackend

from backends.registry import GROUP, registry

REPO = Path(__file__).resolve().parents[2]
#: Where swapadmin itself lives: its Django project, its backend library, its pages, its
#: metadata. The contrib distribution, the docs and the Makefile (which installs it) may
#: name the kind.
SWAPADMIN_OWN = ("swapadmin", "backends", "templates", "static", "pyproject.toml", "setup.py")
NAME = b"userspace"


def test_the_registry_loads_it_from_the_contrib_distributions_entry_point() -> None:
    (ep,) = [ep for ep in metadata.entry_points(group=GROUP) if ep.name == "userspace"]
    assert ep.value == "swapadmin_userspace.plugin:UserspaceBackend"
    assert ep.dist is not None and ep.dist.name == "swapadmin-userspace"
    own = metadata.distribution("swapadmin").entry_points.select(group=GROUP)
    assert "userspace" not in {e.name for e in own}
    assert registry().get("userspace") is UserspaceBackend
    # Installed as a package is, not run from the source tree; its daemon compiled into it.
    installed = Path(swapadmin_userspace.__file__).resolve()
    assert not installed.is_relative_to(REPO / "contrib")
    assert os.access(str(resources.files("swapadmin_userspace") / "uswapd"), os.X_OK)


def test_the_command_line_lists_it() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backends", "list-kinds", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = cli()
    assert done.returncode == 0, done.stderr
    assert "userspace: User-space store (FUSE)" in done.stdout
    done = cli("--json")
    kinds = {k["name"]: k for k in json.loads(done.stdout)}
    assert kinds["userspace"] == UserspaceBackend.kind_info()


def test_no_line_of_swapadmin_names_it() -> None:
    named = []
    for top in SWAPADMIN_OWN:
        root = REPO / top
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".so"):
                continue
            for number, line in enumerate(path.read_bytes().splitlines(), start=1):
                if NAME in line.lower():
                    named.append(f"{path.relative_to(REPO)}:{number}")
    assert named == [], f"swapadmin names the user-space kind at {', '.join(named)}"
