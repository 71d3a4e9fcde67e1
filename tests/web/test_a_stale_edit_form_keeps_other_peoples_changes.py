"""An edit page opened before someone else's change does not undo it when saved.

The form posts every field; it used to compare them with the row as it is at the post, so
a label typed into a page opened earlier also set auto-repair back to what that page showed
after another admin had turned it on. The page now sends what it showed beside each value
(Django's hidden initial), and only what this user changed is asked."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core import edits
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.people import make_user

pytestmark = pytest.mark.django_db


class Inputs(HTMLParser):
    """The values a browser would post from the page's edit form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag != "input" or not name:
            return
        kind = a.get("type", "text")
        if kind in ("checkbox", "radio"):
            if "checked" in a:
                self.data[name] = a.get("value") or "on"
        else:
            self.data[name] = a.get("value") or ""


def shown_form(client: Any, backend: Backend) -> dict[str, Any]:
    page = client.get(reverse("backend-edit", args=[backend.uuid]))
    assert page.status_code == 200
    parser = Inputs()
    parser.feed(page.content.decode())
    parser.data.setdefault("discard", backend.discard)  # a <select>, left as shown
    return parser.data


def test_a_label_saved_from_an_old_page_leaves_auto_repair_as_the_other_admin_set_it(
    as_user: Any, alice: User, backend: Backend
) -> None:
    bob = make_user("bob", "admin")
    assert backend.auto_repair is False
    client = as_user(alice)
    data = shown_form(client, backend)
    assert "initial-auto_repair" in data, "the page sends what it showed"

    # Meanwhile another admin turns auto-repair on.
    edits.edit_backend(backend, Actor(bob, Job.Via.API), {"auto_repair": True})

    data["label"] = "renamed"
    r = client.post(reverse("backend-edit", args=[backend.uuid]), data)
    assert r.status_code == 302, r.content.decode()[:2000]
    backend.refresh_from_db()
    assert backend.auto_repair is True
    job = Job.objects.get(backend=backend, kind="edit")
    assert job.params == {"label": "renamed"}


def test_a_field_this_user_changed_is_still_saved(
    as_user: Any, alice: User, backend: Backend
) -> None:
    client = as_user(alice)
    data = shown_form(client, backend)
    data["auto_repair"] = "on"
    r = client.post(reverse("backend-edit", args=[backend.uuid]), data)
    assert r.status_code == 302
    backend.refresh_from_db()
    assert backend.auto_repair is True
