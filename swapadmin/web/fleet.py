"""The overview's host table at fleet scale: which hosts, in what order, which page of them,
and the fleet's totals, each at a cost that does not grow with the number of hosts drawn.

Everything the user chose is in the query string (``q``, ``state``, ``health``, ``kind``,
``sort``, ``page``), so a URL can be shared and the live region's poll asks for the same
page. A value that is not a choice is named in a message and left out; a page past the end
shows the last one. Nothing here raises for what a user typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.http import QueryDict

from backends import registry
from swapadmin.core.models import Backend, Host, db_ago
from swapadmin.health.models import BackendHealth, Status

#: Hosts a page: the table's rows, and so the page's cost, stay the same at 50 or 5,000.
PAGE_SIZE = 50
#: A search longer than this is a paste gone wrong, not a host name or label.
MAX_SEARCH = 100

STATES = {"online": "online", "offline": "offline"}
#: A host's health is its worst of: worker offline or anything failing (fail), a warning on
#: the host or one of its backends (warn), nothing wanting (ok).
HEALTHS = {"fail": "failing", "warn": "warning", "ok": "healthy"}
#: Sort keys: label, ordering. The natural direction of a figure is worst first.
SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "name": ("name", ("name",)),
    "-name": ("name, Z to A", ("-name",)),
    "state": ("offline first", (F("is_online").asc(), "name")),
    "-state": ("online first", (F("is_online").desc(), "name")),
    "health": ("least healthy first", ("-severity", "name")),
    "-health": ("healthiest first", ("severity", "name")),
    "swap": ("most swap used first", ("-snap_swap_used", "name")),
    "-swap": ("least swap used first", ("snap_swap_used", "name")),
    "memory": ("least memory available first", ("snap_mem_available", "name")),
    "-memory": ("most memory available first", ("-snap_mem_available", "name")),
}
DEFAULT_SORT = "name"


def kinds() -> dict[str, str]:
    """The backend kinds this control plane knows (the plugin registry's)."""
    return {cls.name: cls.name for cls in registry()}


@dataclass
class Query:
    """What the user asked the table for, checked; ``problems`` names what was left out."""

    q: str = ""
    state: str = ""
    health: str = ""
    kind: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def params(self, **changes: Any) -> str:
        """This query (with ``changes``) as a query string, empty parts and defaults left
        out, so the same view has one URL."""
        values: dict[str, Any] = {
            "q": self.q,
            "state": self.state,
            "health": self.health,
            "kind": self.kind,
            "sort": self.sort,
            "page": self.page,
            **changes,
        }
        if values["sort"] == DEFAULT_SORT:
            del values["sort"]
        if values["page"] == 1:
            del values["page"]
        qd = QueryDict(mutable=True)
        for key, value in values.items():
            if value != "":
                qd[key] = str(value)
        return qd.urlencode()

    @property
    def params_sorted_by(self) -> dict[str, str]:
        """Each sort's query string, from the first page: a heading's link."""
        return {key: self.params(sort=key, page=1) for key in SORTS}

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort][0]

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.state or self.health or self.kind)


def _choice(get: QueryDict, key: str, choices: dict[str, str], what: str, out: Query) -> str:
    value = get.get(key, "").strip()
    if value and value not in choices:
        out.problems.append(
            f"{what} {value[:40]!r} is not one of {', '.join(choices)}: showing every {what}"
        )
        return ""
    return value


def parse(get: QueryDict) -> Query:
    out = Query()
    q = get.get("q", "").strip()
    if "\x00" in q:
        # PostgreSQL's text cannot hold NUL (the query would fail), and no name or label has one.
        out.problems.append("the search holds a NUL character, which no name has: not searched")
        q = ""
    if len(q) > MAX_SEARCH:
        out.problems.append(f"the search is longer than {MAX_SEARCH} characters: cut to that")
        q = q[:MAX_SEARCH]
    out.q = q
    out.state = _choice(get, "state", STATES, "state", out)
    out.health = _choice(get, "health", HEALTHS, "health", out)
    out.kind = _choice(get, "kind", kinds(), "kind", out)
    sort = get.get("sort", "").strip() or DEFAULT_SORT
    if sort not in SORTS:
        out.problems.append(f"unknown sort {sort[:40]!r}: sorted by name")
        sort = DEFAULT_SORT
    out.sort = sort
    page = get.get("page", "").strip() or "1"
    try:
        out.page = int(page)
    except ValueError:
        out.problems.append(f"page {page[:20]!r} is not a number: showing the first")
        out.page = 1
    return out


def _visible(qs: QuerySet[Backend]) -> QuerySet[Backend]:
    # As views.visible_backends: destroyed backends stay as rows for history only.
    return qs.exclude(desired_state=Backend.Desired.ABSENT, observed_state=Backend.Observed.ABSENT)


def _with_backends(**where: Any) -> Q:
    """Hosts with a visible backend matching ``where``. An uncorrelated ``IN``, not EXISTS
    per host: PostgreSQL hashes the subquery's host ids once, where a correlated EXISTS
    inside the health CASE ran once per host (1.2 s at 5,000 hosts, bench table 3)."""
    return Q(pk__in=_visible(Backend.objects.filter(**where)).order_by().values("host_id"))


def _online() -> Q:
    return Q(last_heartbeat__gt=db_ago(settings.SWAPADMIN_OFFLINE_AFTER_SECONDS))


def _is_online() -> Case:
    """True or False, never NULL: a host never heard from (no heartbeat) is offline. A bare
    comparison is NULL for it, which PostgreSQL sorts after every true (SQLite before)."""
    return Case(
        When(_online(), then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def hosts(query: Query) -> QuerySet[Host]:
    """The hosts ``query`` asks for, in its order (not yet cut to a page)."""
    qs = Host.objects.annotate(is_online=_is_online())
    if query.q:
        # A name or a label anywhere in it: the table is for finding a host among thousands.
        qs = qs.filter(Q(name__icontains=query.q) | _with_backends(label__icontains=query.q))
    if query.state == "online":
        qs = qs.filter(_online())
    elif query.state == "offline":
        qs = qs.exclude(_online())
    if query.kind:
        qs = qs.filter(_with_backends(kind=query.kind))
    if query.health or query.sort in ("health", "-health"):
        fail, warn = Status.FAIL, Status.WARN
        failing = ~_online() | Q(health__status=fail) | _with_backends(health__status=fail)
        warning = Q(health__status=warn) | _with_backends(health__status=warn)
        # Its own name: the plugin types ``qs`` by its first annotation (no ``severity``).
        rated = qs.annotate(
            severity=Case(
                When(failing, then=Value(2)), When(warning, then=Value(1)), default=Value(0),
                output_field=IntegerField(),
            )
        )  # fmt: skip
        if query.health:
            rated = rated.filter(severity={"ok": 0, "warn": 1, "fail": 2}[query.health])
        qs = rated
    return qs.order_by(*SORTS[query.sort][1])


def _sum_bytes(column: str) -> Sum:
    return Sum(Cast(column, FloatField()), default=0.0)


def totals() -> dict[str, Any]:
    """The whole fleet's figures, whatever the table shows.

    Not a running totals row: one would be a lock every sampler takes (1,000 samples a second
    queued behind one row) and cannot hold "online", which changes with the clock and no
    write. Instead the database computes each host's figures from its snapshot into narrow
    generated columns (``Host.snap_*``) in the very write of the sample, whoever makes it,
    and this adds them up: a scan of 5,000 narrow rows, a few ms on PostgreSQL on the 2-core
    test machine (bench table 3, docs/BENCHMARKS-control-plane.md), where reading each host's
    snapshot took most of the old page's 212 ms at 500 hosts. No update to lose: each write
    touches only its own host's row.
    Two queries whatever the fleet's size, but each reads every host row or every visible
    backend: the overview shares one result per LIVE_CACHE_SECONDS (views._fleet_totals),
    so with dashboards open the fleet is still scanned once per 0.5 s per process.
    Byte figures are summed as floats: a host may report up to bigint's maximum, and two
    such overflow SQLite's integer SUM() (an error for every viewer); a float sum never
    fails, and is exact to the byte up to 8 PiB."""
    bad = (Status.WARN, Status.FAIL)
    figures = Host.objects.order_by().aggregate(
        hosts=Count("pk"),
        unhealthy_hosts=Count("pk", filter=Q(health__status__in=bad)),
        online=Count("pk", filter=_online()),
        mem_total=_sum_bytes("snap_mem_total"),
        swap_total=_sum_bytes("snap_swap_total"),
        swap_used=_sum_bytes("snap_swap_used"),
        pswpin=Sum("snap_pswpin_rate", default=0.0),
        pswpout=Sum("snap_pswpout_rate", default=0.0),
    )
    # One pass over the backends for both their states and the unhealthy ones among them. The
    # unhealthy are the few whose health warns or fails, an uncorrelated IN PostgreSQL hashes
    # once: joined to every backend's health row instead, all 40,000 of them (5,000 hosts)
    # were hashed for each drawing: 27 ms median under load, against 15.5 ms now (EXPLAIN
    # ANALYZE at 5,000 hosts, 2026-11-30).
    sick = BackendHealth.objects.filter(status__in=bad).order_by().values("backend_id")
    by_state: dict[str, int] = {}
    unhealthy_backends = 0
    for state, n, unhealthy in (
        _visible(Backend.objects.order_by())
        .values_list("observed_state")
        .annotate(n=Count("pk"), unhealthy=Count("pk", filter=Q(pk__in=sick)))
        .values_list("observed_state", "n", "unhealthy")
    ):
        by_state[state] = n
        unhealthy_backends += unhealthy
    for name in ("mem_total", "swap_total", "swap_used"):
        figures[name] = int(figures[name])
    offline = figures["hosts"] - figures["online"]
    return {
        **figures,
        "offline": offline,
        "backends": sum(by_state.values()),
        "active": by_state.get(Backend.Observed.ACTIVE, 0),
        "by_state": sorted(by_state.items()),
        "unhealthy_backends": unhealthy_backends,
        # As each host row counts them: its worker offline, its health, its backends'.
        "alerts": offline + figures["unhealthy_hosts"] + unhealthy_backends,
    }


@dataclass
class Page:
    """One page of the table: its hosts (a queryset of at most PAGE_SIZE) and where it is."""

    hosts: QuerySet[Host]
    number: int
    count: int
    pages: int

    @property
    def first(self) -> int:
        return min(self.count, (self.number - 1) * PAGE_SIZE + 1)

    @property
    def last(self) -> int:
        return min(self.count, self.number * PAGE_SIZE)

    def links(self, query: Query) -> list[tuple[int, str]]:
        """(number, query string) of each page the pager shows."""
        return [(n, query.params(page=n)) for n in self.near()]

    def near(self) -> list[int]:
        """The page numbers a pager links: the first, the last, and two either side."""
        around = range(max(1, self.number - 2), min(self.pages, self.number + 2) + 1)
        return sorted({1, self.pages, *around})


def page_of(query: Query) -> Page:
    """The page ``query`` asks for, or the nearest one there is (named in its problems)."""
    qs = hosts(query)
    count = qs.count()
    pages = max(1, -(-count // PAGE_SIZE))
    if query.page > pages:
        query.problems.append(f"there is no page {query.page}: showing the last, {pages}")
        query.page = pages
    elif query.page < 1:
        query.problems.append(f"there is no page {query.page}: showing the first")
        query.page = 1
    start = (query.page - 1) * PAGE_SIZE
    return Page(_rows_in_order(qs, start), query.page, count, pages)


def _rows_in_order(qs: QuerySet[Host], start: int) -> QuerySet[Host]:
    """The page's hosts from ``start``, whole, in ``qs``'s order.

    The order is decided first on the ids alone, and only the page's PAGE_SIZE rows are then
    read whole: sorted by health or searched, PostgreSQL otherwise built every matching host's
    full row (the snapshot parts the table shows, read out of each host's JSON) before the
    sort cut them to 50: 17-20 ms of the page at 5,000 hosts (EXPLAIN ANALYZE, 2026-11-30).

    The ids and the rows are two statements: a host whose figure changed in between (a
    sample every few seconds) is drawn with its new figure in its old place, and one deleted
    in between leaves the page a row short. The live region redraws within a second."""
    ids = list(qs.values_list("pk", flat=True)[start : start + PAGE_SIZE])
    if not ids:
        return Host.objects.none()
    return Host.objects.filter(pk__in=ids).order_by(_position_in(ids).asc())


def _position_in(ids: list[int]) -> RawSQL:
    """Each host's place in ``ids``, as one SQL CASE (SQLite's and PostgreSQL's alike). Not
    Case(When(pk=...)) per id: Django resolves and compiles each of those apart, 5 ms of
    Python a drawing for 50 hosts, more than the query."""
    quote = connection.ops.quote_name
    column = f"{quote(Host._meta.db_table)}.{quote(Host._meta.pk.column)}"
    whens = " ".join("WHEN %s THEN %s" for _ in ids)
    params = [value for place, pk in enumerate(ids) for value in (pk, place)]
    return RawSQL(f"CASE {column} {whens} END", params, output_field=IntegerField())
