"""The worker runs each backend action with the handler of the app the action table names
(issue 15, the core knot): core's are the functions of ``core/handlers.py`` named for the
action; the health app registers ``check`` from its ``AppConfig.ready()``, so core no longer
imports a health module by name when a check job runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

import swapadmin.core
from swapadmin.core import actions, handlers
from swapadmin.health import checks

MODULES = {"core": "swapadmin.core.handlers", "health": "swapadmin.health.checks"}


@pytest.mark.parametrize("spec", actions.BACKEND_ACTIONS, ids=lambda s: s.name)
def test_each_action_runs_with_the_handler_of_the_app_the_table_names(
    spec: actions.BackendAction,
) -> None:
    handler = handlers.HANDLERS[spec.name]
    assert (handler.__module__, handler.__name__) == (MODULES[spec.handled_by], spec.name)


def test_check_is_the_health_apps() -> None:
    assert actions.BY_NAME["check"].handled_by == "health"
    assert handlers.HANDLERS["check"] is checks.check


def test_a_second_handler_for_a_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(handlers.HANDLERS, "check", checks.check)

    def check(ctx: object) -> dict[str, object]:
        return {}

    with pytest.raises(ImproperlyConfigured, match="already handled by swapadmin.health"):
        handlers.register("check", check)
    assert handlers.HANDLERS["check"] is checks.check
    handlers.register("check", checks.check)  # the same one again: ready() run twice


#: The modules that run a job on the worker.
JOB_RUNNERS = (
    "context",
    "handlers",
    "observe",
    "orphans",
    "plugins",
    "runner",
    "sampler",
    "worker",
)


@pytest.mark.parametrize("module", JOB_RUNNERS)
def test_the_job_path_names_no_health_module(module: str) -> None:
    # The knot the registration unties: handlers.check imported swapadmin.health.checks by
    # its name, as a string, when a check job ran.
    path = Path(swapadmin.core.__file__).parent / f"{module}.py"
    named = [
        node.value if isinstance(node, ast.Constant) else node.module
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Constant) and str(node.value).startswith("swapadmin.health"))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("swapadmin.health"))
    ]
    assert named == [], f"swapadmin/core/{module}.py names {named}"
