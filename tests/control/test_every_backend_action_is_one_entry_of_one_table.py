"""Every action on a backend is one entry of ``core.actions.BACKEND_ACTIONS``: its role, its
API endpoint and body, its confirmation, its handler on the worker. Each reader of the table
(the roles, the API, the pages, the worker) knows every entry, and nothing else names an
action the table does not have."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from swapadmin.api import serializers as api_serializers
from swapadmin.api.views import BackendViewSet
from swapadmin.core import actions, roles, services
from swapadmin.core.handlers import HANDLERS
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import Actor

SPECS = actions.BACKEND_ACTIONS


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_each_reader_knows_the_entry(spec: actions.BackendAction) -> None:
    assert spec.name in Job.Kind.values
    assert roles.ACTIONS[spec.name] == roles.GROUPS[spec.role]
    assert HANDLERS[spec.name].__name__ == spec.handler
    assert issubclass(getattr(api_serializers, spec.body), api_serializers.serializers.Serializer)
    if spec.api_path is not None:
        code = "00000000-0000-0000-0000-000000000000"
        url = reverse(f"api:backend-{spec.api_path}", args=[code])
        assert url == f"/api/v1/backends/{code}/{spec.api_path}/"
        assert getattr(BackendViewSet, spec.name).__doc__ == spec.summary
        assert BackendViewSet.role_actions[spec.name] == spec.name


def test_the_schema_describes_each_endpoint(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for spec in SPECS:
        if spec.api_path is None:
            continue
        post = paths[f"/api/v1/backends/{{uuid}}/{spec.api_path}/"]["post"]
        assert post["description"] == spec.summary
        assert ("409" in post["responses"]) is not spec.reads_only, spec.name


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["discover", "tune", "view", "nonsense"])
def test_a_kind_outside_the_table_is_no_action_on_a_backend(kind: str, alice: Any) -> None:
    host = Host.objects.create(name="h", kernel_release="test")
    backend = Backend.objects.create(host=host, kind="file", name="b", params={})
    with pytest.raises(services.InvalidRequest, match="is not an action on a backend"):
        services.request_action(backend, kind, Actor(alice, Job.Via.API))
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_page_refuses_an_action_outside_the_table(client: Any, alice: Any) -> None:
    host = Host.objects.create(name="h", kernel_release="test")
    backend = Backend.objects.create(host=host, kind="file", name="b", params={})
    client.force_login(alice)
    r = client.post(f"/backends/{backend.uuid}/discover/")
    assert r.status_code == 404
    assert not Job.objects.exists()
