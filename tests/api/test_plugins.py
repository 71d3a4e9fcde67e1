"""plugins/: the installed backend kinds, each with a JSON Schema for its params."""

from __future__ import annotations

from collections.abc import Callable

import jsonschema
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from backends import registry


def test_it_lists_every_installed_kind(victor: User, as_user: Callable[..., APIClient]) -> None:
    r = as_user(victor).get("/api/v1/plugins/")
    assert r.status_code == 200
    assert [p["name"] for p in r.json()] == [cls.name for cls in registry()]


def test_the_file_kind_describes_its_path(victor: User, as_user: Callable[..., APIClient]) -> None:
    plugin = as_user(victor).get("/api/v1/plugins/file/").json()
    assert plugin["takes_size"] is True
    assert plugin["resizable"] is True
    schema = plugin["parameters"]
    assert schema["required"] == ["path"]
    assert schema["properties"]["path"]["type"] == "string"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"path": "/var/lib/swapadmin/swap/s0"}, schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors({"colour": 1}))
    assert errors


def test_an_unknown_kind_is_404(victor: User, as_user: Callable[..., APIClient]) -> None:
    r = as_user(victor).get("/api/v1/plugins/tape/")
    assert r.status_code == 404
    assert "unknown backend kind 'tape'" in r.json()["detail"]
