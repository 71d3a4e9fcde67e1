"""What "forced" means is one function, ``signing.forced``, read by the signature
(``spec_for``), the runner (the plugin's force) and swapoff (the RAM check): exactly ``True``.
A row's ``1`` or ``"true"``, which the request side never writes, is signed as no force, and
so must not force the worker either."""

from __future__ import annotations

from typing import Any

import pytest

from swapadmin.core import signing


@pytest.mark.parametrize(
    ("params", "forced"),
    [
        ({"force": True}, True),
        ({"force": False}, False),
        ({}, False),
        ({"force": 1}, False),
        ({"force": "true"}, False),
        ({"force": [True]}, False),
        ([("force", True)], False),  # not an object: signed as "(not an object)"
        (None, False),
    ],
)
def test_only_true_forces(params: Any, forced: bool) -> None:
    assert signing.forced(params) is forced


def test_the_readers_read_it_through_the_one_function() -> None:
    # The runner and swapoff read force through signing.forced, as the signature does: no
    # reader of its own that could drift (as bool(force) once did in the runner).
    import inspect

    from swapadmin.core import handlers, runner

    for module in (runner, handlers):
        source = inspect.getsource(module)
        assert 'params.get("force")' not in source, module.__name__
        assert "signing.forced(" in source, module.__name__
