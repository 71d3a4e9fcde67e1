"""What pyproject.toml cannot say: uswapd, the daemon this kind's pages pass through, is
compiled into the package at build time with Debian's compiler, so that
``importlib.resources.files("swapadmin_userspace") / "uswapd"`` finds it. A compile error
fails the build, and so the install and ``make``: a kind without its daemon would refuse
every provision at the worst moment instead."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

SOURCE = os.path.join("src", "swapadmin_userspace", "uswapd.c")
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]
# Built outside the source tree: the repository ignores only its top-level build/.
BUILD_BASE = tempfile.mkdtemp(prefix="swapadmin-userspace-build-")
atexit.register(shutil.rmtree, BUILD_BASE, ignore_errors=True)


class BuildWithDaemon(build_py):
    """build_py, then ``cc`` of uswapd.c into the built package."""

    def run(self) -> None:
        super().run()
        out_dir = os.path.join(self.build_lib, "swapadmin_userspace")
        os.makedirs(out_dir, exist_ok=True)
        target = os.path.join(out_dir, "uswapd")
        argv = [os.environ.get("CC", "cc"), *CFLAGS, "-o", target, SOURCE]
        self.announce(" ".join(argv), level=2)
        subprocess.run(argv, check=True)
        os.chmod(target, 0o755)


class BinaryDistribution(Distribution):
    """The wheel holds a machine binary: tagged for this platform, never pure."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    cmdclass={"build_py": BuildWithDaemon},
    distclass=BinaryDistribution,
    options={"build": {"build_base": BUILD_BASE}},
)
