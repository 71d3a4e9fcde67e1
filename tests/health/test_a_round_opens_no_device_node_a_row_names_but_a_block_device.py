"""A round runs on an unsigned message and reads the backend rows as they stand. A loop or
zram row names its device in ``state["device"]``, which the probes open: a row pointed at
a FIFO would block the worker's round for good (and a character device's driver runs on
open: a watchdog is armed by it). Only a block device is opened; anything else is
reported as the plugin's failure, and the round carries on."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest
from django.db import connection

from swapadmin.core.models import Backend
from swapadmin.health.checks import check_backend
from swapadmin.health.probes import Thresholds

pytestmark = [pytest.mark.root, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["scratch", "dev"])
def fifo(request, scratch: Path):
    where = scratch if request.param == "scratch" else Path("/dev/shm")
    path = where / f"swapadmin-test-{uuid.uuid4().hex}"
    os.mkfifo(path, 0o600)
    yield path
    # Whatever still waits to open it for reading is let go, then the FIFO removed.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        pass
    else:
        os.close(fd)
    path.unlink()


def test_a_loop_row_pointed_at_a_fifo_is_not_opened(make_file_backend, fifo):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE)
    state = {**backend.state, "device": str(fifo)}
    Backend.objects.filter(pk=backend.pk).update(kind="loop", state=state)
    backend.refresh_from_db()

    done = threading.Event()
    out = {}

    def look() -> None:
        try:
            th = Thresholds.from_settings()
            out["result"], _ = check_backend(backend.host, backend, th, None)
        finally:
            connection.close()  # this thread's own
            done.set()

    threading.Thread(target=look, daemon=True).start()
    assert done.wait(30), "the round blocked opening the FIFO the row names"
    plugin = next(f for f in out["result"].findings if f["check"] == "plugin")
    assert plugin["status"] == "fail"
    assert str(fifo) in plugin["message"] and "nothing was opened" in plugin["message"]
