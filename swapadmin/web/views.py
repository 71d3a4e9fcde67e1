"""The dashboard's pages. Each view renders its whole page, or one of its partials when htmx
asks (the partial named by the element that asked, ``HX-Target``), so a live region is
redrawn by the same code and template that drew it first.

Polling: pages showing kernel state (overview, host, backend) poll every second, always:
the kernel can change without swapadmin (a `swapon` by hand), the sampler writes that at
once, and the page must show it within 2 s. Job pages poll only while a job is live, and
answer the last poll with HTTP 286, which tells htmx to stop. A poll never redraws a live
region while a form inside it waits for its answer (``static/swapadmin.js``): the redraw
would bring back, enabled, the button that request disabled (268/7). Once the answer is in,
the region is redrawn: at once where it listens for ``swapadmin:changed`` (the overview,
host and backend pages), at the next poll on a job's page; each request keeps its own
slot, so no click waits behind a poll, or is dropped with the element a poll redrew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from backends import BackendError, Fact, SwapBackend, registry
from swapadmin.core import actions, edits, forget, orphans, roles, services
from swapadmin.core.clientip import client_ip
from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.health.models import CheckResult, HealthEvent, Status

from . import charts, dynamic, fleet
from .forms import (
    ACTION_FORMS,
    MIB,
    SETTINGS_FORMS,
    ConfirmForm,
    EditBackendForm,
    NewBackendForm,
    ResizeForm,
    TuneForm,
)
from .results import readable
from .snapshot import Snapshot, snapshot, summaries, zram_rows
from .templatetags.swapadmin_ui import can, iec

log = logging.getLogger(__name__)

#: HTTP 286: htmx stops polling the element that received it (and still swaps it).
STOP_POLLING = 286
#: How often pages of kernel state redraw: the sampler's write plus one period stays in 2 s.
STATE_POLL = "1s"

View = Callable[..., HttpResponse]


# ---- plumbing ----


def viewer_required(view: View) -> View:
    """Logged in and holding at least the viewer role; an account with no role gets 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can(request.user, "view"):
            return render(request, "403.html", {"needed": "viewer"}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


class HtmxHttpRequest(HttpRequest):
    """A request as django_htmx's HtmxMiddleware (settings.MIDDLEWARE) leaves it: with
    ``htmx``, which the stubs' HttpRequest cannot know of. For ``htmx_of`` only: views take
    a plain HttpRequest."""

    htmx: HtmxDetails


def htmx_of(request: HttpRequest) -> HtmxDetails:
    """What htmx sent with ``request`` (false when it was no htmx request): the middleware
    sets it on every request."""
    return cast(HtmxHttpRequest, request).htmx


def htmx_target(request: HttpRequest) -> str | None:
    """The element an htmx request asked to redraw (``HX-Target``); None for any other
    request, whatever headers it carries."""
    htmx = htmx_of(request)
    return htmx.target if htmx else None


def actor(request: HttpRequest) -> services.Actor:
    # X-Forwarded-For only from SWAPADMIN_TRUSTED_PROXIES: anyone else's is their own words.
    # Only views behind viewer_required (login_required) ask: the user is a logged-in User.
    return services.Actor(cast(User, request.user), Job.Via.PAGE, client_ip(request.META))


def refuse(request: HttpRequest, action: str, obj: Host | Backend | Job | None) -> HttpResponse:
    """The server's own refusal, whatever the page showed: audited, 403."""
    needed = roles.ACTIONS[action].name.lower()
    services.audit(actor(request), action, obj, "refused", {"reason": f"needs the {needed} role"})
    message = f"{action.replace('_', ' ')} needs the {needed} role"
    if htmx_of(request):
        return flash(request, message, "error", status=403)
    return render(request, "403.html", {"needed": needed, "message": message}, status=403)


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    partials: Iterable[str] = ("live",),
    *,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or for htmx the partial named like the element that asked for it
    (``HX-Target``); an htmx request for anything else gets the whole page."""
    target = htmx_target(request)
    if target and target in partials:
        return render(request, f"{template}#{target}", context, status=status)
    return render(request, template, context, status=status)


def flash(
    request: HttpRequest, message: str, level: str = "info", *, status: int = 200, oob: bool = False
) -> HttpResponse:
    """The message line under the header; ``HX-Trigger`` makes live regions redraw now."""
    response = render(
        request, "flash.html", {"flash": message, "level": level, "oob": oob}, status=status
    )
    response["HX-Trigger"] = "swapadmin:changed"
    return response


def next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def health_of(obj: Host | Backend) -> Any:
    try:
        return obj.health
    except ObjectDoesNotExist:
        return None


def live_jobs_by_backend(jobs: Iterable[Job]) -> dict[int, Job]:
    """The job holding each backend (the oldest live one), as services.live_job_for picks it."""
    out: dict[int, Job] = {}
    for job in sorted(jobs, key=lambda j: j.queued_at):
        if job.backend_id and job.kind not in actions.READS_ONLY:
            out.setdefault(job.backend_id, job)
    return out


def visible_backends(qs: QuerySet[Backend]) -> QuerySet[Backend]:
    """Destroyed backends stay as rows for history but are not listed."""
    return qs.exclude(desired_state=Backend.Desired.ABSENT, observed_state=Backend.Observed.ABSENT)


# ---- overview ----


def _alerts(host: Host, backend_health: Iterable[tuple[str, str, str]]) -> list[dict[str, str]]:
    """The host's alerts: its worker offline, its own health, then each backend's given as
    (name, status, summary), of which those that warn or fail."""
    out = []
    hh = health_of(host)
    if hh is not None and hh.status in (Status.WARN, Status.FAIL):
        out.append({"status": hh.status, "what": host.name, "summary": hh.summary})
    for name, status, summary in backend_health:
        if status in (Status.WARN, Status.FAIL):
            out.append({"status": status, "what": name, "summary": summary})
    if not host.online:
        out.insert(0, {"status": Status.FAIL, "what": host.name, "summary": "worker offline"})
    return out


#: How long one rendering of the overview's live region answers every dashboard's poll of
#: the same query, and one computation of the fleet's totals answers every drawing whatever
#: its query (per process). The region holds nothing per user; 50 open dashboards polling
#: every second would otherwise each draw it. A change to a host's row shows at most one
#: poll (1 s) plus this later; the totals, cached apart, up to this once more (2 s, the
#: bound's edge).
LIVE_CACHE_SECONDS = 0.5
#: Drawn live regions by query string: (expiry, body). Kept to a few queries, so a crawler
#: walking every page cannot grow a process's memory; past that the oldest goes, so one
#: viewer cycling through searches costs the others only the entries it pushes out.
LIVE_CACHE_QUERIES = 64
_live_cache: dict[str, tuple[float, bytes]] | None = None
#: fleet.totals() as last computed: (when, figures). The same for every query, so 50
#: dashboards on 50 different pages or searches share one computation.
_totals_cache: tuple[float, dict[str, Any]] | None = None


def _cached_live(key: str) -> bytes | None:
    cache = _live_cache if isinstance(_live_cache, dict) else {}
    hit = cache.get(key)
    return hit[1] if hit is not None and time.monotonic() < hit[0] else None


def _keep_live(key: str, body: bytes) -> None:
    global _live_cache
    # A copy, changed and then put in place whole: a threaded server's other requests may be
    # reading the one in place.
    cache = dict(_live_cache) if isinstance(_live_cache, dict) else {}
    now = time.monotonic()
    cache.pop(key, None)  # re-inserted below: the newest
    if len(cache) >= LIVE_CACHE_QUERIES:
        cache = {k: v for k, v in cache.items() if v[0] > now}  # the expired go first
    while cache and len(cache) >= LIVE_CACHE_QUERIES:
        del cache[next(iter(cache))]  # then the oldest (a dict keeps insertion order)
    cache[key] = (now + LIVE_CACHE_SECONDS, body)
    _live_cache = cache


def _fleet_totals() -> dict[str, Any]:
    """fleet.totals(), computed at most once per LIVE_CACHE_SECONDS in this process whatever
    the query asked for. It still scans the fleet (every host row, every visible backend)
    each time it is computed: with dashboards open that is once per 0.5 s per process, not
    once per drawing."""
    global _totals_cache
    now = time.monotonic()
    hit = _totals_cache
    if hit is not None and LIVE_CACHE_SECONDS > 0 and 0 <= now - hit[0] < LIVE_CACHE_SECONDS:
        return hit[1]
    figures = fleet.totals()
    # Stamped when done: a computation as long as the window would otherwise be stale at
    # once, and every drawing would compute it again, just when the fleet is largest.
    _totals_cache = (time.monotonic(), figures)
    return figures


def _overview_context(query: fleet.Query) -> dict[str, Any]:
    # One page of hosts, and for those only their backend counts and unhealthy backends:
    # every query below is bounded by PAGE_SIZE, or is one of fleet.totals()'s aggregates.
    found = fleet.page_of(query)
    hosts = list(summaries(found.hosts.select_related("health")))
    ids = [h.pk for h in hosts]
    visible = visible_backends(Backend.objects.filter(host_id__in=ids)).order_by()
    counts = {
        c["host_id"]: c
        for c in visible.values("host_id").annotate(
            n=Count("id"),
            active=Count("id", filter=Q(observed_state=Backend.Observed.ACTIVE)),
            # Not "inactive": an area that cannot be told may be on (review 158).
            untold=Count("id", filter=Q(observed_state=Backend.Observed.INDETERMINATE)),
        )
    }
    unhealthy: dict[int, list[tuple[str, str, str]]] = {}
    for host_id, *alert in (
        visible.filter(health__status__in=(Status.WARN, Status.FAIL))
        .order_by("host_id", "name")
        .values_list("host_id", "name", "health__status", "health__summary")
    ):
        unhealthy.setdefault(host_id, []).append(tuple(alert))  # type: ignore[arg-type]
    rows = []
    for host in hosts:
        count = counts.get(host.pk, {"n": 0, "active": 0, "untold": 0})
        rows.append(
            {
                "host": host,
                "snap": snapshot(host),
                "backend_count": count["n"],
                "alerts": _alerts(host, unhealthy.get(host.pk, ())),
                "active": count["active"],
                "untold": count["untold"],
            }
        )
    live = Job.objects.filter(state__in=Job.LIVE).count()
    return {
        "rows": rows,
        "totals": _fleet_totals(),
        "live_jobs": live,
        "poll": STATE_POLL,
        "query": query,
        "found": found,
        "page_links": found.links(query),
        "states": fleet.STATES,
        "healths": fleet.HEALTHS,
        "kinds": fleet.kinds(),
    }


@require_GET
@viewer_required
def overview(request: HttpRequest) -> HttpResponse:
    query = fleet.parse(request.GET)
    polled = htmx_target(request) == "live"
    key = query.params()
    if polled and (body := _cached_live(key)) is not None:
        return HttpResponse(body)
    response = page(request, "overview.html", _overview_context(query))
    if polled and LIVE_CACHE_SECONDS > 0:
        _keep_live(key, response.content)
    return response


# ---- host ----


def _chart_context(host: Host, range_key: str) -> dict[str, Any]:
    rng = charts.RANGES.get(range_key) or charts.RANGES["hour"]
    memory, rates = charts.host_series(host, rng)
    end = timezone.now()
    start = end - rng.span
    return {
        "range": rng,
        "ranges": charts.RANGES.values(),
        "memory_svg": charts.svg(
            memory, start, end, title=f"Memory and swap, {rng.label}", unit="bytes"
        ),
        "rates_svg": charts.svg(
            rates, start, end, title=f"Swap-in and swap-out, {rng.label}", unit="pages"
        ),
        "memory_series": memory,
        "rate_series": rates,
    }


def _backend_health(backends: Iterable[Backend]) -> list[tuple[str, str, str]]:
    return [(b.name, h.status, h.summary) for b in backends if (h := health_of(b)) is not None]


def _tune_initial(snap: Snapshot) -> dict[str, Any]:
    t = snap.tunables
    return {name: t.get(name) for name in TuneForm.base_fields if name != "persist"}


def _mark_covered_elsewhere(host: Host, snap: Snapshot) -> None:
    """An unmanaged area that a backend of another name of this machine (a host renamed,
    a second worker) manages gets the reason a discover would give instead of an Adopt
    button (``core/handlers.py``'s ``_covered_paths``). Matched by the path as given: a
    discover, which resolves links on the host, still judges the rest."""
    if not host.machine_id or not snap.unmanaged:
        return
    gone = Q(desired_state=Backend.Desired.ABSENT, observed_state=Backend.Observed.ABSENT)
    others = (
        Backend.objects.filter(host__machine_id=host.machine_id)
        .exclude(host=host)
        .exclude(gone)
        .select_related("host")
    )
    by_path: dict[str, Backend] = {}
    for b in others:
        params = b.params if isinstance(b.params, dict) else {}
        for p in (params.get("path"), params.get("device")):
            if isinstance(p, str) and p:
                by_path.setdefault(p, b)
    for i, area in enumerate(snap.unmanaged):
        owner = by_path.get(str(area.get("path")))
        if owner is not None and not area.get("unadoptable"):
            # A new dict: the list's items are the Host row's own.
            snap.unmanaged[i] = {**area, "unadoptable": owner.covers_words()}


def _host_context(request: HttpRequest, host: Host) -> dict[str, Any]:
    snap = snapshot(host)
    _mark_covered_elsewhere(host, snap)
    backends = list(visible_backends(host.backends.select_related("health")).order_by("name"))
    live = list(Job.objects.filter(host=host, state__in=Job.LIVE))
    holders = live_jobs_by_backend(live)
    for b in backends:
        b.live_job = holders.get(b.pk)  # type: ignore[attr-defined]
        b.actions = offered_actions(b)  # type: ignore[attr-defined]
        b.confirms = confirm_links(b)  # type: ignore[attr-defined]
    host_jobs = {j.kind: j for j in live if j.backend_id is None}
    return {
        "host": host,
        "snap": snap,
        "backends": backends,
        "alerts": _alerts(host, _backend_health(backends)),
        "recent_jobs": Job.objects.filter(host=host).select_related("requested_by")[:8],
        "discover_job": host_jobs.get(Job.Kind.DISCOVER),
        "tune_job": host_jobs.get(Job.Kind.TUNE),
        "zram": zram_rows(snap, backends),
        "poll": STATE_POLL,
        # Where an action sent without htmx comes back to: the page may be drawn at a
        # form's POST-only address (a refused tune form), whose path is no page.
        "back": host_url(host),
    }


@require_GET
@viewer_required
def host_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    host = get_object_or_404(Host.objects.select_related("health"), uuid=code)
    return _host_page(request, host)


def _host_page(
    request: HttpRequest,
    host: Host,
    tune_form: TuneForm | None = None,
    dynamic_form: dynamic.DynamicSwapForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The host page, or the part of it htmx asks for; ``tune_form`` or ``dynamic_form`` is
    a refused form to show with its errors. One context for every way the page is drawn: a
    refused form's page once lacked the dynamic swap form and failed to draw, and showed a
    snapshot without the page's Adopt marks."""
    context = _host_context(request, host)
    partials = ("live", "charts", "tune")
    target = htmx_target(request)
    # page() draws the whole page for any target but these: its context is then whole too.
    part = target if target in partials else None
    if part in (None, "charts"):
        context.update(_chart_context(host, request.GET.get("range", "hour")))
    if part in (None, "tune"):
        snap = context["snap"]
        context["tune_form"] = tune_form or TuneForm(
            initial=_tune_initial(snap), zswap=bool(snap.zswap)
        )
    if part is None:
        # Whole page only: the host's own events (offline, back online, its health) and its
        # backends', newest first; the polled partial does not carry them.
        context["events"] = HealthEvent.objects.filter(host=host).select_related("backend")[:20]
        context.update(dynamic.context(host, dynamic_form))
    return page(request, "host.html", context, partials, status=status)


@require_POST
@viewer_required
def host_tune(request: HttpRequest, code: UUID) -> HttpResponse:
    host = get_object_or_404(Host, uuid=code)
    if not can(request.user, "tune"):
        return refuse(request, "tune", host)
    snap = snapshot(host)
    form = TuneForm(request.POST, zswap=bool(snap.zswap))
    context = {"host": host, "tune_form": form, "snap": snap}
    if not form.is_valid():
        return _host_page(request, host, form, status=422)
    # The names backends.tunables takes; zswap fields only on a kernel that has zswap.
    params = {k: v for k, v in form.cleaned_data.items() if v is not None and v != ""}
    if not snap.zswap:
        params = {k: v for k, v in params.items() if not k.startswith("zswap_")}
    try:
        job = services.request_host_job(host, Job.Kind.TUNE, actor(request), params)
    except services.Conflict as e:
        return _busy(request, e, host_url(host))
    except services.InvalidRequest as e:
        for key, msgs in e.errors.items():
            for m in msgs:
                form.add_error(key if key in form.fields else None, m)
        return _host_page(request, host, form, status=422)
    return _queued(request, job, host_url(host), partial=("host.html", "tune", context))


@require_POST
@viewer_required
def host_discover(request: HttpRequest, code: UUID) -> HttpResponse:
    host = get_object_or_404(Host, uuid=code)
    if not can(request.user, "discover"):
        return refuse(request, "discover", host)
    try:
        paths = request.POST.getlist("path")
        params = {"paths": paths} if paths else {}
        job = services.request_host_job(host, Job.Kind.DISCOVER, actor(request), params)
    except services.Conflict as e:
        return _busy(request, e, host_url(host))
    except services.InvalidRequest as e:
        return _invalid(request, e, host_url(host))
    return _queued(request, job, host_url(host))


@require_POST
@viewer_required
def host_forget(request: HttpRequest, code: UUID) -> HttpResponse:
    """Forget a host with nothing left on it (core.forget says what that means)."""
    host = get_object_or_404(Host, uuid=code)
    if not can(request.user, "destroy"):
        reason = "needs the admin role"
        services.audit(actor(request), forget.ACTION, host, "refused", {"reason": reason})
        message = f"forgetting a host {reason}"
        return render(request, "403.html", {"needed": "admin", "message": message}, status=403)
    try:
        forget.forget_host(host, actor(request))
    except forget.CannotForget as e:
        return _refused(request, e.message, host_url(host))
    messages.info(
        request,
        f"{host.name} forgotten: its jobs, samples and health are gone; the audit trail keeps "
        "who did it. A worker started with that name registers it again.",
    )
    return HttpResponseRedirect(reverse("overview"))


@require_POST
@viewer_required
def host_revoke(request: HttpRequest, code: UUID) -> HttpResponse:
    """Cut an enrolled host off now (enroll.services.revoke says what that does)."""
    from swapadmin.enroll.services import EnrolError, revoke

    host = get_object_or_404(Host, uuid=code)
    if not can(request.user, "destroy"):
        reason = "needs the admin role"
        services.audit(actor(request), "revoke", host, "refused", {"reason": reason})
        message = f"revoking a host's credentials {reason}"
        return render(request, "403.html", {"needed": "admin", "message": message}, status=403)
    try:
        revoked = revoke(host, actor(request))
    except EnrolError as e:
        return _refused(request, str(e), host_url(host))
    if not revoked:
        return _refused(request, f"{host.name} has no live credential to revoke", host_url(host))
    messages.info(
        request,
        f"{host.name} cut off: its database role and broker user are revoked and its sessions "
        "ended. Enrol it again (manage.py enroll-host) for new credentials.",
    )
    return HttpResponseRedirect(host_url(host))


def host_url(host: Host) -> str:
    return reverse("host", args=[host.uuid])


# ---- backend ----


def _plugin(kind: str) -> type[SwapBackend] | None:
    try:
        return registry().get(kind)
    except BackendError:
        return None


@dataclass(frozen=True)
class Kind:
    """A plugin class as templates see it: templates call callables, and a class is one."""

    name: str
    label: str
    description: str

    @classmethod
    def of(cls, plugin: type[SwapBackend] | None) -> Kind | None:
        if plugin is None:
            return None
        return cls(plugin.name, plugin.label, plugin.description)


def stage_of(backend: Backend) -> actions.Stage:
    """Where ``backend`` stands, for the actions its page offers (``actions.Stage``)."""
    if backend.provisioned_at is None or backend.observed_state == Backend.Observed.ABSENT:
        if backend.desired_state == Backend.Desired.ABSENT:
            return "leaving"
        return "unproven" if backend.provisioned_at is None else "gone"
    if backend.observed_state == Backend.Observed.INDETERMINATE:
        # Whether its area is on cannot be told: only a check, which looks again, is offered
        # (``_offerable``), as the services refuse the rest.
        return "indeterminate"
    return "active" if backend.observed_state == Backend.Observed.ACTIVE else "inactive"


def _offerable(backend: Backend, spec: actions.BackendAction) -> bool:
    """Whether ``backend``'s page may offer ``spec`` at all, button, form or confirm page,
    by the table's gates the services refuse it by: not an action that would write the
    bytes of an area swapadmin did not make (``adopted_writes``), nor one its kind cannot do
    (``kind_can``), nor, before the store is proven its own, one that needs it, nor any but
    a check while whether the area is active cannot be told."""
    if backend.adopted and spec.adopted_writes:
        return False
    if backend.observed_state == Backend.Observed.INDETERMINATE and not spec.reads_only:
        return False  # services.indeterminate_reason: only a check, which looks again
    if services.backend_kind_refusal(backend, spec) is not None:
        return False
    return spec.before_provision or backend.provisioned_at is not None


def offered_actions(backend: Backend) -> list[actions.BackendAction]:
    """The one-click actions a backend's page offers where it stands, as the action table
    says (``offered_in``). The worker has the last word: this only hides what cannot work
    now."""
    stage = stage_of(backend)
    return [a for a in actions.BACKEND_ACTIONS if stage in a.offered_in and _offerable(backend, a)]


@dataclass(frozen=True)
class ConfirmLink:
    """A link to an action's confirm page: ``Force…`` for a forced action, ``Destroy…`` for
    one that asks first."""

    action: str
    label: str
    #: Force… (the user may force what the action would refuse), not the action's own page.
    forced: bool

    @property
    def id(self) -> str:
        """The element's id before the backend's uuid: ``force-deactivate``, ``destroy``."""
        return f"force-{self.action}" if self.forced else self.action

    @property
    def needs(self) -> str:
        """What the user must be allowed (``roles.can``) to be shown it."""
        return "force" if self.forced else self.action


def confirm_links(backend: Backend) -> list[ConfirmLink]:
    """The confirm pages a backend's page links to where it stands (``confirm_in``): what
    asks first, as itself; a forced action, as Force…"""
    stage = stage_of(backend)
    return [
        ConfirmLink(a.name, a.label, forced=not a.asks_first)
        for a in actions.BACKEND_ACTIONS
        if stage in a.confirm_in and _offerable(backend, a)
    ]


def _backend_context(request: HttpRequest, backend: Backend) -> dict[str, Any]:
    jobs = list(backend.jobs.select_related("requested_by")[:15])
    live = [j for j in jobs if j.state in Job.LIVE]
    backend.live_job = live_jobs_by_backend(live).get(backend.pk)  # type: ignore[attr-defined]
    plugin = _plugin(backend.kind)
    return {
        "backend": backend,
        "host": backend.host,
        "plugin": Kind.of(plugin),
        "health": health_of(backend),
        "jobs": jobs,
        "actions": offered_actions(backend),
        "confirms": confirm_links(backend),
        # The fstab toggle, which the live partial redraws as the row changes.
        "persist_offered": _offerable(backend, actions.BY_NAME["persist"]),
        "zram": zram_rows(snapshot(backend.host), [backend]),
        "facts": _facts(plugin, backend),
        "poll": STATE_POLL,
    }


def _facts(plugin: type[SwapBackend] | None, backend: Backend) -> list[Fact]:
    """What the backend's page says about its store, as its kind words it
    (``SwapBackend.facts``), from what the worker last read."""

    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    said = _kind_says(
        plugin,
        "facts",
        mapping(backend.info),
        mapping(backend.params),
        mapping(backend.state),
        backend.swap_path,
    )
    try:
        # Plain strings (escaped on the page, and never an error of their own at render).
        return [
            Fact(_plain(f.term), _plain(f.text), bool(f.mono), _plain(f.problem))
            for f in said
            if isinstance(f, Fact)
        ]
    except Exception:
        log.exception("the %s plugin's facts cannot be shown", backend.kind)
        return []


@require_GET
@viewer_required
def backend_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    backend = get_object_or_404(
        Backend.objects.select_related("host", "health", "created_by"), uuid=code
    )
    context = _backend_context(request, backend)
    if htmx_target(request) != "live":
        context["checks"] = CheckResult.objects.filter(backend=backend)[:20]
        context["events"] = HealthEvent.objects.filter(backend=backend)[:20]
        rng = charts.RANGES.get(request.GET.get("range", "hour")) or charts.RANGES["hour"]
        end = timezone.now()
        context["range"] = rng
        context["ranges"] = charts.RANGES.values()
        context["used_svg"] = charts.svg(
            charts.backend_series(backend, rng),
            end - rng.span,
            end,
            title=f"Swap used on {backend.name}, {rng.label}",
            unit="bytes",
        )
        if _offerable(backend, actions.BY_NAME["resize"]):
            context["resize_form"] = ResizeForm(
                initial={"size_mib": (backend.size_bytes or 0) // MIB or None}
            )
        context["settings_forms"] = settings_forms(backend)
    return page(request, "backend.html", context, ("live", "chart"))


@require_POST
@viewer_required
def backend_action(request: HttpRequest, code: UUID, action: str) -> HttpResponse:
    backend = get_object_or_404(Backend.objects.select_related("host"), uuid=code)
    spec = actions.BY_NAME.get(action)
    if spec is None:
        return HttpResponse(status=404)
    if not can(request.user, action):
        return refuse(request, action, backend)
    force = request.POST.get("force") in ("on", "true", "1")
    if force and not can(request.user, "force"):
        return refuse(request, "force", backend)
    back = next_url(request, reverse("backend", args=[backend.uuid]))
    params: dict[str, Any] = {}
    if spec.force:
        params = {"force": force, "confirm": request.POST.get("confirm", "")}
    elif spec.page_form or (
        # The settings form under the actions; the one-click buttons send none (defaults).
        spec.settings and set(request.POST) & set(ACTION_FORMS[action].base_fields)
    ):
        form = ACTION_FORMS[action](request.POST)
        if not form.is_valid():
            return _invalid(request, services.InvalidRequest(_messages(form)), back)
        params = form.params()
    try:
        job = services.request_action(backend, spec.name, actor(request), params)
    except services.Conflict as e:
        return _busy(request, e, back)
    except services.NotReady as e:
        return _refused(request, e.message, back)
    except services.InvalidRequest as e:
        # An action that loses something goes through the page that says what, as does a
        # refused force; a "force" sent for an action that takes none is not one, and one
        # the page may not offer here (an adopted area's provision) has no such page.
        if _offerable(backend, spec) and (spec.asks_first or (force and spec.force)):
            return _confirm_page(request, backend, spec, ConfirmForm(request.POST), e)
        return _invalid(request, e, back)
    if spec.desired_after == "absent":  # its page is about to go
        back = host_url(backend.host)
    return _queued(request, job, back)


def settings_forms(backend: Backend) -> list[tuple[str, str, str, Any]]:
    """The settings forms (scan, benchmark, burn-in) a backend can use: (action, label, what
    it does, form); on an adopted area, only those of the actions it may be offered."""
    with_settings = [actions.BY_NAME[n] for n in SETTINGS_FORMS]
    return [
        (a.name, a.label, a.settings_help, SETTINGS_FORMS[a.name](auto_id=f"id_{a.name}_%s"))
        for a in with_settings
        if _offerable(backend, a)
    ]


def _kind_says(plugin: type[SwapBackend] | None, hook: str, *args: Any) -> Any:
    """What a kind's plugin answers to one of its class's questions for a page (prose, a
    form's opening values); what any kind answers, for a kind not installed here or whose
    plugin fails to answer, or answers with the wrong type: one broken plugin takes no page
    down."""
    # Any kind's answer, given as this kind (its label, say).
    default = getattr(SwapBackend, hook).__func__(plugin or SwapBackend, *args)
    if plugin is None:
        return default
    try:
        said = getattr(plugin, hook)(*args)
    except Exception:
        log.exception("the %s plugin failed to answer %s", plugin.name, hook)
        return default
    if not isinstance(said, type(default)):
        log.error("the %s plugin answered %s with %r", plugin.name, hook, said)
        return default
    # A plain str, not a str subclass a plugin marked safe: the page escapes what it says.
    return _plain(said) if isinstance(said, str) else said


def _plain(value: object) -> str:
    """``value`` as an exact str: a str subclass a plugin marked safe would reach the page
    unescaped (``str()`` of Django's SafeString is itself)."""
    return str.__str__(value) if isinstance(value, str) else str.__str__(str(value))


def _what_is_lost(backend: Backend, action: str) -> list[str]:
    """In plain words, what ``action`` on ``backend`` loses, for its confirmation page: the
    words of the function its table entry names (``loses``)."""
    words = LOSES.get(action)
    return words(backend, backend.swap_path or backend.name) if words else []


def destroy_loses(backend: Backend, path: str) -> list[str]:
    out = []
    if backend.observed_state == Backend.Observed.ACTIVE:
        out.append(
            f"It is active: the kernel first moves the pages swapped to it "
            f"({_size(backend.used_bytes)}) back into RAM, and refuses if they do not fit."
        )
    if backend.adopted:
        out.append(f"swapadmin stops managing {path}; the {backend.kind} itself is kept.")
    else:
        out.append(
            _kind_says(_plugin(backend.kind), "destroy_removes", path, _size(backend.size_bytes))
        )
    if backend.persist:
        out.append("Its fstab line is removed.")
    out.append("Its jobs and audit trail are kept.")
    return out


def deactivate_loses(backend: Backend, path: str) -> list[str]:
    return [f"The kernel moves the {_size(backend.used_bytes)} swapped to {path} back into RAM."]


def provision_loses(backend: Backend, path: str) -> list[str]:
    return [
        f"Nothing, unless you force it. Forced, whatever {path} holds now (a filesystem, "
        "a file swapadmin did not make) is overwritten with a swap area. The worker says "
        "what it found there in the last provision's log."
    ]


#: Each action's words on what it loses: the function its table entry names (``loses``).
LOSES: dict[str, Callable[[Backend, str], list[str]]] = {
    a.name: globals()[a.loses] for a in actions.BACKEND_ACTIONS if a.loses
}


def _size(n: int | None) -> str:
    return iec(n or 0)


def _confirm_page(
    request: HttpRequest,
    backend: Backend,
    spec: actions.BackendAction,
    form: ConfirmForm,
    error: services.InvalidRequest | None = None,
) -> HttpResponse:
    if error is not None:
        for key, msgs in error.errors.items():
            for m in msgs:
                form.add_error(key if key in form.fields else None, m)
    context = {
        "backend": backend,
        "host": backend.host,
        "action": spec.name,
        "form": form,
        "lost": _what_is_lost(backend, spec.name),
        "may_force": spec.force and can(request.user, "force"),
        "force_skips": spec.force_skips,
    }
    return render(request, "confirm.html", context, status=422 if error else 200)


@require_GET
@viewer_required
def backend_confirm(request: HttpRequest, code: UUID, action: str) -> HttpResponse:
    backend = get_object_or_404(Backend.objects.select_related("host"), uuid=code)
    spec = actions.BY_NAME.get(action)
    if spec is None or not (spec.force or spec.asks_first):
        return HttpResponse(status=404)
    if not _offerable(backend, spec):  # its confirm page would ask for what is refused
        return HttpResponse(status=404)
    if not can(request.user, action):
        return refuse(request, action, backend)
    return _confirm_page(request, backend, spec, ConfirmForm())


# ---- new backend ----


@viewer_required
def backend_new(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "create"):
        return refuse(request, "create", None)
    data = request.POST if request.method == "POST" else request.GET
    kinds = list(registry())
    # A swap file is what most hosts want, so it is the kind the form opens with.
    plugin = _plugin(data.get("kind", "")) or _plugin("file") or (kinds[0] if kinds else None)
    if plugin is None:
        return render(request, "backend_new.html", {"kinds": []}, status=503)
    hosts = list(Host.objects.all())
    host = next((h for h in hosts if str(h.uuid) == data.get("host")), hosts[0] if hosts else None)
    context: dict[str, Any] = {
        "kinds": [Kind.of(k) for k in kinds],
        "plugin": Kind.of(plugin),
        "hosts": hosts,
        "host": host,
    }
    if request.method != "POST":
        initial = {"host": host.uuid if host else None, "kind": plugin.name}
        opening = _kind_says(plugin, "form_initial", list(host.swap_roots) if host else [])
        initial.update({f"param_{k}": v for k, v in opening.items()})
        context["form"] = NewBackendForm(initial=initial, plugin=plugin)
        return page(request, "backend_new.html", context, ("new-form",))
    form = NewBackendForm(request.POST, plugin=plugin)
    context["form"] = form
    step = request.POST.get("step", "review")
    if step == "edit":
        # Back from the summary to the form, with what was typed.
        return page(request, "backend_new.html", context, ("new-form",))
    if not form.is_valid():
        return page(request, "backend_new.html", context, ("new-form",), status=422)
    kwargs = form.request_kwargs()
    if kwargs["force"] and not can(request.user, "force"):
        return refuse(request, "force", None)
    try:
        services.validate_backend(
            kwargs["host"], plugin.name, kwargs["name"], kwargs["size_bytes"], kwargs["params"]
        )
        # Refused at the review already, not only when creating.
        services._check_force(kwargs["force"], kwargs["confirm"], kwargs["name"])
        services.check_discard(plugin.name, kwargs.get("discard") or "")
        if step == "create":
            job = services.create_backend(**kwargs, actor=actor(request))
        else:
            context["summary"] = creation_summary(plugin, kwargs)
            return page(request, "backend_new.html", context, ("new-form",))
    except services.InvalidRequest as e:
        form.add_service_errors(e)
        return page(request, "backend_new.html", context, ("new-form",), status=422)
    assert job.backend is not None
    doing = "provisioning and activation" if kwargs["activate"] else "provisioning"
    messages.success(request, f"{job.backend.name}: {doing} queued (job {job.uuid}).")
    return _go(request, reverse("backend", args=[job.backend.uuid]))


def creation_summary(plugin: type[SwapBackend], kw: dict[str, Any]) -> list[str]:
    """What creating this backend will do, step by step, in the words a sysadmin uses."""
    host: Host = kw["host"]
    size = _size(kw["size_bytes"]) if kw["size_bytes"] else "the device's size"
    params = kw["params"]
    where = params.get("path") or params.get("device") or ""
    steps = [f"On {host.name}, register a {plugin.label.lower()} named “{kw['name']}”."]
    steps.append(_kind_says(plugin, "creation_prepares", where, size))
    label = f" with label “{kw['label']}”" if kw["label"] else ""
    steps.append(f"Write a swap signature (mkswap){label}.")
    at = f" at priority {kw['priority']}" if kw["priority"] is not None else ""
    if kw.get("activate"):
        steps.append(f"Then activate it (swapon){at}, in the same job: the kernel uses it.")
    else:
        steps.append(
            "It stays inactive: nothing changes in the kernel until you activate it"
            + (f", then{at}" if at else "")
            + "."
        )
    if kw["persist"]:
        steps.append("When activated, an fstab line keeps it across reboots.")
    if kw.get("auto_repair"):
        steps.append("Health checks bring it back to its desired state when it drifts.")
    if kw.get("force"):
        steps.append(
            f"Forced: whatever {where or 'the store'} holds now (a filesystem, a file swapadmin "
            "did not make) is overwritten with a swap area."
        )
    return steps


# ---- edit a backend ----


def _edit_initial(backend: Backend) -> dict[str, Any]:
    return {
        "label": backend.label,
        "priority": backend.priority,
        "discard": backend.discard,
        "persist": backend.persist,
        "auto_repair": backend.auto_repair,
        "apply": edits.APPLY_LATER,
    }


@viewer_required
def backend_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    """The edit page (core/edits.py): label, priority and discard (now or at the next
    activation), persist, auto-repair. A change on the host is a job; the page says which."""
    backend = get_object_or_404(Backend.objects.select_related("host"), uuid=code)
    if not can(request.user, "settings"):
        return refuse(request, "settings", backend)
    context: dict[str, Any] = {
        "backend": backend,
        "host": backend.host,
        "plugin": Kind.of(_plugin(backend.kind)),
        "live_job": services.live_job_for(backend),
    }
    # The fstab field where a persist could be asked, or where the row is set to persist.
    persist_offered = backend.persist or _offerable(backend, actions.BY_NAME["persist"])
    if request.method != "POST":
        context["form"] = EditBackendForm(
            initial=_edit_initial(backend), persist_offered=persist_offered
        )
        return page(request, "backend_edit.html", context, ("edit-form",))
    form = EditBackendForm(request.POST, persist_offered=persist_offered)
    context["form"] = form
    if not form.is_valid():
        return page(request, "backend_edit.html", context, ("edit-form",), status=422)
    back = reverse("backend", args=[backend.uuid])
    changes = form.changes(backend)
    try:
        if set(changes) == {"apply"}:
            done = edits.Edit(backend, None, {})  # the form as it was: nothing to ask
        else:
            done = edits.edit_backend(backend, actor(request), changes)
    except services.InvalidRequest as e:
        form.add_service_errors(e)
        return page(request, "backend_edit.html", context, ("edit-form",), status=422)
    except services.Conflict as e:
        form.add_error(None, f"{e.message}; try again")
        return page(request, "backend_edit.html", context, ("edit-form",), status=409)
    except services.NotReady as e:
        form.add_error(None, e.message)
        return page(request, "backend_edit.html", context, ("edit-form",), status=409)
    if done.job is not None:
        message = f"{backend.name}: {done.job.kind_word} queued (job {done.job.uuid})."
    elif done.changes:
        message = f"{backend.name}: saved ({', '.join(sorted(done.changes))})."
    else:
        message = f"{backend.name}: nothing changed."
    messages.success(request, message)
    return _go(request, back)


# ---- jobs and audit ----


@require_GET
@viewer_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = list(Job.objects.select_related("host", "backend", "requested_by")[:100])
    live = any(j.state in Job.LIVE for j in jobs)
    context = {"jobs": jobs, "poll": "1s" if live else None}
    status = STOP_POLLING if htmx_of(request) and not live else 200
    return page(request, "jobs.html", context, ("live",), status=status)


@require_GET
@viewer_required
def job_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    job = get_object_or_404(
        Job.objects.select_related("host", "backend", "requested_by"), uuid=code
    )
    live = job.state in Job.LIVE
    context = {"job": job, "poll": "1s" if live else None, "result": readable(job)}
    if job.state == Job.State.RUNNING and job.cancel_requested:
        # What the person who asked was told, kept on the page after its message is gone.
        context["asked"] = _asked_to_stop(job)
    status = STOP_POLLING if htmx_of(request) and not live else 200
    return page(request, "job.html", context, ("live",), status=status)


@require_POST
@viewer_required
def job_cancel(request: HttpRequest, code: UUID) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("host"), uuid=code)
    if not can(request.user, "cancel"):
        return refuse(request, "cancel", job)
    own_page = reverse("job", args=[job.uuid])
    back = next_url(request, own_page)
    what = f"{job.kind_word} job"
    try:
        answer = services.cancel_job(job, actor(request))
    except Job.DoesNotExist as e:
        # Gone since the page was drawn: said on the page the cancel came from, or on the
        # job list if that was the job's own, which is no more.
        messages.error(request, f"{what} not cancelled: {e}.")
        return _go(request, reverse("jobs") if urlsplit(back).path == own_page else back)
    if answer is services.Cancel.REFUSED:
        return _refused(request, f"{what} {services.not_cancelled(job)}.", back)
    message = {
        services.Cancel.ENDED: f"{what} cancelled.",
        services.Cancel.ASKED: f"{what} {_asked_to_stop(job)}.",
        services.Cancel.CANCELLED: f"{what} cancelled already.",
    }[answer]
    if htmx_of(request):
        return flash(request, message)
    messages.info(request, message)
    return HttpResponseRedirect(back)


@require_GET
@viewer_required
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("host")
    pages = Paginator(events, 50)
    context = {"page": pages.get_page(request.GET.get("page"))}
    return page(request, "audit.html", context, ("table",))


# ---- answers to actions ----


def _queued(
    request: HttpRequest,
    job: Job,
    back: str,
    partial: tuple[str, str, dict[str, Any]] | None = None,
) -> HttpResponse:
    what = job.backend_name or job.host.name
    message = f"{job.kind_word} {what}: queued"
    if job.waiting_reason:
        message += f" ({job.waiting_reason})"
    if htmx_of(request):
        if partial is not None:
            template, name, context = partial
            response = render(request, f"{template}#{name}", context)
            response.write(
                render(
                    request,
                    "flash.html",
                    {"flash": message, "level": "info", "oob": True, "job": job},
                ).content
            )
            response["HX-Trigger"] = "swapadmin:changed"
            return response
        response = render(request, "flash.html", {"flash": message, "level": "info", "job": job})
        response["HX-Trigger"] = "swapadmin:changed"
        return response
    messages.info(request, message)
    return HttpResponseRedirect(back)


def _messages(form: BaseForm) -> dict[str, list[str]]:
    """Each field's error messages. An ErrorList iterates as its messages (str), though the
    stubs give its items' type (ValidationError, str or a lazy string)."""
    return {k: cast(list[str], list(v)) for k, v in form.errors.items()}


def _busy(request: HttpRequest, e: services.Conflict, back: str) -> HttpResponse:
    return _refused(request, e.message, back)


def _asked_to_stop(job: Job) -> str:
    """What becomes of a running job asked to stop, for the person who asked (267/8): a
    worker stops it at its next check, and one past its last check finishes and logs that
    the cancel came too late; a worker that never confirms (its host offline, or stuck in
    a system call) has the job failed by the sweep at ``orphans.cancel_deadline``."""
    deadline = orphans.cancel_deadline(job)
    if deadline is None:
        then = "no time was recorded for the ask, so the sweep never fails it: cancel it again"
    else:
        by = timezone.localtime(deadline)
        # The date too when it is not today's: a grace of hours may run past midnight.
        day = "" if by.date() == timezone.localdate() else f"{by:%Y-%m-%d} "
        freed = " and its backend freed" if job.backend_id is not None else ""
        then = f"if its worker has not confirmed by {day}{by:%H:%M:%S}, the job is failed{freed}"
    if not job.host.online:
        return f"asked to stop, but its host {job.host.name} is offline: {then}"
    return f"asked to stop at its next check (one past its last finishes, and says so); {then}"


def _go(request: HttpRequest, target: str) -> HttpResponse:
    """To ``target``, with the messages queued: htmx follows ``HX-Redirect``."""
    if htmx_of(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def _refused(request: HttpRequest, message: str, back: str) -> HttpResponse:
    if htmx_of(request):
        return flash(request, message, "error", status=409)
    messages.error(request, message)
    return HttpResponseRedirect(back)


def _invalid(request: HttpRequest, e: services.InvalidRequest, back: str) -> HttpResponse:
    message = "; ".join(" ".join(v) for v in e.errors.values())
    if htmx_of(request):
        return flash(request, message, "error", status=422)
    messages.error(request, message)
    return HttpResponseRedirect(back)
