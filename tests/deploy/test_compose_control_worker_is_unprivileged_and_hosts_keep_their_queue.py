"""In docker-compose.yml the control queue has a worker of its own, unprivileged (uid 10001,
no devices, not the host's PID namespace) with the signing key, and the host's worker
serves its own queue only: the split that lets a host's broker user reach one queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_control_worker_is_unprivileged() -> None:
    control = services()["control"]
    assert control["user"] == "10001"
    assert not control.get("privileged", False) and "pid" not in control
    assert not any("/dev" in v for v in control.get("volumes", []))
    assert control["environment"]["SWAPADMIN_WORKER_QUEUES"] == "control"
    assert control["secrets"] == ["job-signing-key"]
    assert "-Q" not in control["command"].split()


def test_the_hosts_worker_serves_its_queue_only() -> None:
    assert services()["worker"]["environment"]["SWAPADMIN_WORKER_QUEUES"] == "host"
