"""The policy comes from the worker's own environment, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.policy import Policy


def test_it_reads_colon_separated_roots() -> None:
    policy = Policy.from_env({"SWAPADMIN_SWAP_ROOTS": "/srv/a:/srv/b"})
    assert policy.swap_roots == (Path("/srv/a"), Path("/srv/b"))


def test_it_defaults_to_var_lib() -> None:
    assert Policy.from_env({}).swap_roots == (Path("/var/lib/swapadmin/swap"),)


def test_it_refuses_a_relative_root() -> None:
    with pytest.raises(ValueError, match="'swap' is not an absolute path"):
        Policy.from_env({"SWAPADMIN_SWAP_ROOTS": "swap"})
