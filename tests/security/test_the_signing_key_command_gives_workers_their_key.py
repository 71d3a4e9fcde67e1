"""`manage.py signing-key --public` prints, where jobs are created, the one line a host's
worker.env needs; a worker holding only that line accepts what this process signs.
`--generate PATH` makes a private key readable by its owner alone, and never over a file."""

from __future__ import annotations

import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from swapadmin.core import signing
from swapadmin.core.models import Host, Job

pytestmark = pytest.mark.django_db


def public_line() -> str:
    out = StringIO()
    call_command("signing-key", "--public", stdout=out)
    name, _, value = out.getvalue().strip().partition("=")
    assert name == "SWAPADMIN_VERIFY_KEY"
    return value


def test_a_worker_with_the_printed_line_accepts_what_is_signed_here(settings):
    line = public_line()
    assert "PRIVATE" not in line and "\n" not in line
    host = Host.objects.create(name="a")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host)
    assert signing.sign_job(job.pk)

    settings.SWAPADMIN_SIGNING_KEY = ""  # a host's worker: the public line, nothing else
    settings.SWAPADMIN_VERIFY_KEY = line
    fresh = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    signing.verify(fresh, host_name="a", machine_id="", db_now=timezone.now())


def test_without_a_signing_key_it_says_what_to_set(settings):
    settings.SWAPADMIN_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="SWAPADMIN_SIGNING_KEY_FILE"):
        public_line()


def test_generate_writes_0600_and_never_overwrites(tmp_path):
    path = tmp_path / "key.pem"
    call_command("signing-key", "--generate", str(path), stdout=StringIO())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing._private_key(path.read_text()) is not None
    before = path.read_bytes()
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("signing-key", "--generate", str(path), stdout=StringIO())
    assert path.read_bytes() == before
