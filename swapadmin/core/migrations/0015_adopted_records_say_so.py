"""An adopted backend's record (``state["store"]``) says so (``adopted``), as every adoption
has written it since the record began to be read for it: a row adopted before that has
``Backend.adopted`` but a record without the flag, and its kind then took the store it was
given for one it made. The loop kind refused its adopted device as "not attached here" (its
name field is the person's, not the backend's: 246/4); the base class told it to provision.
Only a record there is marked: a row with none is left as it is, as adoption starts one.

Jobs queued and signed before the upgrade name the record as it was, so the worker refuses
them as rows changed since; queue them again."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def mark_adopted_records(apps: Any, schema_editor: Any) -> None:
    Backend = apps.get_model("core", "Backend")
    # The keys first, then each row read again locked: no row is written while a query
    # reads the table (SQLite), and a worker's write to the row meanwhile is not lost.
    for pk in list(Backend.objects.filter(adopted=True).values_list("pk", flat=True)):
        backend = Backend.objects.select_for_update().only("pk", "state").filter(pk=pk).first()
        if backend is None:
            continue
        state = backend.state if isinstance(backend.state, dict) else {}
        record = state.get("store")
        if not isinstance(record, dict) or record.get("adopted") is True:
            continue
        # update(), not save(): only the state changes, and no signal or auto field runs.
        marked = {**state, "store": {**record, "adopted": True}}
        Backend.objects.filter(pk=backend.pk).update(state=marked)


class Migration(migrations.Migration):
    dependencies = [("core", "0014_backend_reread_generation")]

    operations = [migrations.RunPython(mark_adopted_records, migrations.RunPython.noop)]
