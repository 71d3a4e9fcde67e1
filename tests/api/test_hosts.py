"""hosts/: read and filter; POST hosts/{id}/discover/ and tune/ queue host jobs (admin)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Host, Job


def test_it_lists_hosts_with_their_state(
    victor: User, host_row: Host, as_user: Callable[..., APIClient]
) -> None:
    Host.objects.create(name="other")
    client = as_user(victor)
    r = client.get("/api/v1/hosts/")
    assert [h["name"] for h in r.json()["results"]] == ["other", "testhost"]
    r = client.get("/api/v1/hosts/?name=testhost")
    [row] = r.json()["results"]
    assert row["id"] == str(host_row.uuid)
    assert row["online"] is True
    assert row["mem_total_bytes"] == 8 << 30
    assert row["url"].endswith(f"/api/v1/hosts/{host_row.uuid}/")
    assert client.get("/api/v1/hosts/?name__contains=OTH").json()["count"] == 1
    assert client.get("/api/v1/hosts/?ordering=-name").json()["results"][0]["name"] == "testhost"


def test_discover_queues_a_host_job(
    alice: User, host_row: Host, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(alice)
    r = client.post(f"/api/v1/hosts/{host_row.uuid}/discover/")
    assert r.status_code == 202
    assert (r.json()["kind"], r.json()["host"], r.json()["backend"]) == (
        "discover", str(host_row.uuid), None,
    )  # fmt: skip
    again = client.post(f"/api/v1/hosts/{host_row.uuid}/discover/")
    assert again.status_code == 409
    assert again.json()["job"]["id"] == r.json()["id"]
    assert Job.objects.count() == 1
    assert AuditEvent.objects.filter(action="discover", outcome="refused").count() == 1


def test_discover_takes_the_paths_to_adopt(
    alice: User, host_row: Host, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(alice)
    url = f"/api/v1/hosts/{host_row.uuid}/discover/"
    bad = client.post(url, {"paths": ["relative/swapfile"]}, format="json")
    assert bad.status_code == 400
    assert "neither an absolute path" in bad.json()["paths"][0]
    assert not Job.objects.exists()
    paths = ["/swapfile", "UUID=0a3407de-014b-458b-b5c1-848e92a327a3"]
    r = client.post(url, {"paths": paths}, format="json")
    assert r.status_code == 202
    assert Job.objects.get().params == {"paths": paths}


def test_tune_passes_only_the_given_tunables(
    alice: User, host_row: Host, as_user: Callable[..., APIClient]
) -> None:
    body = {"swappiness": 30, "zswap_enabled": True, "persist": True}
    r = as_user(alice).post(f"/api/v1/hosts/{host_row.uuid}/tune/", body, format="json")
    assert r.status_code == 202
    assert Job.objects.get().params == body


def test_tune_refuses_bad_values_by_name(
    alice: User, host_row: Host, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(alice)
    r = client.post(f"/api/v1/hosts/{host_row.uuid}/tune/", {"swappiness": 500}, format="json")
    assert r.status_code == 400
    assert "swappiness" in r.json()
    r = client.post(f"/api/v1/hosts/{host_row.uuid}/tune/", {"persist": True}, format="json")
    assert r.status_code == 400
    assert "at least one tunable" in r.json()["non_field_errors"][0]
    assert not Job.objects.exists()


def test_a_missing_host_is_404(alice: User, as_user: Callable[..., APIClient]) -> None:
    client = as_user(alice)
    assert client.get(f"/api/v1/hosts/{uuid.uuid4()}/").status_code == 404
    assert client.post(f"/api/v1/hosts/{uuid.uuid4()}/discover/").status_code == 404
