"""``python -m backends list-kinds`` shows the kinds the registry loaded from entry points,
with the parameters forms are generated from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backends.registry import registry

PYTHON = str(Path(sys.executable))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line as an operator would, in a fresh interpreter."""
    return subprocess.run(
        [PYTHON, "-m", "backends", *args], capture_output=True, text=True, timeout=120
    )


def one_line_refusal(done: subprocess.CompletedProcess[str], needle: str) -> None:
    """Exit status 2 and one line on stderr that names the problem: what operators and
    scripts rely on."""
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("swapadmin: "), done.stderr
    assert needle in done.stderr, done.stderr


def test_it_lists_every_registered_kind_with_its_parameters() -> None:
    done = cli("list-kinds", "--json")
    assert done.returncode == 0, done.stderr
    kinds = {k["name"]: k for k in json.loads(done.stdout)}
    assert set(kinds) == {cls.name for cls in registry()}
    for cls in registry():
        kind = kinds[cls.name]
        assert kind["label"] == cls.label
        assert kind == cls.kind_info()  # the same description as the API's plugins/
        assert kind["parameters"]["properties"] == {p.name: p.schema() for p in cls.parameters}
        assert kind["parameters"]["required"] == [p.name for p in cls.parameters if p.required]


def test_it_names_each_kind_for_a_person() -> None:
    done = cli("list-kinds")
    assert done.returncode == 0, done.stderr
    for cls in registry():
        assert f"{cls.name}: {cls.label}" in done.stdout


def test_it_refuses_an_unknown_command_in_one_line() -> None:
    done = cli("defragment", "/tmp")
    one_line_refusal(done, "invalid choice: 'defragment'")
    assert done.stdout == ""
