"""Every action on a backend, once: the table the roles, the pages, the API and the worker
read. A new action is one entry here, its handler in ``core/handlers.py``, its body
serializer in ``api/serializers.py`` and its parameters' checks in
``services._clean_action_params``; nothing else lists actions.

Names are strings (a role's group name, a dotted path), not imports: this module sits below
everything that reads it, so that any of them may import it at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Confirm = Literal["never", "when forced", "always"]


@dataclass(frozen=True)
class BackendAction:
    #: The job's kind, the role map's key and the page's URL part (``burn_in``).
    name: str
    #: The button's word.
    label: str
    #: What it does, in one sentence: the API's description of its endpoint.
    summary: str
    #: The least role that may ask it: a group name of ``roles.GROUPS``.
    role: Literal["operator", "admin"]
    #: The API's body serializer: a class of ``swapadmin/api/serializers.py``, by name.
    body: str
    #: The worker's handler: a function of ``core/handlers.py``, by name.
    handler: str
    #: The API's URL part for ``POST /backends/{uuid}/<api_path>/``; None when the API asks
    #: it another way (destroy is ``DELETE /backends/{uuid}/``).
    api_path: str | None
    #: Whether the user types the backend's name to confirm: never, only with ``force``, or
    #: always (it loses something). The pages send such an action through its confirm page.
    confirm: Confirm = "never"
    #: It only reads, so it runs beside whatever job holds the backend (never a 409).
    reads_only: bool = False


BACKEND_ACTIONS: tuple[BackendAction, ...] = (
    BackendAction(
        "provision",
        "Provision",
        "Provision again: take the store and write the swap header. For a backend whose "
        "first provision was refused; force (with the name typed) overwrites what the store "
        "holds, and applies to the device the first attempt found.",
        "admin",
        "ProvisionSerializer",
        "provision",
        "provision",
        confirm="when forced",
    ),
    BackendAction(
        "activate",
        "Activate",
        "swapon, with the backend's priority (or the one given) and discard policy.",
        "operator",
        "ActivateSerializer",
        "activate",
        "activate",
    ),
    BackendAction(
        "deactivate",
        "Deactivate",
        "swapoff, refused when the RAM left could not take the area's pages (unless forced).",
        "operator",
        "ForceSerializer",
        "deactivate",
        "deactivate",
        confirm="when forced",
    ),
    BackendAction(
        "scan",
        "Scan",
        "Write and read back test patterns over an inactive area; bad pages are recorded.",
        "operator",
        "ScanSerializer",
        "scan",
        "scan",
    ),
    BackendAction(
        "benchmark",
        "Benchmark",
        "Measure page-in and page-out throughput and latency of an inactive area.",
        "operator",
        "BenchmarkSerializer",
        "benchmark",
        "benchmark",
    ),
    BackendAction(
        "burn_in",
        "Burn-in",
        "Make the kernel really swap to this area with a memory hog in a limited cgroup.",
        "operator",
        "BurnInSerializer",
        "burn_in",
        "burn-in",
    ),
    BackendAction(
        "resize",
        "Resize",
        "Grow or shrink a file or zram area, keeping its label and UUID.",
        "admin",
        "ResizeSerializer",
        "resize",
        "resize",
    ),
    BackendAction(
        "persist",
        "Persist",
        "Add (true) or remove (false) the area's fstab line.",
        "admin",
        "PersistSerializer",
        "persist",
        "persist",
    ),
    BackendAction(
        "check",
        "Check",
        "Run the backend's health check now.",
        "operator",
        "EmptySerializer",
        "check",
        "check",
        reads_only=True,
    ),
    BackendAction(
        "destroy",
        "Destroy",
        "Queue the destroy job: deactivate if needed, release the store, remove the file.",
        "admin",
        "ForceSerializer",
        "destroy",
        None,
        confirm="always",
    ),
)

#: The same, by name.
BY_NAME: dict[str, BackendAction] = {a.name: a for a in BACKEND_ACTIONS}
