"""persist_tunables writes a sysctl.d file that sysctl accepts and swapadmin reads back, and
never replaces or removes a file it did not write."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends import tunables
from backends.errors import UnsafeError, ValidationError
from tests.fixtures.host import needs_root

T = tunables.Tunables(
    swappiness=35,
    page_cluster=2,
    zswap_enabled=True,
    zswap_compressor="lzo",
    zswap_max_pool_percent=15,
)


def test_it_writes_and_reads_back(scratch: Path) -> None:
    path = scratch / "90-swapadmin.conf"
    tunables.persist_tunables(path, T)
    text = path.read_text()
    assert "vm.swappiness = 35\n" in text and "vm.page-cluster = 2\n" in text
    assert "zswap.enabled=1 zswap.compressor=lzo zswap.max_pool_percent=15" in text
    assert path.stat().st_mode & 0o777 == 0o644
    assert tunables.read_persisted(path) == {
        "vm.swappiness": "35",
        "vm.page-cluster": "2",
        "zswap.enabled": "Y",
        "zswap.compressor": "lzo",
        "zswap.max_pool_percent": "15",
    }
    # What was read back is valid input for apply_tunables.
    assert tunables.clean_changes(tunables.read_persisted(path)) == {
        "swappiness": 35,
        "page_cluster": 2,
        "zswap_compressor": "lzo",
        "zswap_max_pool_percent": 15,
        "zswap_enabled": True,
    }


@pytest.mark.root
@needs_root
def test_sysctl_accepts_the_file(scratch: Path) -> None:
    # The values in force, so loading the file with sysctl changes nothing on the host.
    path = scratch / "90-swapadmin.conf"
    tunables.persist_tunables(path, tunables.read_tunables())
    done = subprocess.run(["sysctl", "-p", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_it_replaces_its_own_file_and_removes_it(scratch: Path) -> None:
    path = scratch / "90-swapadmin.conf"
    tunables.persist_tunables(path, T)
    tunables.persist_tunables(path, tunables.Tunables(10, 3, None, None, None))
    assert "swapadmin-zswap" not in path.read_text()
    assert tunables.remove_persisted(path)
    assert not path.exists()
    assert not tunables.remove_persisted(path)


def test_it_leaves_a_file_it_did_not_write(scratch: Path) -> None:
    path = scratch / "99-local.conf"
    path.write_text("vm.swappiness = 1\n")
    with pytest.raises(UnsafeError, match="not written by swapadmin"):
        tunables.persist_tunables(path, T)
    with pytest.raises(UnsafeError, match="not written by swapadmin"):
        tunables.remove_persisted(path)
    assert path.read_text() == "vm.swappiness = 1\n"


def test_it_refuses_to_persist_bad_values(scratch: Path) -> None:
    path = scratch / "90-swapadmin.conf"
    with pytest.raises(ValidationError, match="from 0 to 200"):
        tunables.persist_tunables(path, tunables.Tunables(300, 3, None, None, None))
    assert not path.exists()
