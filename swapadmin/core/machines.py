"""Which machine this is: a host is its ``/etc/machine-id``, whatever it is called.

Apart from the runner so that the job signatures' check (``core/signing.py``, which
settings.py imports before any model can be) reads the id without importing the runner.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from .models import Host

#: What machine-id(5) holds: 128 bits as 32 hexadecimal digits (systemd writes lower case).
_MACHINE_ID = re.compile(r"[0-9a-fA-F]{32}")


def machine_id() -> str:
    """This machine's ``/etc/machine-id``: what a host is, whatever it is called. Never
    empty: a file that is missing, unreadable, empty or holds no id raises MachineIdError.
    Taken for "no id", it would let the worker register its host as no machine's, and every
    machine calling itself by that name would pass for it (the cloned-VM guard off)."""
    path = Path(settings.SWAPADMIN_MACHINE_ID_FILE)
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        raise MachineIdError(path, "does not exist") from None
    except IsADirectoryError:
        raise MachineIdError(
            path,
            "is a directory (what docker bind-mounts where the host has no such file)",
        ) from None
    except OSError as e:
        raise MachineIdError(path, f"cannot be read: {e.strerror}") from None
    if not text:
        raise MachineIdError(path, "is empty")
    if not _MACHINE_ID.fullmatch(text):
        # "uninitialized" (systemd's first boot on a read-only /etc) is the same on every
        # machine that has it: no more an id than an empty file.
        raise MachineIdError(path, f"holds {text[:40]!r}, not a machine id (32 hex digits)")
    return text


def check_machine(host: Host) -> str:
    """Refuse (HostIdentityError) to act as ``host`` on another machine than the one that
    registered it: a cloned VM, or two machines sharing a hostname; or on a machine whose
    id cannot be read (MachineIdError), which could be any machine. A host no machine has
    registered yet (or one an admin let go with forget-machine) is for the next worker to
    register. Returns this machine's id."""
    try:
        mine = machine_id()
    except MachineIdError as e:
        if not host.machine_id:
            raise
        raise HostIdentityError(
            f"host {host.name} was registered by the machine with id {host.machine_id}; {e}"
        ) from None
    if host.machine_id and host.machine_id != mine:
        raise HostIdentityError(
            f"host {host.name} was registered by the machine with id {host.machine_id}, but "
            f"this machine's id ({settings.SWAPADMIN_MACHINE_ID_FILE}) is "
            f"{mine}: a cloned VM or another machine "
            f"with the same name. Give this worker another SWAPADMIN_HOST, or, if this "
            f"machine replaces the old one, let an admin run: manage.py forget-machine "
            f"{host.name}"
        )
    return mine


class HostIdentityError(Exception):
    """This worker is not on the machine that its host row belongs to, or cannot tell."""


class MachineIdError(HostIdentityError):
    """This machine's id cannot be read: the worker cannot prove which machine it is on."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(
            f"this machine's id file {path} {what}, so this worker cannot tell which machine "
            "it is on and refuses to act as any host. Give the machine an id: run "
            "systemd-machine-id-setup on it (as root). A worker under docker compose mounts "
            f"the host's /etc/machine-id: make sure the host has that file before the "
            "container starts (then recreate the container), or point "
            "SWAPADMIN_MACHINE_ID_FILE at the host's id"
        )
        self.path = path
