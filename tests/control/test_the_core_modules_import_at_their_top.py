"""The worker's job path imports at the top of each module (issue 15, the core knot).

``handlers``, ``runner``, ``sampler`` and ``worker`` used to import one another inside
functions: the sampler needed the worker's orphan settling, the worker the sampler's thread
and the runner, and only a late import kept Python from meeting the cycle. Orphan settling
now lives in ``orphans``, one backend's thorough reading in ``observe``, and the worker's
Celery receivers are connected by ``CoreConfig.ready()``, not as a side effect of importing
the task module. An import left inside a function is listed here with why.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import swapadmin.core

CORE = Path(swapadmin.core.__file__).parent
JOB_PATH = (
    "context",
    "handlers",
    "liveness",
    "machines",
    "observe",
    "orphans",
    "plugins",
    "runner",
    "sampler",
    "signing",
    "tasks",
    "worker",
)
#: settings.py imports ``signing`` (the job signing key) before any model can be imported:
#: its uses of the models, and of ``services`` (which imports them), wait for the call.
BEFORE_THE_APPS = (".models", ".services")
#: (module, imported module) -> why it is imported where it is used.
LATE = {
    ("sampler", "django.db.backends.postgresql.base"): (
        "PostgreSQL only: an install on SQLite alone may have no psycopg"
    ),
    ("sampler", "psycopg.types.numeric"): "PostgreSQL only, as above",
    ("tasks", "swapadmin.health.tasks"): (
        "the health app prunes its own rows; core does not depend on it at import"
    ),
    **{("signing", name): "settings.py imports it, before the apps" for name in BEFORE_THE_APPS},
}


def late_imports(module: str) -> set[tuple[str, str]]:
    """Every (module, imported module) that ``module`` imports inside a function, with an
    import statement or by name (``importlib.import_module``, ``__import__``)."""
    tree = ast.parse((CORE / f"{module}.py").read_text())
    found: set[tuple[str, str]] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                found.update((module, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                found.add((module, name))
            elif isinstance(node, ast.Call) and _imports_by_name(node.func):
                arg = node.args[0] if node.args else None
                named = arg.value if isinstance(arg, ast.Constant) else "<computed>"
                found.add((module, str(named)))
    return found


def _imports_by_name(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


@pytest.mark.parametrize("module", JOB_PATH)
def test_a_job_path_module_imports_nothing_inside_a_function_unless_listed(module: str) -> None:
    unlisted = late_imports(module) - LATE.keys()
    assert not unlisted, (
        f"swapadmin/core/{module}.py imports {sorted(name for _, name in unlisted)} inside a "
        "function: import it at the top, or list it in LATE with why"
    )


def test_every_listed_late_import_is_still_there() -> None:
    every = set().union(*(late_imports(m) for m in JOB_PATH))
    assert LATE.keys() <= every, f"stale LATE entries: {sorted(LATE.keys() - every)}"


def test_the_scan_sees_an_import_inside_a_function(tmp_path: Path, monkeypatch) -> None:
    # The check above can fail: a module with a late import is reported.
    (tmp_path / "knotted.py").write_text(
        "import importlib\n"
        "def settle():\n    from .worker import settle_orphans\n    return settle_orphans\n"
        "class Check:\n"
        "    def run(self):\n"
        "        return importlib.import_module('swapadmin.health.checks')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "CORE", tmp_path)
    assert late_imports("knotted") == {
        ("knotted", ".worker"),
        ("knotted", "swapadmin.health.checks"),
    }


def test_setting_django_up_connects_the_workers_receivers_without_the_task_module() -> None:
    # A worker's receivers must be connected before it builds its consumers; Celery's Django
    # fixup sets Django up first, so django.setup() alone must connect them.
    probe = (
        "import sys, weakref, django\n"
        "django.setup()\n"
        "from celery import signals\n"
        "def name(r):\n"
        "    # A weak entry is dereferenced; a strong one is the function itself: never called.\n"
        "    f = r() if isinstance(r, weakref.ReferenceType) else r\n"
        "    return getattr(f, '__qualname__', repr(f))\n"
        "names = {\n"
        "    signal: sorted(name(r[1]) for r in getattr(signals, signal).receivers)\n"
        "    for signal in ('celeryd_after_setup', 'worker_init', 'worker_ready',\n"
        "                   'worker_shutdown', 'task_prerun', 'task_postrun')\n"
        "}\n"
        "print(repr(names))\n"
        "print('swapadmin.core.tasks' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "swapadmin.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=CORE.parent.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    receivers = ast.literal_eval(out[-2])
    assert "_add_host_queue" in receivers["celeryd_after_setup"]
    assert "_only_the_host_queue" in receivers["worker_init"]
    assert "_on_worker_ready" in receivers["worker_ready"]
    assert "_on_worker_shutdown" in receivers["worker_shutdown"]
    assert "_reuse_connections" in receivers["task_prerun"]
    assert "_reuse_connections" in receivers["task_postrun"]
    assert out[-1] == "False", "the task module was imported: the receivers came with it"
