"""Real text saved from a Debian 12 VM (kernel 6.18), and a helper to make real swap files.

The saved files are what the kernel printed, with only the temporary directory renamed.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent


def sample(name: str) -> str:
    return (HERE / name).read_text()


def make_swapfile(where: Path, name: str = "area.swap", size: str = "40M") -> Path:
    """A fully allocated 0600 file formatted by util-linux mkswap."""
    path = where / name
    subprocess.run(["fallocate", "-l", size, str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)
    return path


@contextlib.contextmanager
def swapped_off_after(path: Path | str) -> Iterator[None]:
    """Whatever the test does, ``path`` is not active afterwards."""
    try:
        yield
    finally:
        subprocess.run(["swapoff", str(path)], capture_output=True, check=False)
