"""Only the zram kind's ``_hot_add`` and the harness's ``hot_add_zram`` add a zram device (a
read of ``/sys/class/zram-control/hot_add`` makes one): both note it in the test session's
ledger. A device added anywhere else would fall outside the harness's take-down, which acts
only on devices in the ledger (tests/fixtures/host.py), and be named at the end as a
stranger's instead of failing the test that leaked it."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: A read of the control file written as code does: its name as a literal of its own, or
#: after a slash, quoted or bare (a shell's ``cat /sys/class/zram-control/hot_add``), but
#: not inside a longer name (``hot_add_zram``) nor a docstring's ``.../hot_add`` in backticks;
#: zramctl asked to find (and so add) a free device; or the module loaded with devices.
HOT_ADD = re.compile(
    r"""["']hot_add["']|/hot_add(?![\w`])"""
    r"""|zramctl\b.*(--find|[\s"']-[a-z]*f[a-z]*\b)"""
    r"""|modprobe\b.*\bnum_devices="""
)

#: Where an add is right: the harness's, and the inner run that adds a device as a stranger
#: would, to show it is left alone (and this module's samples of the pattern). The product's
#: one, in the zram kind, is counted apart: exactly one there.
ALLOWED = {
    "tests/fixtures/host.py",
    "tests/meta/inner_run_makes_zram_devices.py",
    "tests/meta/test_only_the_noting_helpers_add_zram_devices.py",
}
KIND = "backends/plugins/zram.py"


def _sources() -> list[Path]:
    tops = ("backends", "swapadmin", "tests", "contrib", "bench", "scripts", ".ci")
    found = [p for top in tops for pattern in ("*.py", "*.sh") for p in (REPO / top).rglob(pattern)]
    return found + [REPO / "Makefile"]


def _adds(path: Path) -> list[int]:
    text = path.read_text(errors="replace")
    found = [n for n, line in enumerate(text.splitlines(), 1) if HOT_ADD.search(line)]
    if path.suffix == ".py":
        found += [n for n, joined in _joined_strings(text) if HOT_ADD.search(joined)]
    return sorted(set(found))


#: A string literal's prefix and quotes, around its body.
_QUOTES = re.compile(r"""^[a-zA-Z]*('\'\'|"\"\"|'|")|('\'\'|"\"\"|'|")$""")


def _joined_strings(text: str) -> list[tuple[int, str]]:
    """Each run of two or more adjacent string literals (``"hot_" "add"``, which Python
    joins into one), as the line it starts on and its bodies joined, in quotes. Not an
    expression (``"hot_" + "add"``), nor, from Python 3.12, a run with an f-string in it."""
    runs: list[tuple[int, list[str]]] = []
    last_was_string = False
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.STRING:
            if last_was_string:
                runs[-1][1].append(_QUOTES.sub("", tok.string))
            else:
                runs.append((tok.start[0], [_QUOTES.sub("", tok.string)]))
            last_was_string = True
        elif tok.type not in skip:
            last_was_string = False
    return [(line, '"' + "".join(parts) + '"') for line, parts in runs if len(parts) > 1]


def test_no_other_code_adds_a_zram_device() -> None:
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for path in _sources()
        if str(path.relative_to(REPO)) not in ALLOWED | {KIND}
        for n in _adds(path)
    ]
    assert not found, "adds a zram device without noting it in the ledger: " + ", ".join(found)


def test_the_kind_adds_in_one_place_only() -> None:
    assert len(_adds(REPO / KIND)) == 1, _adds(REPO / KIND)


def test_the_pattern_finds_an_add_written_either_way() -> None:
    assert HOT_ADD.search("""(ZRAM_CONTROL / "hot_add").read_text()""")
    assert HOT_ADD.search("""Path('/sys/class/zram-control/hot_add').read_text()""")
    assert HOT_ADD.search("""dev=$(zramctl --find --size 1G)""")
    assert HOT_ADD.search("""run("zramctl", "-f", "-s", "1G")""")
    assert HOT_ADD.search("""zramctl -f -s 1G""")
    assert not HOT_ADD.search("""def hot_add_zram() -> str:""")
    assert not HOT_ADD.search("""zramctl --output NAME""")
    assert not HOT_ADD.search("""run("zramctl", "--reset", dev)""")


def test_the_pattern_finds_a_bare_shell_read_and_a_module_load_with_devices() -> None:
    assert HOT_ADD.search("""cat /sys/class/zram-control/hot_add""")
    assert HOT_ADD.search("""n=$(cat /sys/class/zram-control/hot_add); echo $n""")
    assert HOT_ADD.search("""read -r n < /sys/class/zram-control/hot_add""")
    assert HOT_ADD.search("""modprobe zram num_devices=4""")
    assert HOT_ADD.search("""run("modprobe", "zram", "num_devices=2")""")
    assert not HOT_ADD.search("""a fresh device from ``/sys/class/zram-control/hot_add`` and""")
    assert not HOT_ADD.search('''"""hot_add until the kernel hands out a number''')
    assert not HOT_ADD.search("""echo 3 > /sys/class/zram-control/hot_remove""")
    assert not HOT_ADD.search("""load it with 'modprobe zram' (no /sys/class/zram-control)""")


def test_a_name_split_into_adjacent_literals_is_found(tmp_path: Path) -> None:
    split = tmp_path / "split.py"
    split.write_text(
        "from pathlib import Path\n"
        "CONTROL = Path('/sys/class/zram-control')\n"
        'n = (CONTROL / "hot_" "add").read_text()\n'
        "m = Path('/sys/class/zram-control/hot'\n"
        "         '_add').read_text()\n"
    )
    assert _adds(split) == [3, 4]
    joined_apart = tmp_path / "apart.py"
    joined_apart.write_text('a = ("hot_", "add")\nb = "hot_" "add_zram"\n')
    assert _adds(joined_apart) == []
