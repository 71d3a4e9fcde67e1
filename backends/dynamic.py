"""Dynamic swap's decision, as swapspace and systemd-swap's swapfc make it, but as a pure
function: the control plane calls it with what it knows (the policy, the host's latest
reading, the files the policy added) and turns its answer into the same signed provision,
activate, deactivate and destroy jobs any backend gets. Nothing here reads the machine or
the database, so every rule (limits, cool-down, hysteresis) is tested without either.

One decision at a time per host: add one file, turn one of its files that is off on again,
remove one file, or nothing, always with the reason, which the host page shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

#: Names the policy gives its files: a user's backend can never be called this, so the
#: policy's files and a user's never collide (``swapadmin.core.services`` refuses it).
RESERVED_PREFIX = "dyn-"

#: The most a file may hold and still count as unused. A few pages stay in an area no one
#: uses: an idle daemon's page that kswapd moved there, or the swap-cache copy of a page whose
#: process exited while it was locked (the kernel frees those only under memory pressure or
#: at swapoff). Requiring none kept such a file for ever, which neither swapspace nor swapfc
#: does; the deactivate job's swapoff brings them back into RAM, within the RAM check.
STRAY_MAX_BYTES = 4 << 20


def stray_bytes(size_bytes: int) -> int:
    """What a file of ``size_bytes`` may hold and still count as unused: a sixteenth of it,
    at most ``STRAY_MAX_BYTES``."""
    return min(STRAY_MAX_BYTES, max(0, size_bytes) // 16)


class Action(StrEnum):
    ADD = "add"
    #: Turn on a file of the policy that is there and off (after a reboot: the policy's
    #: files have no fstab line): it counts against the limits already.
    ACTIVATE = "activate"
    REMOVE = "remove"
    NONE = "none"


@dataclass(frozen=True)
class Rules:
    """A host's policy, as the decision needs it."""

    #: Keep at least this much swap free; below it a file is added.
    min_free_bytes: int
    #: Add a file when memory PSI ``some`` avg10 (percent) reaches this; None: PSI is ignored.
    psi_some_above: float | None
    file_size_bytes: int
    max_files: int
    max_total_bytes: int
    #: A file holding no more than its stray pages (``stray_bytes``) this long may be removed.
    unused_for_seconds: float
    #: No new action sooner than this after the previous one.
    cooldown_seconds: float


@dataclass(frozen=True)
class Reading:
    """The host's latest sample."""

    swap_total: int
    swap_free: int
    psi_some_avg10: float
    #: How old the sample is, by the database's clock.
    age_seconds: float


@dataclass(frozen=True)
class File:
    """A file the policy added and still owns."""

    name: str
    size_bytes: int
    used_bytes: int
    active: bool
    #: Seconds since it was last seen holding more than its stray pages (or since it was
    #: activated, if never).
    idle_seconds: float
    #: Whether it is active cannot be told (its path cannot be named): ``active`` and
    #: ``used_bytes`` are as last seen, and nothing is asked of it until a look can tell.
    untold: bool = False
    #: Why it may not be removed now, however idle (destroys of it failed and the wait
    #: their number sets since the latest has not passed; its store may be on a filesystem
    #: that is not mounted), or "" when it may.
    kept: str = ""
    #: It was provisioned and is there and off (the sampler reads it READY: it looks by
    #: name, so the activate job's proof on the descriptor is what says it is the
    #: backend's), and no failed activate of it waits: an activate may turn it on. A file
    #: off for another reason (absent, never made) is not.
    ready: bool = False
    #: It was provisioned and is there and off, but activates of it failed and the wait
    #: they set has not passed: it is tried again after it, and at a limit makes room only
    #: after ``MAKE_ROOM_AFTER`` of them.
    waiting: bool = False
    #: Activates of it that failed since its latest activate that succeeded. Counted of a
    #: file that is there only (``ready`` or ``waiting``), the only ones whose count is read
    #: (the order ``_resume`` tries files in, ``_make_room``'s third kind): 0 for the others,
    #: which are not asked (a file that is not there makes room whatever its count).
    failed_turn_ons: int = 0
    #: It is not there to turn on: the host reads it absent (gone), or its provision never
    #: completed (never made, whatever its row reads: a file its provision left is not the
    #: backend's to use, and the destroy that removes the row proves it before it removes
    #: anything). A provisioned file whose row reads an error (a read that failed, a header
    #: that cannot be used: the store may well be there, and the error may pass) or whose
    #: store is another's is not: neither is removed to make room so (review 194/2, 198/5).
    absent: bool = False


class Held(StrEnum):
    """Why nothing is done, for the caller to tell a lasting state from a passing one."""

    OFF = "off"
    NO_SAMPLE = "no-sample"
    STALE = "stale"
    WAITING = "waiting"
    COOLDOWN = "cooldown"
    LIMIT = "limit"
    ENOUGH = "enough"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    #: The file to remove (REMOVE) or to turn on (ACTIVATE), or the name for the new one
    #: (ADD).
    name: str = ""
    #: With NONE: which rule held the policy back.
    held: Held | None = None


@dataclass(frozen=True)
class Situation:
    """What else the decision must know of the host."""

    #: A job of one of the policy's files is queued or running (what it is, for the reason).
    in_flight: str = ""
    #: Seconds since the policy's last add, file turned on, remove or refused swapoff, None
    #: if it never acted.
    since_last_action: float | None = None
    #: A reading older than this is stale: the host is not heard from, nothing is decided.
    stale_after_seconds: float = 45.0
    #: Why no file may be added yet though swap is short (the latest adds failed: see
    #: ``retry_after``), "" if one may. Removing an unused file is still allowed.
    adds_held: str = ""
    #: The files a room plan under way still has to remove: the policy's latest action, a
    #: moment ago, removed a file to make room and named these as to go too (``MORE_TO_GO``,
    #: ``still_to_go``). Empty when no plan is under way (``_room_plan``).
    finishing_room: frozenset[str] = frozenset()


#: The longest wait between two tries of an add that keeps failing (a full disk, a missing
#: swap root): a retry an hour costs a provision and a destroy, not a stream of them.
MAX_RETRY_SECONDS = 3600.0


def retry_after(failures: int, cooldown_seconds: float) -> float:
    """Seconds to wait after the latest of ``failures`` adds that failed in a row (or of a
    file's failed destroys) before trying another: the cool-down (at least a round's minute),
    doubled for each failure, up to ``MAX_RETRY_SECONDS``. Without it a provision that
    always fails is retried every round for ever, each try a file created and destroyed,
    jobs and audit rows."""
    if failures <= 0:
        return 0.0
    base = max(cooldown_seconds, 60.0)
    return min(base * 2.0 ** min(failures, 32), MAX_RETRY_SECONDS)


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def _kib(n: int) -> str:
    return f"{n / 2**10:.0f} KiB"


def next_name(taken: set[str]) -> str:
    """The first free ``dyn-<n>``."""
    n = 1
    while f"{RESERVED_PREFIX}{n}" in taken:
        n += 1
    return f"{RESERVED_PREFIX}{n}"


def short_of_swap(rules: Rules, reading: Reading) -> str:
    """Why swap must be added now, or "" if it need not."""
    if reading.swap_free < rules.min_free_bytes:
        return f"free swap {_mib(reading.swap_free)} is below {_mib(rules.min_free_bytes)}"
    if rules.psi_some_above is not None and reading.psi_some_avg10 >= rules.psi_some_above:
        return (
            f"memory pressure (PSI some avg10) {reading.psi_some_avg10:.1f}% reached "
            f"{rules.psi_some_above:.1f}%"
        )
    return ""


def decide(
    rules: Rules, reading: Reading | None, files: list[File], situation: Situation, *,
    taken_names: set[str] | None = None,
) -> Decision:  # fmt: skip
    """Add one file, turn one that is off on, remove one, or nothing, with the reason.

    While swap is short, a file of the policy that is there and off is turned on before
    any is added: it is counted against the limits already.

    Hysteresis: a file that is on is removed only while swap is not short, and only if free
    swap after its removal stays at least half a file above the threshold, so the removal
    itself can never call for an add (at a limit while swap is short, a file that is off
    and cannot be turned on may go to make room: ``_make_room``); an add is never followed
    by the removal of a file that holds, or held within ``unused_for_seconds``, more than
    its stray pages (``stray_bytes``). The cool-down spaces actions, and one action in
    flight holds every other.
    """
    if reading is None:
        return Decision(Action.NONE, "no sample from the host yet", held=Held.NO_SAMPLE)
    if reading.age_seconds > situation.stale_after_seconds:
        return Decision(
            Action.NONE,
            f"the latest sample is {reading.age_seconds:.0f} s old: the host is not heard "
            "from, nothing is decided for it",
            held=Held.STALE,
        )
    if situation.in_flight:
        return Decision(Action.NONE, f"waiting for {situation.in_flight}", held=Held.WAITING)
    if situation.since_last_action is not None and (
        situation.since_last_action < rules.cooldown_seconds
    ):
        left = rules.cooldown_seconds - situation.since_last_action
        return Decision(Action.NONE, f"cooling down ({left:.0f} s left)", held=Held.COOLDOWN)
    short = short_of_swap(rules, reading)
    if not short:
        return _remove(rules, reading, files)
    # The files that must go, one per round, before an add passes the limits; none of them
    # is turned on meanwhile, else the removals before were in vain (review 194/1). None
    # while adds wait: no room is made for an add that may not come.
    plan = [] if situation.adds_held else _room_plan(rules, files, situation.finishing_room)
    resume = _resume(rules, files, short, going=frozenset(f.name for f in plan))
    if resume is not None:
        # Before an add, and whatever the failed adds' wait: the file is counted already
        # (``_resume`` holds it to the room the files that are on leave), and turning it on
        # makes nothing new (review 185/1: after a reboot every file was off, counted, and
        # the policy said its limit was reached while the host ran short).
        return resume
    if situation.adds_held:
        return Decision(Action.NONE, f"{short}, but {situation.adds_held}", held=Held.COOLDOWN)
    return _add(rules, files, short, taken_names or {f.name for f in files}, plan)


def _resume(
    rules: Rules, files: list[File], short: str, going: frozenset[str] = frozenset()
) -> Decision | None:
    """Turn on a file of the policy that is off and ready (``File.ready``), or None if none
    may be. Which: of the ready files that fit in the room the files that are on leave
    (``_room_left``), while those are fewer than ``max_files``, the ones that never failed to
    turn on (``failed_turn_ons`` 0) before those that did, and of either the lowest-numbered
    (``_age``: ``dyn-2`` before ``dyn-10``). That is the oldest unless a removal freed a
    lower number a later add took again (``next_name``); ``_remove`` takes the highest
    first, so it is the one the policy keeps longest. Not a kept one: a file whose destroys
    failed waits as its removal does, else one whose activate fails (and the destroy that
    clears it up) were asked again every round. Not one of ``going``, the files
    ``_make_room`` removes one per round to let an add in."""
    on = sum(1 for g in files if g.active or g.untold)
    room = _room_left(rules, files)
    off = [
        f
        for f in files
        if f.ready
        and not (f.active or f.untold or f.kept)
        and f.name not in going
        and f.size_bytes <= room
    ]
    if not off or on + 1 > rules.max_files:
        return None
    # The lowest-numbered of those that fit: one too large for the room left may not block a
    # smaller one (review 190/4).
    # A file that failed to turn on before goes after those that did not (review 193/5).
    f = min(off, key=lambda f: (f.failed_turn_ons > 0, _age(f)))
    return Decision(Action.ACTIVATE, f"{short}: {f.name} is there and off, turning it on", f.name)


def _limit(rules: Rules, files: list[File]) -> str:
    """Which limit another file would pass, or "" if it may be added."""
    total = sum(f.size_bytes for f in files)
    if len(files) >= rules.max_files:
        return f"the limit of {rules.max_files} file(s) is reached"
    if total + rules.file_size_bytes > rules.max_total_bytes:
        return (
            f"another {_mib(rules.file_size_bytes)} would pass the limit of "
            f"{_mib(rules.max_total_bytes)} ({_mib(total)} added so far)"
        )
    return ""


def _add(
    rules: Rules, files: list[File], short: str, taken: set[str], plan: list[File]
) -> Decision:
    limit = _limit(rules, files)
    if limit:
        return _make_room(files, short, limit, plan, _room_left(rules, files)) or Decision(
            Action.NONE, f"{short}, but {limit}", held=Held.LIMIT
        )
    name = next_name(taken)
    return Decision(Action.ADD, f"{short}: adding {name} ({_mib(rules.file_size_bytes)})", name)


def _room_left(rules: Rules, files: list[File]) -> int:
    """The room the files that are on (or may be: untold) leave under ``max_total_bytes``:
    a file that is off may be turned on only within it (limits lowered since the files were
    made: an add would be refused by them too)."""
    return rules.max_total_bytes - sum(f.size_bytes for f in files if f.active or f.untold)


#: Failed activates after which a file that was on, and is off, may go to make room.
MAKE_ROOM_AFTER = 3


def _room_plan(
    rules: Rules, files: list[File], finishing: frozenset[str] = frozenset()
) -> list[File]:
    """The files to remove, in order and one per round, so that an add passes the limits;
    empty when one passes them already, or when no such files are. See ``_make_room``.
    ``finishing``: the files an earlier round's plan still has to remove
    (``Situation.finishing_room``)."""
    if not _limit(rules, files):
        return []
    room = _room_left(rules, files)
    # What must go: files for the count, bytes for the total.
    files_over = len(files) - rules.max_files + 1
    bytes_over = sum(f.size_bytes for f in files) + rules.file_size_bytes - rules.max_total_bytes
    order: list[File] = []
    for r in range(3):
        # Of the first kinds alone when they can make the room: two rows of files that are
        # not there go before one real file that would do alone (review 200/2).
        order += sorted(
            (f for f in files if _room_rank(f, room, f.name in finishing) == r),
            key=_age,
            reverse=True,
        )
        plan = _fewest(order, files_over, bytes_over)
        if plan:
            return plan
    return []


def _fewest(order: list[File], files_over: int, bytes_over: int) -> list[File]:
    """The fewest of ``order`` (at least ``files_over``) whose sizes reach ``bytes_over``;
    among as many, the first in ``order``; empty if none do."""
    largest = sorted((f.size_bytes for f in order), reverse=True)
    fewest = next(
        (n for n in range(max(files_over, 1), len(order) + 1) if sum(largest[:n]) >= bytes_over),
        None,
    )
    if fewest is None:
        return []
    # The first files in ``order`` that can still be completed to ``fewest`` which free
    # enough: a file is taken when the largest of those after it can make up the rest.
    plan: list[File] = []
    freed = 0
    for i, f in enumerate(order):
        if len(plan) == fewest:
            break
        after = sorted((g.size_bytes for g in order[i + 1 :]), reverse=True)
        if freed + f.size_bytes + sum(after[: fewest - len(plan) - 1]) >= bytes_over:
            plan.append(f)
            freed += f.size_bytes
    return plan


def _make_room(
    files: list[File], short: str, limit: str, plan: list[File], room: int
) -> Decision | None:
    """At a limit while swap is short, remove the first file of ``plan`` (``_room_plan``),
    the files that are off and cannot be turned on whose removal, one per round, lets an add
    pass the limits; or None when there is no such plan. Removing a file that is off frees
    no swap, so no hysteresis holds it; kept counted, such a file held every add for as
    long as swap stayed short (reviews 190/1, 190/2, 192/2, 193/2).

    The plan takes of the first kinds below alone when they can make the room (review
    200/2), then the fewest files of those whose removal lets the add in (198/3: the
    shortest run in the order removed a small file the add did not need gone), and among
    plans of as many, the one first in this order: first the files that are not there
    (``File.absent``: gone or never made; not one that reads an error, which may pass:
    194/2), then those too large for the room the files that are on leave
    (``_room_left``), then those whose activates failed ``MAKE_ROOM_AFTER`` times, while
    their wait is pending, or passed too when an earlier removal's plan is under way
    (``_room_rank``, 198/7) (a good file whose swapon failed once is tried
    again, not lost: 192/1, 193/1); the highest-numbered of each first. Never an untold or
    kept one: it may be on, or its destroy would be refused.

    A removal is chosen only when the whole plan lets the add in, and the next round
    continues it: a file keeps its kind from round to round (one not there stays so, its
    failed activates only grow, one too large for the room left stays so while no file
    that is on goes off; a file that vanishes joins the first kind, which may then make the
    room alone and change the plan: the removals before still counted toward it), and the
    plan is picked file by file in that order, each taken
    when the files after it can still complete it, so the plan the next round finds (one
    file fewer, as many bytes less to free) is the rest of this one, and
    ``decide`` turns none of its files on meanwhile. (A file that failed
    ``MAKE_ROOM_AFTER`` times counted only while its wait was pending, and once it passed
    was tried again instead: the file removed before it, for an add that needed both gone,
    went in vain: 194/1.) The reason names the files that must go after this one (194/5)."""
    if not plan:
        return None
    first, rest = plan[0], plan[1:]
    more = f"; {_names(rest)} {MORE_TO_GO}" if rest else ""
    return Decision(
        Action.REMOVE,
        f"{short}, but {limit}: {first.name} {_why_stuck(first, room)}, removing it to make "
        f"room{more}",
        first.name,
    )


def _names(files: list[File]) -> str:
    names = [f.name for f in files]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


#: How a removal to make room says the plan it began has more files to go: the control
#: plane reads it in the policy's latest action (``Situation.finishing_room``).
MORE_TO_GO = "must go too, one per round, before an add fits"


def still_to_go(reason: str) -> frozenset[str]:
    """The files a removal's ``reason`` names as to go too (``_make_room`` wrote it), or none.
    Read from its end only: what comes before may quote words that are not the policy's."""
    if not reason.endswith(" " + MORE_TO_GO):
        return frozenset()
    named = reason.removesuffix(" " + MORE_TO_GO).rpartition("; ")[2]
    return frozenset(n for n in named.replace(" and ", ", ").split(", ") if n)


def _room_rank(f: File, room: int, finishing: bool) -> int | None:
    """Which of ``_make_room``'s kinds of file ``f`` is, or None if it may not go.

    A file whose activates failed ``MAKE_ROOM_AFTER`` times and whose wait has passed
    (``ready``) is one only while an earlier removal's plan that named it is under way
    (``finishing``): then it is the rest of that plan, and turned on again instead, the
    removal before it went in vain (194/1). Otherwise nothing was removed for it, and
    removing it is what would be in vain (198/7): it was on before (its count runs from
    its latest activate that succeeded), so what refused its swapon is more likely the
    host's (too many swap areas, no memory for the swap map) than the file's, and a new
    file in its place would most likely fail the same, after a provision, and leave the
    policy with neither. The wait is there for it to be tried again, as a sysadmin would:
    ``_resume`` turns it on; if that fails too, it is waiting again, and goes then."""
    if f.active or f.untold or f.kept:
        return None
    if f.absent:
        return 0  # not there: gone, never made
    if f.ready and f.size_bytes > room:
        return 1
    if (f.waiting or (f.ready and finishing)) and f.failed_turn_ons >= MAKE_ROOM_AFTER:
        return 2
    return None


def _why_stuck(f: File, room: int) -> str:
    rank = _room_rank(f, room, finishing=True)  # chosen already: whichever kind it was
    if rank == 1:
        return f"is off and too large ({_mib(f.size_bytes)}) for the {_mib(room)} left"
    if rank == 2:
        return f"is off and failed to turn on {f.failed_turn_ons} times"
    return "is off and not there to turn on"


def _age(f: File) -> tuple[int, str]:
    """Lowest-numbered first: ``dyn-2`` before ``dyn-10`` (the oldest first, unless a removal
    freed a lower number a later add took again)."""
    return (len(f.name), f.name)


def _remove(rules: Rules, reading: Reading, files: list[File]) -> Decision:
    floor = rules.min_free_bytes + rules.file_size_bytes // 2
    # The newest first (the highest number): the oldest file stays longest, as swapspace does.
    for f in sorted(files, key=_age, reverse=True):
        if f.untold or f.kept:
            # Not "not active": it may be on and hold pages, or its destroy would be refused
            # again. The next newest may go instead.
            continue
        stray = stray_bytes(f.size_bytes)
        if f.used_bytes > stray or f.idle_seconds < rules.unused_for_seconds:
            continue
        # Its free space goes, and its stray pages come back into RAM at the swapoff: count
        # the whole file, so the pages cannot leave free swap short once they are out again.
        freed = f.size_bytes if f.active else 0
        # An inactive file holds no free swap: removing it changes nothing the rule sees.
        if f.active and reading.swap_free - freed < floor:
            continue
        # Not "no page": the idle time counts from the last reading above the stray bound.
        why = (
            f"{f.name} held no more than stray pages ({_kib(stray)} at most, "
            f"{_kib(f.used_bytes)} now) for {f.idle_seconds:.0f} s"
            if f.active
            else f"{f.name} is not active"
        )
        return Decision(
            Action.REMOVE,
            f"{why} and free swap stays {_mib(reading.swap_free - freed)} without it: removing it",
            f.name,
        )
    if files:
        untold = ", ".join(f.name for f in files if f.untold)
        return Decision(
            Action.NONE,
            f"free swap {_mib(reading.swap_free)} is enough; no file of the policy may go yet "
            f"(one goes when unused, stray pages aside, for {rules.unused_for_seconds:.0f} s "
            f"and free swap stays above {_mib(floor)} without it)"
            + (f"; whether {untold} is active cannot be told, so it stays" if untold else "")
            + "".join(f"; {f.name} stays: {f.kept}" for f in files if f.kept),
            held=Held.ENOUGH,
        )
    return Decision(Action.NONE, f"free swap {_mib(reading.swap_free)} is enough", held=Held.ENOUGH)


#: Bounds a policy's numbers must keep, with the reason a person reads when one is off.
MIN_FILE_BYTES = 16 << 20
MAX_FILES = 64
#: What the database's integer holds: a larger number is refused by name, not a crash.
MAX_BYTES = 2**63 - 1
MAX_SECONDS = 1e9


def problems(rules: Rules) -> dict[str, str]:
    """What is wrong with ``rules``, by field name; empty when they can be used."""
    out: dict[str, str] = {}
    for name in ("min_free_bytes", "file_size_bytes", "max_total_bytes"):
        if getattr(rules, name) > MAX_BYTES:
            out[name] = f"at most {MAX_BYTES} bytes (8 EiB)"
    for name in ("unused_for_seconds", "cooldown_seconds"):
        value = getattr(rules, name)
        if not math.isfinite(value) or value > MAX_SECONDS:
            out[name] = f"a number of seconds from 0 to {MAX_SECONDS:.0f}"
    if rules.min_free_bytes < 0:
        out["min_free_bytes"] = "free swap to keep must be 0 or more bytes"
    if rules.psi_some_above is not None and not 0 < rules.psi_some_above <= 100:
        out["psi_some_above"] = "a PSI threshold is a percentage above 0 and at most 100"
    if rules.file_size_bytes < MIN_FILE_BYTES:
        out["file_size_bytes"] = f"a file is at least {_mib(MIN_FILE_BYTES)}"
    if not 1 <= rules.max_files <= MAX_FILES:
        out["max_files"] = f"the number of files is from 1 to {MAX_FILES}"
    if rules.max_total_bytes < rules.file_size_bytes:
        out["max_total_bytes"] = "the total limit must hold at least one file"
    if rules.unused_for_seconds < 0 and "unused_for_seconds" not in out:
        out["unused_for_seconds"] = "the unused window is 0 or more seconds"
    if rules.cooldown_seconds < 0 and "cooldown_seconds" not in out:
        out["cooldown_seconds"] = "the cool-down is 0 or more seconds"
    return out
