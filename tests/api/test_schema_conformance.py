"""A schemathesis run against /api/schema/ on a real server on loopback, with an admin token.

Every operation gets generated requests, valid and invalid (a bounded number); no answer may
be a 5xx, every answer's status code must be one the schema documents, and its body and
headers must match what the schema says for that code. Then the answers that random ids and
an admin's token cannot reach (200 on an object, 202 with a job, 409 with the holder; 401,
403, 406 and 415 on every operation that can give them) are checked against the schema too.

Host safety: the Host row's swap roots are the test's own, its name is unique (so its queue
is one nobody consumes) and no worker runs here, so an accepted job only stays queued.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import not_a_server_error
from schemathesis.models import APIOperation
from schemathesis.runner import events
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from swapadmin.core import services
from swapadmin.core.models import Backend, Host, Job
from tests.fixtures.tokens import token_for

from .conftest import PAGE

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def load_schema(api_server: str, token: str, **options: Any) -> Any:
    return schemathesis.from_uri(
        f"{api_server}/api/schema/", base_url=api_server, headers=auth(token), **options
    )


@pytest.fixture
def schema_host(transactional_db: None, swap_root: Path) -> Any:
    host = Host.objects.create(
        name=f"schema-{uuid.uuid4().hex[:8]}",
        swap_roots=[str(swap_root)],
        last_heartbeat=timezone.now(),
    )
    yield host
    url = os.environ.get("REDIS_URL")
    if url:  # what the server dispatched for this host goes with it
        redis.Redis.from_url(url, socket_timeout=2).delete(host.queue)


def too_long_for_gunicorn(check: Any) -> bool:
    """A generated query string can outgrow the request line gunicorn reads (4094 bytes):
    gunicorn answers 414 itself, before Django or the schema are involved, as any server in
    front of an API would. Every other status is the API's and must be in the schema."""
    response = check.response
    return (
        response is not None
        and response.status_code == 414
        and len(check.request.uri) > 4000
        and check.name == "status_code_conformance"
    )


def test_generated_requests_get_no_5xx_and_match_the_schema(
    api_server: str, alice: User, schema_host: Host, swap_root: Path
) -> None:
    token = token_for(alice)
    Backend.objects.create(
        host=schema_host, kind="file", name="fuzzed", size_bytes=64 * PAGE,
        params={"path": str(swap_root / "fuzzed")},
    )  # fmt: skip
    # Invalid data too: a bad filter value, limit or id must be an answer the schema names.
    schema = load_schema(api_server, token, data_generation_methods=list(DataGenerationMethod))
    runner = schemathesis.runner.from_schema(
        schema,
        checks=CHECKS,
        headers=auth(token),
        # The token is sent on every request; generated Authorization or Cookie values would
        # only test gunicorn's header parser (it answers malformed ones with its own 400).
        generation_config=schemathesis.GenerationConfig(with_security_parameters=False),
        hypothesis_settings=settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
        request_timeout=10_000,
    )
    problems: list[str] = []
    operations = 0
    codes: set[int] = set()
    for event in runner.execute():
        if isinstance(event, events.AfterExecution):
            operations += 1
            result = event.result
            for check in result.checks:
                if check.response is not None:
                    codes.add(check.response.status_code)
                if check.value.name == "failure" and not too_long_for_gunicorn(check):
                    where = (
                        f"{check.request.method} {check.request.uri} -> "
                        f"{check.response.status_code if check.response else '?'} "
                        f"{check.response.headers.get('Content-Type') if check.response else ''}"
                    )
                    problems.append(
                        f"{result.verbose_name}: {check.name}: {check.message} [{where}]"
                    )
            for error in result.errors:
                problems.append(f"{result.verbose_name}: error: {error.exception}")
        elif isinstance(event, events.InternalError):
            problems.append(f"schemathesis: {event.message}: {event.exception}")
    assert operations >= 20, f"only {operations} operations ran"
    if problems:
        pytest.fail("\n".join(sorted(set(problems))[:40]), pytrace=False)
    assert codes >= {200, 400, 404}, f"the run never reached a refusal: {sorted(codes)}"
    # Nothing the run sent could make real swap: at most rows, and files only by a worker.
    assert list(swap_root.iterdir()) == []


def test_real_answers_match_the_schema(
    api_server: str, alice: User, schema_host: Host, swap_root: Path
) -> None:
    token = token_for(alice)
    headers = auth(token)
    schema = load_schema(api_server, token)
    backend = Backend.objects.create(
        host=schema_host, kind="file", name="real", size_bytes=64 * PAGE,
        params={"path": str(swap_root / "real")}, provisioned_at=timezone.now(),
    )  # fmt: skip
    seen: list[tuple[str, int]] = []

    def call(path: str, method: str, status: int, **kw: Any) -> Any:
        case = schema[path][method].make_case(**kw)
        response = case.call(headers=headers)
        assert response.status_code == status, (path, response.text)
        case.validate_response(response, checks=CHECKS)
        seen.append((f"{method} {path}", status))
        return response.json()

    b = {"uuid": str(backend.uuid)}
    h = {"uuid": str(schema_host.uuid)}
    created = call("/api/v1/backends/", "POST", 202, body={
        "host": str(schema_host.uuid), "kind": "file", "name": "made", "size_bytes": 64 * PAGE,
        "params": {"path": str(swap_root / "made")},
    })  # fmt: skip
    call("/api/v1/backends/", "POST", 400, body={"host": str(schema_host.uuid), "kind": "x",
                                                 "name": "y"})  # fmt: skip
    job = call("/api/v1/backends/{uuid}/scan/", "POST", 202, path_parameters=b, body={})
    call("/api/v1/backends/{uuid}/activate/", "POST", 409, path_parameters=b, body={})
    check = call("/api/v1/backends/{uuid}/check/", "POST", 202, path_parameters=b)
    call("/api/v1/jobs/{uuid}/", "GET", 200, path_parameters={"uuid": job["id"]})
    call("/api/v1/jobs/{uuid}/cancel/", "POST", 200, path_parameters={"uuid": job["id"]})
    call("/api/v1/jobs/{uuid}/cancel/", "POST", 200, path_parameters={"uuid": job["id"]})
    Job.objects.filter(uuid=check["id"]).update(state=Job.State.SUCCEEDED)
    call("/api/v1/jobs/{uuid}/cancel/", "POST", 409, path_parameters={"uuid": check["id"]})
    # Never provisioned: a 409 whose ``job`` is null and whose detail says why.
    refused = call("/api/v1/backends/{uuid}/scan/", "POST", 409,
                   path_parameters={"uuid": created["backend"]}, body={})  # fmt: skip
    assert refused["job"] is None and "no store proven" in refused["detail"]
    call("/api/v1/backends/{uuid}/", "DELETE", 409, path_parameters={"uuid": created["backend"]})
    call("/api/v1/backends/{uuid}/", "DELETE", 202, path_parameters=b)
    call("/api/v1/backends/{uuid}/", "GET", 200, path_parameters=b)
    call("/api/v1/backends/", "GET", 200)
    call("/api/v1/hosts/{uuid}/", "GET", 200, path_parameters=h)
    call("/api/v1/hosts/{uuid}/tune/", "POST", 202, path_parameters=h, body={"swappiness": 10})
    call("/api/v1/hosts/{uuid}/discover/", "POST", 202, path_parameters=h)
    call("/api/v1/hosts/{uuid}/discover/", "POST", 409, path_parameters=h)
    call("/api/v1/jobs/", "GET", 200)
    events_ = call("/api/v1/audit/", "GET", 200)
    call("/api/v1/audit/{uuid}/", "GET", 200, path_parameters={"uuid": events_["results"][0]["id"]})
    call("/api/v1/plugins/", "GET", 200)
    call("/api/v1/plugins/{name}/", "GET", 200, path_parameters={"name": "file"})
    call("/api/v1/plugins/{name}/", "GET", 404, path_parameters={"name": "tape"})
    assert {code for _, code in seen} == {200, 202, 400, 404, 409}
    assert list(swap_root.iterdir()) == []


#: Bodies that pass validation, for the operations that check their body before the object.
VALID_BODIES = {
    "/api/v1/hosts/{uuid}/tune/": {"swappiness": 10},
    "/api/v1/backends/{uuid}/resize/": {"size_bytes": 128 * PAGE},
}
#: The one change that reads no body: a form body cannot be refused there.
READS_NO_BODY = {"/api/v1/jobs/{uuid}/cancel/"}
#: Changes a viewer may make: their own API tokens (a token acts with its owner's role).
VIEWERS_MAY = {"/api/v1/tokens/", "/api/v1/tokens/{uuid}/"}


def test_every_operation_documents_its_refusals(
    api_server: str,
    alice: User,
    victor: User,
    nora: User,
    schema_host: Host,
    swap_root: Path,
) -> None:
    """401 (no token, a bad one), 403 (no role; a viewer changing anything), 404 (an unknown
    or malformed id), 406 (an Accept the API cannot write) and 415 (a body that is not JSON),
    on every operation that can give them: documented, with the body the schema says."""
    token = {u.username: token_for(u) for u in (alice, victor, nora)}
    backend = Backend.objects.create(
        host=schema_host, kind="file", name="kept", size_bytes=64 * PAGE,
        params={"path": str(swap_root / "kept")}, provisioned_at=timezone.now(),
    )  # fmt: skip
    job = services.request_action(backend, "scan", services.Actor(alice, Job.Via.API, None))
    real = {"hosts": schema_host.uuid, "backends": backend.uuid, "jobs": job.uuid}
    jobs_before = Job.objects.count()
    schema = load_schema(api_server, token["alice"])
    problems: list[str] = []
    seen: set[int] = set()

    def expect(
        op: APIOperation, status: int, headers: dict[str, str], ids: dict[str, str], **kw: Any
    ) -> None:
        body = VALID_BODIES.get(op.path)
        case = op.make_case(path_parameters=ids, **({} if body is None else {"body": body}))
        response = case.call(headers=headers, **kw)
        where = f"{op.verbose_name} {headers.get('Accept', '')} -> {response.status_code}"
        if response.status_code != status:
            problems.append(f"{where}, not {status}: {response.text[:200]}")
            return
        seen.add(status)
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as e:
            problems.append(f"{where}: {e}")

    for op in [result.ok() for result in schema.get_all_operations()]:
        names = [p.name for p in op.path_parameters]
        collection = op.path.split("/")[3]
        ids = {n: str(real.get(collection, "file" if n == "name" else uuid.uuid4())) for n in names}
        changes = op.method.upper() != "GET"
        expect(op, 401, {}, ids)
        expect(op, 401, auth("0" * 40), ids)
        expect(op, 403, auth(token["nora"]), ids)
        if changes and op.path not in VIEWERS_MAY:
            expect(op, 403, auth(token["victor"]), ids)
        expect(op, 406, {**auth(token["alice"]), "Accept": "application/xml"}, ids)
        for unknown in ("not-an-id", str(uuid.uuid4())) if names else ():
            expect(op, 404, auth(token["alice"]), {n: unknown for n in names})
        if changes and op.path not in READS_NO_BODY:
            form = {**auth(token["alice"]), "Content-Type": "application/x-www-form-urlencoded"}
            expect(op, 415, form, ids, data="force=true")

    if problems:
        pytest.fail("\n".join(problems[:40]), pytrace=False)
    assert seen == {401, 403, 404, 406, 415}
    # Every one was refused before it changed anything.
    assert Job.objects.count() == jobs_before
    assert list(swap_root.iterdir()) == []
