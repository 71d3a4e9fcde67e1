"""Bad values are refused with a message naming them, and nothing is changed, not even the
good values in the same batch."""

from __future__ import annotations

import pytest

from backends import tunables
from backends.errors import ValidationError


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"swappiness": 201}, "vm.swappiness must be a whole number from 0 to 200"),
        ({"swappiness": -1}, "from 0 to 200"),
        ({"swappiness": 1.5}, "from 0 to 200"),
        ({"swappiness": True}, "from 0 to 200"),
        ({"page_cluster": 11}, "vm.page-cluster must be a whole number from 0 to 10"),
        ({"zswap_max_pool_percent": 0}, "from 1 to 100"),
        ({"zswap_max_pool_percent": 101}, "from 1 to 100"),
        ({"zswap_enabled": "maybe"}, "true or false"),
        ({"zswap_compressor": "nonesuch"}, "not offered by this kernel"),
        ({"zswap_compressor": "aes"}, "not offered by this kernel"),
        ({"vm.dirty_ratio": 5}, "unknown tunable 'vm.dirty_ratio'"),
        ({"swappiness": 11, "zswap_compressor": "nonesuch"}, "nonesuch"),
    ],
)
def test_it_refuses_and_changes_nothing(changes: dict[str, object], message: str) -> None:
    before = tunables.read_tunables()
    with pytest.raises(ValidationError, match=message):
        tunables.apply_tunables(changes)
    assert tunables.read_tunables() == before
