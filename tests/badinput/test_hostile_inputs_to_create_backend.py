"""POST /api/v1/backends/ with hostile values, one test case each: every one a 400 whose
message names the problem under the field it is about, with no Backend, Job or audit row and
nothing on disk changed. (What only the host can judge, such as a symlink in the path or a
device that holds the root filesystem, is the worker's to refuse: see
test_forged_task_messages.py.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from swapadmin.core.models import AuditEvent, Backend, Job
from tests.badinput.conftest import disk_state

ROOT = "{root}"  # replaced by the test's swap root

# (case id, field path, value, words the message must contain)
CASES: list[tuple[str, tuple[str, ...], Any, str]] = [
    # paths
    ("path-dotdot-relative", ("params", "path"), "../etc/shadow", "not an absolute path"),
    ("path-dotdot-inside", ("params", "path"), ROOT + "/../../etc/shadow", "'..' component"),
    ("path-etc-shadow", ("params", "path"), "/etc/shadow", "outside the swap roots"),
    ("path-nul", ("params", "path"), ROOT + "/a\x00b", "NUL"),
    ("path-very-long", ("params", "path"), ROOT + "/" + "a" * 5000, "4096"),
    ("path-newline", ("params", "path"), ROOT + "/a\nb", "newline"),
    ("path-relative", ("params", "path"), "swap0", "not an absolute path"),
    ("path-the-root", ("params", "path"), ROOT, "swap root itself"),
    ("path-dev-vda", ("params", "path"), "/dev/vda", "outside the swap roots"),
    ("path-not-normal", ("params", "path"), ROOT + "//x", "not normalised"),
    ("path-not-a-string", ("params", "path"), ["/etc/shadow"], "path"),
    ("path-missing", ("params", "path"), None, "path"),
    # sizes
    ("size-negative", ("size_bytes",), -4096, "greater than or equal to 0"),
    ("size-zero", ("size_bytes",), 0, "at least 10 pages"),
    ("size-not-page-multiple", ("size_bytes",), 40961, "multiple of the page size"),
    ("size-huge", ("size_bytes",), 2**70, "less than or equal to"),
    ("size-string", ("size_bytes",), "lots", "valid integer"),
    ("size-float", ("size_bytes",), 40960.5, "valid integer"),
    ("size-boolean", ("size_bytes",), True, "valid integer"),
    # names
    ("name-empty", ("name",), "", "may not be blank"),
    ("name-10k", ("name",), "n" * 10_000, "no more than 100 characters"),
    ("name-unicode", ("name",), "swäp", "letters, digits"),
    ("name-slash", ("name",), "a/b", "letters, digits"),
    ("name-sql", ("name",), "x'); DROP TABLE core_backend;--", "letters, digits"),
    ("name-dotdot", ("name",), "..", "letters, digits"),
    # devices (block)
    ("device-escapes-dev", ("params", "device"), "/dev/../etc/passwd", "not a normalised path"),
    ("device-not-under-dev", ("params", "device"), "/etc/passwd", "not a device path"),
    ("device-relative", ("params", "device"), "vda", "not a device path"),
    ("device-nul", ("params", "device"), "/dev/vd\x00a", "NUL"),
    # priorities
    ("priority-negative", ("priority",), -1, "greater than or equal to 0"),
    ("priority-too-high", ("priority",), 32768, "less than or equal to 32767"),
    ("priority-word", ("priority",), "high", "valid integer"),
    # labels
    ("label-17-bytes", ("label",), "l" * 17, "no more than 16"),
    ("label-17-bytes-unicode", ("label",), "é" * 9, "16 bytes"),
    ("label-nul", ("label",), "a\x00b", "NUL"),
    # kind and the rest
    ("kind-unknown", ("kind",), "../../etc", "kind"),
    ("params-not-an-object", ("params",), "path=/etc/shadow", "dictionary"),
    ("params-unknown-key", ("params", "owner"), "root", "no parameter 'owner'"),
    ("discard-unknown", ("discard",), "always", "not a valid choice"),
]


def body_for(case_field: tuple[str, ...], value: Any, swap_root: Path, host: Any) -> dict:
    block = case_field[-1] == "device"
    body: dict[str, Any] = {
        "host": str(host.uuid),
        "kind": "block" if block else "file",
        "name": "hostile",
        "size_bytes": None if block else 40960,
        "params": {"device": "/dev/loop-none"} if block else {"path": f"{swap_root}/hostile"},
    }
    if isinstance(value, str):
        value = value.replace(ROOT, str(swap_root))
    if case_field[0] == "params" and len(case_field) == 2:
        if value is None:
            body["params"].pop(case_field[1])
        else:
            body["params"][case_field[1]] = value
    else:
        body[case_field[0]] = value
    return body


def message_at(errors: Any, field: tuple[str, ...]) -> str:
    node = errors
    for key in field:
        assert isinstance(node, dict) and key in node, f"no error under {field}: {errors}"
        node = node[key]
    return " ".join(node) if isinstance(node, list) else str(node)


@pytest.mark.parametrize(("field", "value", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_it_is_refused_naming_the_problem(admin_api, host_row, swap_root, field, value, words):
    before = disk_state(swap_root)
    r = admin_api.post(
        "/api/v1/backends/", body_for(field, value, swap_root, host_row), format="json"
    )
    assert r.status_code == 400, (r.status_code, r.content[:500])
    message = message_at(r.json(), field)
    assert words.lower() in message.lower(), message
    assert not Backend.objects.exists()
    assert not Job.objects.exists()
    assert not AuditEvent.objects.filter(outcome__in=["queued", "ok"]).exists()
    assert disk_state(swap_root) == before
    assert os.listdir(swap_root) == []
