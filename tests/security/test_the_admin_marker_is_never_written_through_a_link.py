"""runall runs ``ensureadmin`` as root in a data directory that belongs to the account web
and beat run as. A link planted as its first-start marker must not make root create a file
where it points (``/etc/nologin`` would lock everyone out): the marker is made with
O_EXCL|O_NOFOLLOW, and a link where it should be counts as "done"."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


def test_a_planted_link_is_not_followed(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "nologin"
    target.parent.mkdir()
    (data_dir / "admin-created").symlink_to(target)
    call_command("ensureadmin")
    assert not target.exists()
    assert not User.objects.filter(username="admin").exists()


def test_the_first_start_makes_the_admin_and_a_0600_marker(data_dir: Path) -> None:
    call_command("ensureadmin")
    marker = data_dir / "admin-created"
    assert marker.read_text() == "created\n"
    assert marker.stat().st_mode & 0o777 == 0o600
    assert User.objects.filter(username="admin").exists()
