"""SWAPADMIN_BROKER_OWN_QUEUE_ONLY=True tells an enrolled host's worker not to publish health
events. On a process that serves the control queue it would silence every notification (the
sweep publishes through the same path), so the start is refused with the reason."""

from __future__ import annotations

from pathlib import Path

from .test_check_deploy_is_clean import check_deploy


def test_the_control_plane_refuses_it(tmp_path: Path) -> None:
    for queues in ("control", "control,host"):
        result = check_deploy(
            tmp_path, SWAPADMIN_BROKER_OWN_QUEUE_ONLY="True", SWAPADMIN_WORKER_QUEUES=queues
        )
        assert result.returncode != 0, queues
        assert "is for an enrolled host's worker" in result.stderr, result.stderr[-2000:]


def test_a_hosts_worker_starts_with_it(tmp_path: Path) -> None:
    result = check_deploy(
        tmp_path, SWAPADMIN_BROKER_OWN_QUEUE_ONLY="True", SWAPADMIN_WORKER_QUEUES="host"
    )
    assert result.returncode == 0, result.stderr[-2000:]
