"""The fleet's totals on the overview follow the samples as they arrive: the database computes
a host's figures (generated columns) from the snapshot in the same write, whoever writes it
(the sampler's own SQL included), so the totals are right after every sample. (Each sample
writes only its own host's row, so there is no shared row whose update could be lost.)"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Host
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.web.fleet import totals

GIB = 1 << 30


def snapshot(swap_total: int, swap_free: int, mem_total: int = 4 * GIB) -> dict[str, Any]:
    return {
        "meminfo": {"mem_total": mem_total, "mem_available": GIB, "swap_total": swap_total,
                    "swap_free": swap_free, "swap_cached": 0},
        "rates": {"pswpin": 3.0, "pswpout": 4.0},
    }  # fmt: skip


def expected(hosts: Any) -> dict[str, Any]:
    """The totals summed the slow way: from every host's snapshot as stored."""
    mem = [h.observed.get("meminfo", {}) for h in hosts]
    return {
        "swap_total": sum(m.get("swap_total", 0) for m in mem),
        "swap_used": sum(max(0, m.get("swap_total", 0) - m.get("swap_free", 0)) for m in mem),
        "mem_total": sum(m.get("mem_total", 0) for m in mem),
    }


def test_a_sample_moves_the_totals(as_user: Any, victor: User, host_row: Host) -> None:
    other = Host.objects.create(
        name="other", observed=snapshot(2 * GIB, GIB), last_heartbeat=timezone.now()
    )
    assert totals()["swap_total"] == 2 * GIB  # testhost has not sampled yet
    take_sample(host_row, Reading())  # this machine's own meminfo, through the sampler
    got = totals()
    assert {k: got[k] for k in ("swap_total", "swap_used", "mem_total")} == expected(
        Host.objects.all()
    )
    assert got["mem_total"] > 4 * GIB  # the sample's RAM was added, not only other's
    assert got["online"] == got["hosts"] == 2
    Host.objects.filter(pk=other.pk).update(observed=snapshot(6 * GIB, 2 * GIB))
    assert totals()["swap_used"] == expected(Host.objects.all())["swap_used"]
    body = as_user(victor).get(reverse("overview")).content.decode()
    assert '<strong data-total="online">2 / 2</strong>' in body


def test_an_odd_figure_counts_as_nothing(host_row: Host) -> None:
    host_row.observed = {"meminfo": {"swap_total": 10**400, "swap_free": "lots"}, "rates": []}
    host_row.save()
    Host.objects.create(name="fine", observed=snapshot(2 * GIB, GIB))
    got = totals()
    assert (got["swap_total"], got["swap_used"]) == (2 * GIB, GIB)
