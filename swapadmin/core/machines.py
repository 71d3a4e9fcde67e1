"""Which machine this is: a host is its ``/etc/machine-id``, whatever it is called.

Apart from the runner so that the job signatures' check (``core/signing.py``, which
settings.py imports before any model can be) reads the id without importing the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from .models import Host


def machine_id() -> str:
    """This machine's ``/etc/machine-id``: what a host is, whatever it is called."""
    try:
        return Path(settings.SWAPADMIN_MACHINE_ID_FILE).read_text().strip()
    except OSError:
        return ""


def check_machine(host: Host) -> None:
    """Refuse (HostIdentityError) to act as ``host`` on another machine than the one that
    registered it: a cloned VM, or two machines sharing a hostname."""
    mine = machine_id()
    if host.machine_id and host.machine_id != mine:
        raise HostIdentityError(
            f"host {host.name} was registered by the machine with id {host.machine_id}, but "
            f"this machine's id ({settings.SWAPADMIN_MACHINE_ID_FILE}) is "
            f"{mine or 'missing or empty'}: a cloned VM or another machine "
            f"with the same name. Give this worker another SWAPADMIN_HOST, or, if this "
            f"machine replaces the old one, let an admin run: manage.py forget-machine "
            f"{host.name}"
        )


class HostIdentityError(Exception):
    """This worker is not on the machine that its host row belongs to."""
