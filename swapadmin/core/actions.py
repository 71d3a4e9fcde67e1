"""Every action on a backend, once: the table the roles, the pages, the API, the services'
checks and the worker's handlers, job locks and claims read. A new action is one entry here,
its job kind in ``Job.Kind`` (and its migration), and its handler (in ``core/handlers.py``,
the function of the action's name, or registered by the app ``handled_by`` names). Its
parameters are whole-number ``settings`` here, or else a body serializer in
``api/serializers.py`` and the services' check the entry's ``checks`` names; what else is
still written per action is listed in docs/ARCHITECTURE.md.

Names are strings (a role's group name, a serializer's class name), not imports: this
module sits below everything that reads it, so that any of them may import it at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Where a backend stands, as its page sorts it to offer actions (``web.views.stage_of``):
#: its store never proven swapadmin's (``unproven``); provisioned but gone from the host
#: (``gone``); either of those with its destroy asked (``leaving``); in /proc/swaps
#: (``active``); whether it is in /proc/swaps cannot be told (``indeterminate``, as
#: observed: the services refuse all but a check there, so the page offers only that);
#: anything else: ready, not yet seen, in error, foreign (``inactive``).
Stage = Literal["unproven", "gone", "leaving", "inactive", "active", "indeterminate"]
#: Every stage.
STAGES: frozenset[Stage] = frozenset(
    {"unproven", "gone", "leaving", "inactive", "active", "indeterminate"}
)


MIB = 1 << 20


@dataclass(frozen=True)
class Setting:
    """A whole-number parameter of an action, written once: the API's body field, the page's
    settings field and the services' check are all made from it."""

    #: The key in the API's body and in the job's parameters.
    name: str
    #: The page's field label.
    label: str
    default: int
    low: int
    high: int
    #: The page's help under the field, and the API field's description.
    help: str
    #: The page asks in units of this many: MiB for a size in bytes.
    unit: int = 1

    @property
    def field(self) -> str:
        """The page's field name: the API's, in MiB for a size in bytes (``hog_mib``)."""
        return self.name.removesuffix("_bytes") + "_mib" if self.unit == MIB else self.name


@dataclass(frozen=True)
class BackendAction:
    #: The job's kind, the role map's key and the page's URL part (``burn_in``).
    name: str
    #: The button's word.
    label: str
    #: What it does, in one sentence: the API's description of its endpoint.
    summary: str
    #: The least role that may ask it: a group name of ``roles.GROUPS``.
    role: Literal["operator", "admin"]
    #: The API's body serializer: a class of ``swapadmin/api/serializers.py``, by name; for
    #: an action with ``settings``, the name of the class made from them (``body_of``).
    body: str
    #: The API's URL part for ``POST /backends/{uuid}/<api_path>/``; None when the API asks
    #: it another way (destroy is ``DELETE /backends/{uuid}/``).
    api_path: str | None
    #: It takes ``force``, which overrides its refusal (what the store holds, the RAM
    #: check, an active area) and needs the backend's name typed: the API's ``confirm``, the
    #: page's confirm form.
    force: bool = False
    #: What force skips, as its confirm page says it ("Force skips …"): an action that
    #: takes force names it, and only one that does.
    force_skips: str = ""
    #: The page asks first, on its confirm page, even without force: it loses something.
    asks_first: bool = False
    #: It only reads, so it runs beside whatever job holds the backend (never a 409).
    reads_only: bool = False
    #: It may be asked of a backend whose store was never proven its own (never provisioned).
    before_provision: bool = False
    #: The backend's desired state once asked (``Backend.Desired``), which drift is judged
    #: by; None if it leaves it as it is.
    desired_after: Literal["active", "inactive", "absent"] | None = None
    #: Where the page offers its one-click button. The worker has the last word: this only
    #: hides what cannot work now.
    offered_in: frozenset[Stage] = frozenset()
    #: The page's button for it is the primary one, not a secondary: the action that puts
    #: the area to use where it stands (provision, activate).
    primary: bool = False
    #: Where the page links to its confirm page (``Force…``, ``Destroy…``): for a forced
    #: action, where force can change the answer; for one that asks first, where it is asked.
    confirm_in: frozenset[Stage] = frozenset()
    #: What it would write of an area swapadmin did not make (adopted), as the refusal
    #: says it ("a scan writes …"): an action that names one is never asked of such an
    #: area, plain or forced. The request is refused, the worker refuses a queued job
    #: before the plugin is built, and the page neither offers nor links it. "" for an
    #: action that writes none of the area's bytes (a burn-in's pages are the kernel's own
    #: swap; swapon, swapoff and persist write none).
    adopted_writes: str = ""
    #: What a kind must say of itself to be asked it: the name of a ``SwapBackend`` class
    #: attribute that is True for such a kind (``resizable``); "" for an action any kind
    #: may be asked. Of any other kind it is refused at the request, by the worker before the
    #: plugin is attached, and the page does not offer it.
    kind_can: str = ""
    #: The refusal's words for a kind that cannot, after "an area of the <label> kind".
    kind_cannot: str = ""
    #: An adopted area whose fstab line was recorded when it was adopted may be asked it
    #: whatever its kind can say (``services.adopted_line``): that line is its own, and the
    #: worker keeps or removes it as it is spelled (persist).
    own_line_will_do: bool = False
    #: Its whole-number parameters (scan's patterns, burn-in's memory limit), from which its
    #: API body, its page settings form and the services' check are made; an action with
    #: other parameters has its serializer (``body``) and a check in the services.
    settings: tuple[Setting, ...] = ()
    #: The page's sentence over its settings form, for an action that has settings.
    settings_help: str = ""
    #: Its other parameters' check: the function of ``core/services.py`` of this name takes
    #: the backend and the body and returns the job's parameters, or raises InvalidRequest
    #: naming the field; "" for an action whose only parameters are force or settings.
    checks: str = ""
    #: Its checked parameters that are also the backend's own settings from then on,
    #: written to its row when the job is queued: a persist's ``persist``, an activate's
    #: ``priority`` (kept for the next swapon, at boot and by the health check's repair).
    kept_on_the_row: tuple[str, ...] = ()
    #: The page's form of its parameters other than force and settings: a class of
    #: ``web/forms.py`` by name, whose ``params()`` is the body the services check.
    page_form: str = ""
    #: Its confirm page's words on what it loses: the function of ``web/views.py`` of this
    #: name takes the backend and its path and returns sentences; "" for none. An action
    #: that takes force or asks first names one (the action table's test pins it).
    loses: str = ""
    #: The function of ``web/results.py`` of this name reads its finished job's result on
    #: the job page as a person would (a scan's bad pages, a check's findings); "" for an
    #: action whose result is read as the top-level figures any job has (``results.other``).
    result_shown_by: str = ""
    #: The app whose code runs it on the worker: core's handlers are the functions of
    #: ``core/handlers.py`` named for the action; another app registers its own from its
    #: ``AppConfig.ready()`` (``handlers.register``), so core imports nothing of it.
    handled_by: Literal["core", "health"] = "core"


BACKEND_ACTIONS: tuple[BackendAction, ...] = (
    BackendAction(
        "provision",
        "Provision",
        "Provision again: take the store and write the swap header. For a backend whose "
        "first provision was refused; ``force`` (with the name typed) overwrites what the store "
        "holds, and applies to the device the first attempt found.",
        "admin",
        "ProvisionSerializer",
        "provision",
        force=True,
        force_skips="the check of what the store holds (a filesystem, a partition table, a "
        "file swapadmin did not make), which the provision overwrites",
        before_provision=True,
        adopted_writes="a provision takes its store and writes a swap header on it",
        offered_in=frozenset({"unproven", "gone"}),
        primary=True,
        confirm_in=frozenset({"unproven"}),
        loses="provision_loses",
    ),
    BackendAction(
        "activate",
        "Activate",
        "swapon, with the backend's priority (or the one given) and discard policy.",
        "operator",
        "ActivateSerializer",
        "activate",
        checks="clean_activate",
        kept_on_the_row=("priority",),
        page_form="ActivateForm",
        desired_after="active",
        offered_in=frozenset({"inactive"}),
        primary=True,
    ),
    BackendAction(
        "deactivate",
        "Deactivate",
        "swapoff, refused when the RAM left could not take the area's pages (unless forced).",
        "operator",
        "ForceSerializer",
        "deactivate",
        force=True,
        force_skips="the check that the pages swapped to it fit in the RAM left",
        desired_after="inactive",
        offered_in=frozenset({"active"}),
        confirm_in=frozenset({"active"}),
        loses="deactivate_loses",
    ),
    BackendAction(
        "scan",
        "Scan",
        "Write and read back test patterns over an inactive area; bad pages are recorded.",
        "operator",
        "ScanSerializer",
        "scan",
        adopted_writes="a scan writes test patterns on every page of it but the header",
        result_shown_by="scan",
        settings_help="Writes and reads back patterns on every page of an inactive area.",
        settings=(Setting("patterns", "Patterns", 4, 1, 4, "Test patterns per page, 1 to 4."),),
        offered_in=frozenset({"inactive"}),
    ),
    BackendAction(
        "benchmark",
        "Benchmark",
        "Measure page-in and page-out throughput and latency of an inactive area.",
        "operator",
        "BenchmarkSerializer",
        "benchmark",
        adopted_writes="a benchmark writes every page of it but the header",
        result_shown_by="benchmark",
        settings_help="Measures page throughput and latency of an inactive area.",
        settings=(Setting("seconds", "Seconds", 5, 1, 120, "1 to 120."),),
        offered_in=frozenset({"inactive"}),
    ),
    BackendAction(
        "burn_in",
        "Burn-in",
        "Make the kernel really swap to this area with a memory hog in a limited cgroup.",
        "operator",
        "BurnInSerializer",
        "burn-in",
        settings_help="Makes the kernel swap to an active area, under a memory limit.",
        result_shown_by="burn_in",
        settings=(
            Setting("seconds", "Seconds", 30, 1, 3600, "1 to 3600."),
            Setting(
                "memory_limit_bytes",
                "Memory limit (MiB)",
                64 * MIB,
                16 * MIB,
                1 << 40,
                "The hog's cgroup may hold this much in RAM; the rest is swapped.",
                MIB,
            ),
            Setting(
                "hog_bytes",
                "Hog size (MiB)",
                160 * MIB,
                16 * MIB,
                1 << 40,
                "Memory the hog touches; above the limit, it swaps.",
                MIB,
            ),
        ),
        offered_in=frozenset({"active"}),
    ),
    BackendAction(
        "resize",
        "Resize",
        "Grow or shrink an area whose kind resizes, keeping its label and UUID.",
        "admin",
        "ResizeSerializer",
        "resize",
        checks="clean_resize",
        adopted_writes="a resize truncates or resets it and writes a new swap header",
        kind_can="resizable",
        kind_cannot="cannot be resized",
        page_form="ResizeForm",
    ),
    BackendAction(
        "persist",
        "Persist",
        "Add (true) or remove (false) the area's fstab line.",
        "admin",
        "PersistSerializer",
        "persist",
        checks="clean_persist",
        kind_can="persistable",
        kind_cannot="does not survive a reboot under the same name, so it cannot be kept in "
        "the fstab",
        own_line_will_do=True,
        kept_on_the_row=("persist",),
        page_form="PersistForm",
    ),
    BackendAction(
        "check",
        "Check",
        "Run the backend's health check now.",
        "operator",
        "EmptySerializer",
        "check",
        reads_only=True,
        before_provision=True,
        result_shown_by="check",
        handled_by="health",
        offered_in=STAGES,
    ),
    BackendAction(
        "destroy",
        "Destroy",
        "Queue the destroy job: deactivate if needed, release the store, remove the file.",
        "admin",
        "ForceSerializer",
        None,
        force=True,
        force_skips="the check that the pages swapped to it, if it is active, fit in the RAM left",
        asks_first=True,
        before_provision=True,
        desired_after="absent",
        confirm_in=STAGES,
        loses="destroy_loses",
    ),
)

#: The same, by name.
BY_NAME: dict[str, BackendAction] = {a.name: a for a in BACKEND_ACTIONS}
#: The actions that only read: they neither wait for a backend's other jobs nor hold them up.
READS_ONLY = frozenset(a.name for a in BACKEND_ACTIONS if a.reads_only)
#: What a backend whose store was never proven its own may still be asked.
BEFORE_PROVISION = frozenset(a.name for a in BACKEND_ACTIONS if a.before_provision)


def kind_word(kind: str) -> str:
    """A job kind as the pages say it ("burn-in"), for its words; a kind no backend action
    names (discover, tune) as it is."""
    spec = BY_NAME.get(kind)
    return spec.label.lower() if spec else kind
