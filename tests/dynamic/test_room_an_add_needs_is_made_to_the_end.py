"""At a limit while swap is short, files that are off and cannot be turned on are removed,
one per round, until an add fits. A removal starts only when all the removals it needs let
the add in, and the next round goes on with them: a file that failed to turn on
``MAKE_ROOM_AFTER`` times counted only while its wait was pending, and once it passed was
turned on again instead, so the file removed before it, for an add that needed both gone,
went in vain (review 194/1)."""

from __future__ import annotations

from backends.dynamic import MAKE_ROOM_AFTER, Action, File, Reading, Rules, Situation, decide

MiB = 1 << 20
SHORT = Reading(256 * MiB, 10 * MiB, 0.0, 1.0)
#: Room for one file of 128 MiB beside dyn-1 only once both small files are gone.
RULES = Rules(
    min_free_bytes=32 * MiB, psi_some_above=None, file_size_bytes=128 * MiB, max_files=8,
    max_total_bytes=256 * MiB, unused_for_seconds=60, cooldown_seconds=30,
)  # fmt: skip
ON = File("dyn-1", 128 * MiB, 100 * MiB, True, 0.0)


def failed(n: int, *, waiting: bool) -> File:
    """There and off, its activates failed ``MAKE_ROOM_AFTER`` times; ``waiting``: the wait
    they set is pending, else it passed."""
    return File(f"dyn-{n}", 64 * MiB, 0, False, 0.0, ready=not waiting, waiting=waiting,
                failed_turn_ons=MAKE_ROOM_AFTER)  # fmt: skip


def test_two_files_that_keep_failing_both_go_before_the_add():
    d = decide(RULES, SHORT, [ON, failed(2, waiting=True), failed(3, waiting=True)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-3"), d.reason

    # The next round: dyn-2's wait has passed meanwhile. Turned on again, as before, it left
    # the add out (dyn-1 and dyn-2 are 192 MiB), and dyn-3 went for nothing.
    d = decide(RULES, SHORT, [ON, failed(2, waiting=False)], Situation())
    assert (d.action, d.name) == (Action.REMOVE, "dyn-2"), d.reason
    assert f"dyn-2 is off and failed to turn on {MAKE_ROOM_AFTER} times" in d.reason
    assert d.reason.endswith("removing it to make room"), d.reason

    d = decide(RULES, SHORT, [ON], Situation())
    assert (d.action, d.name) == (Action.ADD, "dyn-2"), d.reason


def test_the_reason_names_the_files_that_must_go_after_it():
    """The one removed says it is not the last the add needs (review 194/5)."""
    d = decide(RULES, SHORT, [ON, failed(2, waiting=True), failed(3, waiting=True)], Situation())
    assert d.reason.endswith(
        "dyn-3 is off and failed to turn on 3 times, removing it to make room; dyn-2 must go "
        "too, one per round, before an add fits"
    ), d.reason


def test_one_that_keeps_failing_is_tried_again_when_its_removal_lets_no_add_in():
    """The total lowered to 192 MiB: with dyn-2 gone, dyn-1 and a new file of 128 MiB still
    pass it, so no room is made and dyn-2, whose wait passed, is tried again."""
    rules = Rules(**{**vars(RULES), "max_total_bytes": 192 * MiB})
    d = decide(rules, SHORT, [ON, failed(2, waiting=False)], Situation())
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason


def test_while_adds_wait_no_room_is_made_and_the_file_is_tried_again():
    situation = Situation(adds_held="the latest 2 add(s) failed")
    d = decide(RULES, SHORT, [ON, failed(2, waiting=False), failed(3, waiting=True)], situation)
    assert (d.action, d.name) == (Action.ACTIVATE, "dyn-2"), d.reason
