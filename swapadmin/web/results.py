"""A finished job's result as a person reads it: a verdict, the figures, a table.

``Job.result`` is the JSON the worker's handler returned (core.handlers; health.checks for a
check), and the API gives it as it is. The job page reads it through ``readable``, with the
reader the job's action table entry names (``result_shown_by``: scan, benchmark, burn-in,
check), or as the plain top-level figures for the rest and for a result without its part.
The page keeps the JSON one click away, so nothing a handler adds later is hidden. Every
read is defensive: a result written by an older worker (a key missing, a number as a
string) is shown as far as it goes, never an error page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends import burnin
from swapadmin.core import actions
from swapadmin.core.models import Job

from .templatetags.swapadmin_ui import iec

#: Bad pages listed on the page; a dying disk can have thousands, and the JSON has them all.
BAD_PAGES_SHOWN = 200

#: The benchmark's phases, in the order pageio runs them.
PHASES = (
    ("seq_write", "Sequential write"),
    ("seq_read", "Sequential read"),
    ("rand_write", "Random write"),
    ("rand_read", "Random read"),
)


@dataclass(frozen=True)
class Verdict:
    status: str  # ok, warn or fail: the classes the health badges use
    text: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Findings:
    title: str
    status: str
    findings: list[dict[str, Any]]


@dataclass
class Readable:
    #: The reader that read it: its action's (scan, benchmark, burn_in, check), or
    #: "figures" for the top-level figures any result has (``other``).
    kind: str
    verdict: Verdict | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    bad_pages: list[int] = field(default_factory=list)
    bad_pages_total: int = 0
    findings: list[Findings] = field(default_factory=list)
    #: The whole result, indented: what the API returns, for the page's <details>.
    json: str = ""


# The worker is another machine, and jsonb keeps any number: 1e400 comes back as a 401-digit
# int, which float() and iec() refuse, and "nan" or "inf" as a string converts. Each reads
# such a figure as 0 (or "—"), so the page shows the rest and the JSON shows what was sent.


def _float(source: dict[str, Any], key: str) -> float:
    try:
        value = float(source.get(key) or 0)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def _int(source: dict[str, Any], key: str) -> int:
    value = source.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 2**63 else 0  # no disk holds more; a bigint's range
    return int(_float(source, key))


def _size(value: Any) -> str:
    """Bytes in IEC units; "—" for anything that is no finite number of bytes."""
    number = _float({"v": value}, "v")
    return iec(number) if number or value == 0 else "—"


def _dict(source: dict[str, Any], key: str) -> dict[str, Any]:
    value = source.get(key)
    return value if isinstance(value, dict) else {}


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def scan(result: dict[str, Any], job: Job) -> Readable | None:
    found = result.get("scan")
    if not isinstance(found, dict):
        return None
    raw = found.get("bad_pages")
    listed = raw if isinstance(raw, list) else []
    bad = [p for p in listed if isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 2**63]
    pages, patterns = _int(found, "pages"), _int(found, "patterns")
    if bad:
        verdict = Verdict(
            "warn",
            f"{len(bad)} bad page{'s' if len(bad) != 1 else ''} of {pages:,}: recorded in the "
            "swap header, so the kernel never swaps to them.",
        )
    else:
        verdict = Verdict(
            "ok",
            f"No bad pages: each of the {pages:,} pages read back every one of the "
            f"{patterns} pattern{'s' if patterns != 1 else ''} written to it.",
        )
    return Readable(
        kind="scan",
        verdict=verdict,
        facts=[
            ("Pages", f"{pages:,} (the header's page included)"),
            ("Patterns", str(patterns)),
            ("Written", _size(_int(found, "bytes_written"))),
            ("Read back", _size(_int(found, "bytes_read"))),
            ("Took", _seconds(_float(found, "seconds"))),
        ],
        bad_pages=bad[:BAD_PAGES_SHOWN],
        bad_pages_total=len(bad),
    )


def benchmark(result: dict[str, Any], job: Job) -> Readable | None:
    res = result.get("benchmark")
    if not isinstance(res, dict):
        return None
    rows = []
    for key, label in PHASES:
        if f"{key}_iops" not in res:
            continue
        rows.append(
            [
                label,
                f"{_float(res, f'{key}_mb_s'):,.1f}",
                f"{_float(res, f'{key}_iops'):,.0f}",
                f"{_float(res, f'{key}_p50_us'):,.0f}",
                f"{_float(res, f'{key}_p99_us'):,.0f}",
            ]
        )
    table = Table(
        "Throughput and latency per request",
        ["Phase", "MB/s", "Requests/s", "Latency p50 (µs)", "Latency p99 (µs)"],
        rows,
    )
    return Readable(
        kind="benchmark",
        facts=[
            ("I/O engine", str(res.get("engine") or "?")),
            ("Queue depth", str(_int(res, "queue_depth"))),
            ("Random request size", _size(_int(res, "block_bytes"))),
        ],
        tables=[table],
    )


def burn_in(result: dict[str, Any], job: Job) -> Readable | None:
    res = result.get("burn_in")
    if not isinstance(res, dict):
        return None
    peak, ooms, corrupt = (
        _int(res, "peak_used_bytes"),
        _int(res, "oom_kills"),
        _int(res, "corrupt_pages"),
    )
    problems = []
    if peak == 0:
        problems.append("the kernel swapped nothing to this area")
    if corrupt:
        problems.append(f"{corrupt:,} page{'s' if corrupt != 1 else ''} came back changed")
    if ooms:
        problems.append(f"the hog was OOM-killed {ooms} time{'s' if ooms != 1 else ''}")
    if "hog_returncode" in res:
        # Said by workers that record how the hog ended (older results cannot say): a hog
        # killed by SIGBUS, or one that never finished a pass, proved nothing.
        code = res["hog_returncode"]
        ended = burnin.how_the_hog_ended(
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            res.get("hog_overstayed") is True,
        )
        if ended:
            problems.append(ended)
        if _int(res, "passes") < 1 or _int(res, "pages_checked") < 1:
            problems.append("the hog checked no page it read back")
    if problems:
        verdict = Verdict("fail", "Not healthy: " + "; ".join(problems) + ".")
    else:
        verdict = Verdict(
            "ok",
            f"Healthy: the kernel swapped up to {_size(peak)} to this area and read every page "
            "back unchanged; nothing was OOM-killed.",
        )
    facts = [
        ("Swap used at most", _size(peak)),
        ("Pages swapped out / in", f"{_int(res, 'pswpout'):,} / {_int(res, 'pswpin'):,}"),
        ("OOM kills", str(ooms)),
        ("Memory limit hits", f"{_int(res, 'failcnt'):,}"),
        ("Pages checked", f"{_int(res, 'pages_checked'):,} in {_int(res, 'passes')} passes"),
        ("Pages changed", f"{corrupt:,}"),
        ("Took", _seconds(_float(res, "seconds"))),
    ]
    if res.get("cgroup_swap_peak_bytes") is not None:
        facts.insert(1, ("Swap charged to the hog at most", _size(res["cgroup_swap_peak_bytes"])))
    if res.get("cgroup"):
        version = f" (cgroup v{res['cgroup_version']})" if res.get("cgroup_version") else ""
        facts.append(("Memory cgroup", f"{res['cgroup']}{version}"))
    return Readable(kind="burn_in", verdict=verdict, facts=facts)


def _findings(title: str, part: dict[str, Any]) -> Findings:
    raw = part.get("findings")
    found = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    return Findings(title, str(part.get("status") or "unknown"), found)


def check(result: dict[str, Any], job: Job) -> Readable | None:
    host = _dict(result, "host")
    if "findings" not in result and not host:
        return None
    out = Readable(kind="check")
    # A backend's check (its backend may have been destroyed since: the name is kept) has
    # its own findings at the top; a host's has only the host's, there and under "host".
    if (job.backend_id is not None or job.backend_name) and "findings" in result:
        out.findings.append(_findings(job.backend_name or "Backend", result))
    if host:
        out.findings.append(_findings(f"Host {job.host.name}", host))
    worst = [f.status for f in out.findings]
    status = next((s for s in ("fail", "warn", "ok") if s in worst), "unknown")
    words = {"ok": "Healthy", "warn": "Warning", "fail": "Failing"}
    out.verdict = Verdict(status, words.get(status, "Unknown") + ".")
    if result.get("repair_job"):
        out.facts.append(("Repair queued", f"job {result['repair_job']}"))
    return out


def _figure(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("bytes"):
        return _size(value)
    return str(value)


def other(result: dict[str, Any]) -> Readable:
    """The top-level figures of any other job (activate, resize, tune...): nested parts
    (a whole swap header, the tunables before and after) are left to the JSON."""
    facts = [
        (key.removesuffix("_bytes").replace("_", " ").capitalize(), _figure(key, value))
        for key, value in result.items()
        if value is not None and not isinstance(value, dict | list)
    ]
    return Readable(kind="figures", facts=facts)


#: Each action's reader of its result, by the name its table entry gives.
SHOWN_BY: dict[str, Callable[[dict[str, Any], Job], Readable | None]] = {
    a.name: globals()[a.result_shown_by] for a in actions.BACKEND_ACTIONS if a.result_shown_by
}


def readable(job: Job) -> Readable | None:
    """``job.result`` for the job page; None while there is none."""
    result = job.result
    if not isinstance(result, dict) or not result:
        return None
    shown_by = SHOWN_BY.get(str(job.kind))
    out = (shown_by(result, job) if shown_by else None) or other(result)
    out.json = json.dumps(result, indent=2, sort_keys=True, default=str)
    return out
