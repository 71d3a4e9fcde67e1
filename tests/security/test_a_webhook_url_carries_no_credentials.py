"""A webhook URL with ``user:password@`` is refused where it is configured: urllib would not
send those as credentials, but look the whole ``user:password@host`` up as a host name (the
password to the resolver) and print it in its errors, which are kept on the event."""

from __future__ import annotations

import pytest

from swapadmin.health.webhook import url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://alert:s3cret@hooks.example.com/x",
        "http://alert@hooks.example.com/x",
        "https://:s3cret@hooks.example.com/x",
    ],
)
def test_a_url_with_a_user_or_password_is_refused(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None and "carries no user or password" in problem
    assert "s3cret" not in problem


def test_a_secret_in_the_path_or_query_is_fine() -> None:
    assert url_problem("https://hooks.example.com/x/s3cret?token=abc") is None
