"""The pure decision (backends/dynamic.py), without Django or the kernel: when a file is
added, when one is removed, and every rule that holds the policy back."""

from __future__ import annotations

from backends.dynamic import (
    Action,
    File,
    Held,
    Reading,
    Rules,
    Situation,
    decide,
    next_name,
    problems,
    stray_bytes,
)

MiB = 1 << 20
RULES = Rules(
    min_free_bytes=32 * MiB,
    psi_some_above=None,
    file_size_bytes=64 * MiB,
    max_files=2,
    max_total_bytes=128 * MiB,
    unused_for_seconds=60,
    cooldown_seconds=30,
)
CALM = Situation()


def reading(free_mib: float, *, total_mib: float = 256, psi: float = 0.0, age: float = 1.0):
    return Reading(int(total_mib * MiB), int(free_mib * MiB), psi, age)


def dyn(n: int, *, used: int = 0, idle: float = 3600, active: bool = True) -> File:
    return File(f"dyn-{n}", 64 * MiB, used, active, idle)


def test_it_adds_a_file_when_free_swap_is_below_the_threshold():
    d = decide(RULES, reading(10), [], CALM)
    assert d.action == Action.ADD and d.name == "dyn-1"
    assert "free swap 10 MiB is below 32 MiB" in d.reason


def test_it_adds_on_memory_pressure_when_asked_to():
    rules = Rules(**{**vars(RULES), "psi_some_above": 20.0})
    assert decide(rules, reading(200, psi=25.0), [], CALM).action == Action.ADD
    assert decide(rules, reading(200, psi=5.0), [], CALM).action == Action.NONE
    # Without a PSI threshold, pressure alone adds nothing.
    assert decide(RULES, reading(200, psi=99.0), [], CALM).action == Action.NONE


def test_the_next_name_skips_every_taken_one():
    d = decide(RULES, reading(10), [dyn(1)], CALM, taken_names={"dyn-1", "dyn-2"})
    assert d.name == "dyn-3"
    assert next_name(set()) == "dyn-1"


def test_the_count_limit_holds():
    d = decide(RULES, reading(5), [dyn(1, used=60 * MiB), dyn(2, used=60 * MiB)], CALM)
    assert d.action == Action.NONE and d.held == Held.LIMIT
    assert "limit of 2 file(s)" in d.reason


def test_the_total_limit_holds():
    rules = Rules(**{**vars(RULES), "max_files": 5, "max_total_bytes": 100 * MiB})
    d = decide(rules, reading(5), [dyn(1, used=60 * MiB)], CALM)
    assert d.action == Action.NONE and d.held == Held.LIMIT
    assert "limit of 100 MiB" in d.reason


def test_a_stale_or_missing_sample_decides_nothing():
    d = decide(RULES, reading(0, age=300), [], Situation(stale_after_seconds=45))
    assert d.action == Action.NONE and d.held == Held.STALE
    assert decide(RULES, None, [], CALM).held == Held.NO_SAMPLE


def test_one_action_in_flight_holds_every_other():
    d = decide(RULES, reading(0), [], Situation(in_flight="the provision job of dyn-1"))
    assert d.action == Action.NONE and d.held == Held.WAITING
    assert "dyn-1" in d.reason


def test_the_cool_down_spaces_actions():
    d = decide(RULES, reading(0), [], Situation(since_last_action=10))
    assert d.action == Action.NONE and d.held == Held.COOLDOWN and "20 s left" in d.reason
    assert decide(RULES, reading(0), [], Situation(since_last_action=30)).action == Action.ADD
    # Removals wait too.
    assert decide(RULES, reading(200), [dyn(1)], Situation(since_last_action=10)).held == (
        Held.COOLDOWN
    )


def test_an_unused_file_is_removed_newest_first():
    d = decide(RULES, reading(200), [dyn(1), dyn(2)], CALM)
    assert d.action == Action.REMOVE and d.name == "dyn-2"
    assert "dyn-2 held no more than stray pages (4096 KiB at most, 0 KiB now) for 3600 s" in (
        d.reason
    )


def test_a_file_in_use_or_used_lately_stays():
    # 4 MiB and a page: more than a 64 MiB file's stray pages.
    d = decide(RULES, reading(200), [dyn(1, used=4 * MiB + 4096), dyn(2, idle=59)], CALM)
    assert d.action == Action.NONE and d.held == Held.ENOUGH


def test_stray_pages_do_not_keep_a_file():
    # A daemon's page kswapd put there, or a dead process's swap-cache copy: the file still
    # goes, saying what it held, and its whole size counts against free swap.
    d = decide(RULES, reading(200), [dyn(1, used=4096)], CALM)
    assert d.action == Action.REMOVE and d.name == "dyn-1", d.reason
    assert "stray pages (4096 KiB at most, 4 KiB now)" in d.reason
    assert "free swap stays 136 MiB without it" in d.reason
    assert stray_bytes(64 * MiB) == 4 * MiB and stray_bytes(16 * MiB) == 1 * MiB
    assert stray_bytes(1 << 40) == 4 * MiB and stray_bytes(0) == 0


def test_hysteresis_a_removal_never_calls_for_an_add():
    # Free 90 MiB: without a 64 MiB file, 26 MiB would be free, below the 32 MiB threshold,
    # and the next round would add it back: it stays.
    assert decide(RULES, reading(90), [dyn(1)], CALM).action == Action.NONE
    # Free 96 MiB: 32 MiB left, at the threshold but not half a file above it: stays.
    assert decide(RULES, reading(96), [dyn(1)], CALM).action == Action.NONE
    # Free 128 MiB: 64 MiB left, half a file above the threshold: it may go, and what is
    # left is no reason to add.
    d = decide(RULES, reading(128), [dyn(1)], CALM)
    assert d.action == Action.REMOVE
    after = decide(RULES, reading(64), [], CALM)
    assert after.action == Action.NONE


def test_swap_short_never_removes():
    # Short of swap with an idle file at the limit: nothing is removed, nothing added.
    d = decide(RULES, reading(5), [dyn(1), dyn(2)], CALM)
    assert d.action == Action.NONE and d.held == Held.LIMIT


def test_an_inactive_file_goes_whatever_free_swap_is():
    d = decide(RULES, reading(40), [dyn(1, active=False)], CALM)
    assert d.action == Action.REMOVE and "not active" in d.reason


def test_bad_rules_are_named():
    bad = Rules(-1, 0.0, 1, 0, 0, -1, -1)
    assert set(problems(bad)) == {
        "min_free_bytes",
        "psi_some_above",
        "file_size_bytes",
        "max_files",
        "max_total_bytes",
        "unused_for_seconds",
        "cooldown_seconds",
    }
    assert problems(RULES) == {}


def test_a_file_that_cannot_be_told_is_never_removed_and_holds_no_other_back():
    # dyn-2's area may be on (its path cannot be named): taken for "not active" it was the
    # first to go, and its refused destroy stalled every round (review 162).
    untold = File("dyn-2", 64 * MiB, 0, False, 3600, untold=True)
    d = decide(RULES, reading(200), [dyn(1), untold], CALM)
    assert (d.action, d.name) == (Action.REMOVE, "dyn-1")

    d = decide(RULES, reading(200), [untold], CALM)
    assert d.action == Action.NONE and d.held == Held.ENOUGH
    assert d.reason.endswith("; whether dyn-2 is active cannot be told, so it stays")
