"""A property-based campaign against POST /api/v1/backends/: bodies built from valid values
mixed with hostile ones. Every answer is a 202 (a backend and its provision job, with the
values as validated) or a 400 that names a field the body got wrong, never a 500; a 400
leaves no row and nothing on disk. Bounded: 200 examples, no deadline."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.core.services import NAME_RE

PAGE = 4096
FIELDS = {"host", "kind", "name", "size_bytes", "priority", "discard", "label", "params",
          "persist", "force", "confirm"}  # fmt: skip

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON carries neither
    st.text(max_size=40),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# Each field: a valid value, or a hostile one. A body spoils at most two fields, so that
# accepted bodies (202) are common enough to check as well.
VALID = {
    "name": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),
    "size_bytes": st.integers(10, 4096).map(lambda n: n * PAGE),
    "priority": st.one_of(st.none(), st.integers(0, 32767)),
    "label": st.text(max_size=16).filter(lambda s: len(s.encode()) <= 16 and "\x00" not in s),
    "discard": st.sampled_from(["", "both", "once", "pages"]),
}
HOSTILE = {
    "name": st.one_of(st.text(max_size=120), junk),
    "size_bytes": st.one_of(st.integers(-(2**65), 2**65), junk),
    "priority": st.one_of(st.integers(-5, 40000), junk),
    "label": st.one_of(st.text(max_size=20), junk),
    "discard": junk,
    "kind": st.one_of(st.sampled_from(["nfs", "", "FILE", "../file"]), junk),
    "params": junk,
    "path": st.one_of(st.text(max_size=60), junk),
}


def hostile_paths(root: str) -> st.SearchStrategy[Any]:
    known = st.sampled_from(["/etc/shadow", "../x", f"{root}/../x", root, f"{root}/a\nb",
                             f"{root}/a\x00b", "/dev/vda", f"{root}//x", "", "/"])  # fmt: skip
    return st.one_of(known, HOSTILE["path"])


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_answer_is_a_202_or_a_400_naming_a_field(admin_api, host_row, swap_root, data):
    spoiled = data.draw(st.sets(st.sampled_from(sorted(HOSTILE)), max_size=2), "spoiled")

    def draw(field: str) -> Any:
        return data.draw(HOSTILE[field] if field in spoiled else VALID[field], field)

    kind = data.draw(st.sampled_from(["file", "loop", "zram"]), "kind")
    body: dict[str, Any] = {"host": str(host_row.uuid), "kind": kind, "name": draw("name")}
    if kind != "zram":
        body["size_bytes"] = draw("size_bytes")
        name = data.draw(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), "file")
        path = f"{swap_root}/{name}"
        if "path" in spoiled:
            path = data.draw(hostile_paths(str(swap_root)), "path")
        body["params"] = {"path": path}
    else:
        body["size_bytes"] = draw("size_bytes")
        body["params"] = {}
    for field in ("priority", "label", "discard"):
        body[field] = draw(field)
    if "kind" in spoiled:
        body["kind"] = draw("kind")
    if "params" in spoiled:
        body["params"] = draw("params")

    r = admin_api.post("/api/v1/backends/", body, format="json")
    event(f"answered {r.status_code}")
    try:
        assert r.status_code in (202, 400), (r.status_code, r.content[:800])
        if r.status_code == 400:
            errors = r.json()
            assert isinstance(errors, dict) and set(errors) <= FIELDS, errors
            assert all(errors.values()), errors
            assert not Backend.objects.exists() and not Job.objects.exists()
            assert os.listdir(swap_root) == []
        else:
            backend = Backend.objects.get()
            assert Job.objects.get().kind == Job.Kind.PROVISION
            assert NAME_RE.match(backend.name) and len(backend.label.encode()) <= 16
            assert backend.priority is None or 0 <= backend.priority <= 32767
            if backend.kind in ("file", "loop"):
                assert backend.params["path"].startswith(f"{swap_root}/")
            assert os.listdir(swap_root) == []  # the web side never touches the host
    finally:
        Job.objects.all().delete()
        Backend.objects.all().delete()
        AuditEvent.objects.all().delete()
