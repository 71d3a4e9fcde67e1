"""What a host's database role is granted: exactly what its worker does, on the tables
whose rows migration 0002 limits to the role's own host.

Found by reading the worker's side (core/worker.py, runner.py, handlers.py, sampler.py,
observe.py, orphans.py, liveness.py, signing.py's refusal, health/checks.py,
repair.py): it reads and refreshes
its own Host row, creates, changes and deletes its backends (adopt, destroy: Django
deletes a backend's health rows and clears its jobs' link itself), claims and updates its
jobs and queues repairs, and writes samples, check results, health rows, events and audit
events. Nothing else: no auth, sessions, tokens, beat schedule or alert channels (those
are the control plane's; the worker sends no notification itself, see docs/DEPLOY.md).
"""

from __future__ import annotations

import hashlib

#: The Host columns a worker refreshes (register_host, the sampler's heartbeat): never its
#: name or uuid, which name it to the control plane and to its queue.
HOST_COLUMNS = (
    "kernel_release, page_size, mem_total_bytes, swap_roots, last_heartbeat, "
    "worker_version, machine_id, boot_id, observed, observed_at"
)

GRANTS: dict[str, tuple[str, ...]] = {
    "core_host": ("SELECT", f"UPDATE ({HOST_COLUMNS})"),
    "core_backend": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "core_job": ("SELECT", "INSERT", "UPDATE"),
    # SELECT too: INSERT ... RETURNING (Django's create) reads the new row back.
    "core_auditevent": ("SELECT", "INSERT"),
    "core_sample": ("SELECT", "INSERT"),
    "health_checkresult": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "health_backendhealth": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "health_hosthealth": ("SELECT", "INSERT", "UPDATE"),
    "health_healthevent": ("SELECT", "INSERT", "UPDATE", "DELETE"),
}

#: The function every policy calls (migration 0002).
HOSTS_FUNCTION = "enroll_hosts_of(text)"


def hosts_group(database: str) -> str:
    """The NOLOGIN role that holds ``GRANTS`` for every host role of ``database``. Roles are
    the cluster's, grants the database's: the name is the database's own, so that a host
    role of one swapadmin database is given nothing in another one of the same cluster."""
    return f"swapadmin_hosts_{hashlib.sha256(database.encode()).hexdigest()[:12]}"
