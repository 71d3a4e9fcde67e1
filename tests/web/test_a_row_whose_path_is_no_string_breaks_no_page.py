"""A backend row whose recorded path is no string (another machine's write: a number, a
list) names no path: the host page, the backend page and the overview show it, and the
sampler leaves it as it was (review 168/5). Before, ``Backend.swap_path`` handed the number
to ``os.path.dirname``, and the host page was a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from swapadmin.core.models import Backend, Host
from swapadmin.core.sampler import Reading, take_sample

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[5, ["/dev/zram0"], {"p": "/dev/zram0"}], ids=["number", "list", "map"])
def hostile(request, observed_host: Host) -> Backend:
    return Backend.objects.create(
        host=observed_host,
        kind="file",
        name="odd",
        params={"path": "/var/tmp/swapadmin-never/odd"},
        info={"swap_path": request.param},
        size_bytes=1 << 20,
        observed_state=Backend.Observed.ERROR,
        observed_error="what the last look said",
    )


@pytest.mark.parametrize("page", ["host", "backend", "overview"])
def test_every_page_shows_it(as_user: Any, alice, hostile: Backend, page: str) -> None:
    args = {"host": [hostile.host.uuid], "backend": [hostile.uuid], "overview": []}[page]
    r = as_user(alice).get(reverse(page, args=args))
    assert r.status_code == 200
    if page != "overview":  # which counts backends, and names none
        assert "odd" in r.content.decode()


def test_it_names_no_path_and_no_sample_guesses_one(hostile: Backend) -> None:
    assert hostile.swap_path is None  # not the params' file, which /proc/swaps may not show
    take_sample(hostile.host, Reading())
    hostile.refresh_from_db()
    assert (hostile.observed_state, hostile.observed_error) == ("error", "what the last look said")
