"""Forgetting a host deletes what cascades from it and sets to NULL what points at what goes.
A change that holds such a row, and then waits for the host's row, deadlocks with the
forget unless the forget took that row first, without waiting (core/forget.py's HELD).
Every table the delete writes is either held so, or named in WAITED_FOR with why no change
holds its rows while it waits for the host: a table added to the host's cascade later fails
here until someone decides which."""

from __future__ import annotations

from django.db import models

from swapadmin.core import forget
from swapadmin.core.models import Host


def _written_by_deleting(
    model: type[models.Model],
    written: set[type[models.Model]],
    walked: set[type[models.Model]],
) -> None:
    """Add to ``written`` every model a delete of ``model``'s rows writes. ``walked`` is
    apart from it: a model first met as one whose column is set to NULL may be met again as
    one that cascades, and what hangs off it must then be walked too."""
    walked.add(model)
    for rel in model._meta.related_objects:
        child = rel.related_model
        if rel.many_to_many:
            written.add(rel.through)  # its rows go with either end
            continue
        if rel.on_delete is models.CASCADE:
            written.add(child)
            if child not in walked:
                _written_by_deleting(child, written, walked)
        elif rel.on_delete is not models.DO_NOTHING:
            written.add(child)  # SET_NULL, SET_DEFAULT, SET(): an UPDATE of its rows


def test_every_table_the_delete_writes_is_held_or_said_why_not() -> None:
    written: set[type[models.Model]] = set()
    _written_by_deleting(Host, written, set())
    held = {model for model, _ in forget.HELD}
    waited = set(forget.WAITED_FOR)
    assert held & waited == set()
    undecided = written - held - waited
    labels = sorted(m._meta.label for m in undecided)
    assert not undecided, f"tables the forget's delete writes, neither held nor said: {labels}"
    # And nothing listed that the delete never touches (a table renamed or moved off).
    assert (held | waited) - written == set()


def test_each_held_lookup_reaches_the_host() -> None:
    for model, lookup in forget.HELD:
        # A wrong lookup would raise FieldError in the forget itself, the first time.
        query = str(model._default_manager.filter(**{lookup: 1}).query)
        assert "host_id" in query, (model, lookup, query)
