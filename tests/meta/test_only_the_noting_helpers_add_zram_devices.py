"""Only the zram kind's ``_hot_add`` and the harness's ``hot_add_zram`` add a zram device (a
read of ``/sys/class/zram-control/hot_add`` makes one, as does ``zramctl --find`` and loading
the module, ``modprobe zram``, which makes zram0, or N devices with ``num_devices=N``): both
note it in the test session's ledger. A device added anywhere else would fall outside the
harness's take-down, which acts only on devices in the ledger (tests/fixtures/host.py), and be
named at the end as a stranger's instead of failing the test that leaked it.

Python is read by ``ast``: each string as the compiler makes it (adjacent literals joined,
escapes decoded, an f-string's literal parts joined, a ``+`` of literals folded), so no
spelling hides the name, and strings of consecutive statements are never joined. Docstrings,
comments and messages are not code: a command (``modprobe zram``, ``zramctl --find``, a ``cat``
of ``hot_add``) counts only where it is run, as the arguments of a call that runs a command, an
argv list or tuple, or a string that is a command line itself. Shell scripts, Makefiles,
Dockerfiles and compose files are read line by line, comments aside; every such line runs."""

from __future__ import annotations

import ast
import functools
import os
import re
import stat
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Where an add is right: the harness's, and the inner run that adds a device as a stranger
#: would, to show it is left alone (and this module's samples of the forms). The product's
#: one, in the zram kind, is counted apart: exactly one there, as in the harness.
ALLOWED = {
    "tests/fixtures/host.py",
    "tests/meta/inner_run_makes_zram_devices.py",
    "tests/meta/test_only_the_noting_helpers_add_zram_devices.py",
}
KIND = "backends/plugins/zram.py"
HARNESS = "tests/fixtures/host.py"

#: The control file, by its path, in any string of code; or its name quoted inside a string,
#: as in Python source run apart (``python -c "...(CONTROL / 'hot_add').read_text()..."``).
CONTROL_PATH = re.compile(r"""zram-control/hot_add(?![\w.-])|(["'])hot_add\1""")

#: The forms of a command line that add a device: the control file by its path or as a bare
#: word (``cd /sys/class/zram-control && cat hot_add``, ``$(< hot_add)``); zramctl asked to
#: find (and so add) a free device, ``--find`` (or a prefix of it) or ``-f`` in a cluster of
#: short options; the module loaded, unless removed (``-r``, ``--remove``).
SHELL_ADD = re.compile(
    r"""zram-control/hot_add(?![\w.-])"""
    r"""|(?:^|[\s<'"=/])hot_add(?=$|[\s;&|)'"`>])"""
    r"""|\bzramctl\b[^;&|#\n]*?\s['"]?(?:--f(?:i(?:nd?)?)?|-[a-zA-Z]*f[a-zA-Z]*)(?![\w-])"""
    r"""|\bmodprobe\b(?P<flags>(?:\s+['"]?-[-\w=]*['"]?)*)\s+['"]?zram(?![\w-])"""
)
_REMOVE = re.compile(r"(?:^|\s)['\"]?(?:--remove|-[a-zA-Z]*r)")

#: Where a piece of a string begins a command: its start, after a separator, a ``$(`` or
#: backtick, ``-c`` (``sh -c '...'``) or a keyword, past ``sudo``/``env``/assignments. A
#: message that names a command mid-sentence (the kind's "load it with 'modprobe zram'")
#: tells a person what to run and runs nothing.
_COMMAND_START = re.compile(
    r"""(?:^|[;&|({!\n`]|\$\(|\b(?:then|do|else)\s|-c\s+['"]?)\s*"""
    r"""(?:(?:sudo|exec|env|nice|command|nohup)(?:\s+-\S+)*\s+|\w+=\S*\s+|timeout\s+\S+\s+)*"""
    r"""(?=(?:modprobe|zramctl|cat|head|tail|dd|read|cp|od|xxd|cd|<)\b|<)"""
)

#: Calls that run a command: their string arguments (and list/tuple ones) are command lines.
RUNNERS = {
    "run", "_run", "run_out", "run_ok", "call", "check_call", "check_output", "Popen",
    "system", "popen", "getoutput", "getstatusoutput", "create_subprocess_exec",
    "create_subprocess_shell", "execv", "execvp", "execvpe", "execl", "execlp", "execle",
    "spawnl", "spawnlp", "spawnv", "spawnvp",
}  # fmt: skip
#: Calls whose string argument names an attribute, not a file (``setattr(x, "hot_add", f)``).
ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr", "object"}

#: Shell-like files read line by line: by suffix, by name, or (extension-less) by a ``#!``.
SHELL_SUFFIXES = {".sh", ".bash", ".yml", ".yaml", ".mk", ".service", ".toml", ".cfg", ".ini"}
SHELL_NAMES = {"Makefile", "GNUmakefile", "Dockerfile", "Containerfile", "Justfile", "Procfile"}
#: Not scanned: git's, environments', caches, the web's vendored files.
PRUNED = {".git", ".venv", "venv", "node_modules", "__pycache__", "static", ".mypy_cache"}


def _is_shell(path: Path) -> bool:
    if path.suffix in SHELL_SUFFIXES or path.name in SHELL_NAMES:
        return True
    if path.name.startswith(("Dockerfile", "Containerfile", "docker-compose")):
        return True
    if path.suffix == "":
        try:
            with path.open("rb") as f:
                return f.read(2) == b"#!"
        except OSError:
            return False
    return False


def _sources(root: Path = REPO) -> list[Path]:
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in PRUNED and not (d.startswith(".") and d != ".ci")]
        for name in files:
            path = Path(top) / name
            # Regular files only: a dangling link (an editor's lock file) would fail the
            # read, and a FIFO would block it for ever (review 212/10).
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
            if path.suffix == ".py" or _is_shell(path):
                found.append(path)
    return sorted(found)


class Unparsable(Exception):
    """A Python file the scan cannot read: it fails a test of its own, by name."""


def _adds(path: Path) -> list[int]:
    """The lines of ``path`` that add a zram device. Raises Unparsable for Python that does
    not parse."""
    if path.suffix == ".py":
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError) as e:  # ValueError: null bytes, undecodable source
            raise Unparsable(f"{path}: {e}") from e
        return sorted(_python_adds(tree))
    return sorted(_shell_adds(path.read_text(errors="replace")))


def _shell_adds(text: str) -> set[int]:
    found = set()
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        start, line = n + 1, lines[n]
        while line.endswith("\\") and n + 1 < len(lines):  # a continued command is one line
            n += 1
            line = line[:-1] + " " + lines[n]
        n += 1
        code = re.sub(r"(?:^|\s)#.*", "", line)
        if _shell_match(code):
            found.add(start)
    return found


def _shell_match(command: str) -> bool:
    return any(
        not (m.group("flags") and _REMOVE.search(m.group("flags")))
        for m in SHELL_ADD.finditer(command)
    )


def _command_line(text: str) -> bool:
    """Whether some piece of ``text`` that begins a command adds a device."""
    return any(_shell_match(text[m.end() :]) for m in _COMMAND_START.finditer(text))


def _folded(node: ast.expr) -> str | None:
    """The string ``node`` always is: a literal, an f-string without fields, or a ``+`` of
    these. None if it is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        return None if left is None or right is None else left + right
    return None


def _strings(node: ast.expr) -> list[str]:
    """The strings code makes of ``node``: a literal's value; an f-string's literal parts
    joined (a field's own strings are found apart); each run of literals in a ``+`` chain,
    folded (``CONTROL + "/hot_" + "add"`` gives ``"/hot_add"``)."""
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value for v in node.values if isinstance(v, ast.Constant))]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        operands: list[ast.expr] = []
        stack: list[ast.expr] = [node]
        while stack:
            x = stack.pop()
            if isinstance(x, ast.BinOp) and isinstance(x.op, ast.Add) and _folded(x) is None:
                stack += [x.right, x.left]
            else:
                operands.append(x)
        runs, current = [], ""
        for x in operands + [ast.Name("_")]:
            value = _folded(x)
            if value is None:
                runs, current = runs + [current] if current else runs, ""
            else:
                current += value
        return runs
    value = _folded(node)
    return [] if value is None else [value]


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _argv(items: list[ast.expr]) -> str:
    """An argv as one command line: its strings, any other item as a word of its own."""
    words = []
    for item in items:
        value = _folded(item)
        words.append("?" if value is None else value)
    return " ".join(words)


def _string_adds(s: str) -> bool:
    """Whether a string of code adds: the control file by its path, its name as a path's
    part (``CONTROL / "hot_add"``, ``str(CONTROL) + "/hot_add"``), or a command line."""
    return (
        bool(CONTROL_PATH.search(s))
        or s == "hot_add"
        or s.endswith("/hot_add")
        or (_command_line(s))
    )


def _python_adds(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    skip: set[int] = set()  # docstrings and other bare strings; attribute names
    nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr):
            skip.add(id(node.value))
            skip.update(id(v) for v in ast.walk(node.value) if isinstance(v, ast.Constant))
        if isinstance(node, ast.Call) and _call_name(node) in ATTRIBUTE_CALLS:
            skip.update(id(a) for a in node.args[1:2])
    for node in nodes:
        if not isinstance(node, ast.expr) or id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if any(_string_adds(s) for s in _strings(node)):
            found.add(line)
        if isinstance(node, ast.Call) and _call_name(node) in RUNNERS:
            # A command run: each string argument a command line, and the argv as one.
            args = [a for a in node.args if not isinstance(a, ast.Starred)]
            for a in args:
                items = a.elts if isinstance(a, ast.List | ast.Tuple) else [a]
                if any(_shell_match(s) for i in items for s in _strings(i)):
                    found.add(line)
                if isinstance(a, ast.List | ast.Tuple) and _shell_match(_argv(a.elts)):
                    found.add(line)
            if _shell_match(_argv(args)):
                found.add(line)
        elif isinstance(node, ast.List | ast.Tuple) and _command_line(_argv(node.elts)):
            # An argv built apart (``cmd = ["zramctl", "--find"]``) begins with its command.
            found.add(line)
    return found


@functools.cache
def _scan() -> tuple[dict[str, list[int]], list[str]]:
    adds, unparsable = {}, []
    for path in _sources():
        rel = str(path.relative_to(REPO))
        try:
            adds[rel] = _adds(path)
        except Unparsable as e:
            unparsable.append(f"{rel}: {e.__cause__}")
    return adds, unparsable


def test_no_other_code_adds_a_zram_device() -> None:
    adds, _ = _scan()
    found = [
        f"{rel}:{n}" for rel, lines in adds.items() if rel not in ALLOWED | {KIND} for n in lines
    ]
    assert not found, "adds a zram device without noting it in the ledger: " + ", ".join(found)


def test_every_python_source_parses_for_the_scan() -> None:
    """A file the scan cannot read could add a device unseen: it fails here, named, and the
    other files are still scanned."""
    _, unparsable = _scan()
    assert not unparsable, "not scanned, does not parse: " + "; ".join(unparsable)


def test_the_kind_and_the_harness_each_add_in_one_place_only() -> None:
    assert len(_adds(REPO / KIND)) == 1, _adds(REPO / KIND)
    assert len(_adds(REPO / HARNESS)) == 1, _adds(REPO / HARNESS)


# Self-tests: each form of an add the scan finds, and each harmless form it leaves.


def _py(tmp_path: Path, source: str) -> list[int]:
    path = tmp_path / "sample.py"
    path.write_text(source)
    return _adds(path)


def _sh(tmp_path: Path, source: str, name: str = "sample.sh") -> list[int]:
    path = tmp_path / name
    path.write_text(source)
    return _adds(path)


def test_a_read_of_the_control_file_is_found_however_spelled(tmp_path: Path) -> None:
    assert _py(tmp_path, 'n = (ZRAM_CONTROL / "hot_add").read_text()\n') == [1]
    assert _py(tmp_path, "n = Path('/sys/class/zram-control/hot_add').read_text()\n") == [1]
    assert _py(tmp_path, 'n = (CONTROL / "hot_" "add").read_text()\n') == [1]
    assert _py(tmp_path, "m = Path('/sys/class/zram-control/hot'\n         '_add')\n") == [1]
    assert _py(tmp_path, 'n = (CONTROL / "hot\\x5fadd").read_text()\n') == [1]
    assert _py(tmp_path, 'n = (CONTROL / "hot_" "\\x61dd").read_text()\n') == [1]
    assert _py(tmp_path, 'n = (CONTROL / ("hot_" + "add")).read_text()\n') == [1]
    assert _py(tmp_path, 'n = open(str(CONTROL) + "/hot_" + "add").read()\n') == [1]
    assert _py(tmp_path, 'n = open(f"{CONTROL}/hot_add").read()\n') == [1]
    assert _py(tmp_path, 'n = open(f"/sys/class/{k}zram-control/hot" f"_add").read()\n') == [1]
    assert _py(tmp_path, 'n = os.path.join(CONTROL, "hot_add")\n') == [1]
    child = "CHILD = '''\nn = (zram.ZRAM_CONTROL / \"hot_add\").read_text()\n'''\n"
    assert _py(tmp_path, child) == [1]


def test_a_command_that_adds_is_found_where_it_runs(tmp_path: Path) -> None:
    assert _py(tmp_path, 'run("zramctl", "-f", "-s", "1G")\n') == [1]
    assert _py(tmp_path, 'subprocess.run(["zramctl", "--find", "--size", "1G"])\n') == [1]
    assert _py(tmp_path, 'cmd = ["sudo", "zramctl", "-fs", "1G"]\n') == [1]
    assert _py(tmp_path, 'subprocess.run(["modprobe", "zram"], check=True)\n') == [1]
    assert _py(tmp_path, 'run("modprobe", "zram", "num_devices=2")\n') == [1]
    assert _py(tmp_path, 'subprocess.run(["modprobe", "-q", "zram"])\n') == [1]
    assert _py(tmp_path, 'os.system("modprobe zram num_devices=4")\n') == [1]
    assert _py(tmp_path, 'run("sh", "-c", "cd /sys/class/zram-control && cat hot_add")\n') == [1]
    assert _py(tmp_path, 'cmd = "cd /sys/class/zram-control && cat hot_add"\n') == [1]
    assert _py(tmp_path, 'cmd = "modprobe zram"\n') == [1]
    assert _py(tmp_path, 'subprocess.run("mod" "probe zr" "am", shell=True)\n') == [1]


def test_a_shell_line_that_adds_is_found(tmp_path: Path) -> None:
    lines = [
        "cat /sys/class/zram-control/hot_add",
        "n=$(cat /sys/class/zram-control/hot_add); echo $n",
        "cd /sys/class/zram-control && cat hot_add",
        'n=$(< "$CONTROL/hot_add")',
        "read -r n < /sys/class/zram-control/hot_add",
        "dev=$(zramctl --find --size 1G)",
        "zramctl -f -s 1G",
        "sudo zramctl --fi -s 1G",
        "modprobe zram",
        "modprobe zram num_devices=4",
        "sudo modprobe -v zram",
        "\tmodprobe zram  # in a Makefile's recipe",
        "RUN modprobe zram",
        "zramctl \\",
        "  --find",
    ]
    assert _sh(tmp_path, "\n".join(lines) + "\n") == list(range(1, 15))
    assert _sh(tmp_path, "set -e\nmodprobe zram\n", name="run") == [2]
    Path(tmp_path / "run").write_text("#!/bin/sh\nmodprobe zram\n")
    assert _adds(tmp_path / "run") == [2] and _is_shell(tmp_path / "run")
    assert _sh(tmp_path, "services:\n  a:\n    command: modprobe zram\n", "c.yml") == [3]


def test_harmless_forms_are_not_found(tmp_path: Path) -> None:
    source = (
        '"""A fresh device from ``/sys/class/zram-control/hot_add``; ``hot_add`` it."""\n'
        "def hot_add_zram() -> str:\n"
        '    """hot_add until the kernel hands out a number"""\n'
        '    (CONTROL / "hot_remove").write_text("3")\n'
        "    raise KernelError(\"load it with 'modprobe zram' (no /sys/class/zram-control)\")\n"
        '    a = "hot_"\n'
        '    b = "add"\n'
        '    f = "/sys/class/zram-control/hot_"\n'
        "    'add, a string of the next statement, not joined to the last'\n"
        '    c = ("hot_", "add")\n'
        '    d = "hot_" "add_zram"\n'
        '    run("zramctl", "--output", "NAME")\n'
        '    run("zramctl", "--reset", dev)\n'
        '    run("modprobe", "-r", "zram")\n'
        '    setattr(devices, "hot_add", fake)\n'
        '    e = f"cannot hot_add: {err}"\n'
        '    log("run modprobe zram first, or zramctl --find")\n'
        "    # cat /sys/class/zram-control/hot_add\n"
        "    return devices.hot_add(SIZE)\n"
    )
    assert _py(tmp_path, source) == []
    shell = (
        "# cat /sys/class/zram-control/hot_add, modprobe zram\n"
        "echo 3 > /sys/class/zram-control/hot_remove\n"
        "zramctl --output NAME\n"
        "zramctl --reset /dev/zram0\n"
        "modprobe -r zram\n"
        "modprobe fuse\n"
        "hot_add_zram\n"
    )
    assert _sh(tmp_path, shell) == []


def test_a_python_file_that_does_not_parse_is_named_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    try:
        _adds(broken)
    except Unparsable as e:
        assert "broken.py" in str(e)
    else:
        raise AssertionError("a file that does not parse was scanned as clean")


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    """A dangling link (an editor's lock file, ``.#name.py``) failed the read of the whole
    scan, and a FIFO named like a script blocked it (review 212/10)."""
    (tmp_path / "real.py").write_text("x = 1\n")
    (tmp_path / ".#lock.py").symlink_to(tmp_path / "gone.py")
    os.mkfifo(tmp_path / "pipe.sh")
    assert _sources(tmp_path) == [tmp_path / "real.py"]
