"""``presence.there``: a store is absent only when a call says "no such file"; any other
failed look (a link loop here, EACCES or EIO elsewhere), a link on the way (the file kind
refuses any), or a path that is no path (a row another machine wrote)
is "cannot tell", never "absent" (reviews 160/1, 161/2, 161/6, 161/8, 168/2). Plain files
under a temporary directory."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from backends import presence
from backends.errors import BackendError


def test_a_file_that_is_there_is_there(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert presence.there(str(tmp_path / "f")) is True


def test_no_such_file_is_absence(tmp_path: Path) -> None:
    assert presence.there(str(tmp_path / "gone")) is False
    (tmp_path / "f").write_bytes(b"")
    assert presence.there(str(tmp_path / "f" / "below")) is False  # ENOTDIR


def test_a_failed_look_is_no_answer(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop.name)  # stat fails with ELOOP
    assert presence.there(str(loop / "store")) is None


def test_a_dangling_link_is_no_answer_unless_links_are_not_followed(tmp_path: Path) -> None:
    link = tmp_path / "store"
    link.symlink_to(tmp_path / "nothing")
    assert presence.there(str(link)) is None
    assert presence.there(str(link), follow=False) is True  # the link itself is there
    (tmp_path / "dir").symlink_to(tmp_path / "no-dir")
    assert presence.there(str(tmp_path / "dir" / "store")) is None  # a link on the way
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "dangling").symlink_to("nothing")
    (tmp_path / "root").symlink_to(tmp_path / "real")
    assert presence.there(str(tmp_path / "root" / "dangling" / "store")) is None


def test_a_file_missing_behind_any_link_on_the_way_is_no_answer(tmp_path: Path) -> None:
    # A swap root reached through a link (/swap -> /mnt/big/swap): the file kind refuses
    # every link on the way, so neither it nor the observer can say the store is gone, and
    # "absent" here flipped with their "cannot read the store" every sample (review 168/2).
    (tmp_path / "real").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "real")
    assert presence.there(str(tmp_path / "root" / "store")) is None
    assert presence.there(str(tmp_path / "root" / "no-dir" / "store")) is None
    # Not following links, the path is looked up as the kernel does, and missing is absent.
    assert presence.there(str(tmp_path / "root" / "store"), follow=False) is False
    assert presence.there(str(tmp_path / "real" / "store")) is False  # no link: absent


@pytest.mark.parametrize(
    "path",
    [
        "/var/tmp/a\0b",
        5,
        None,
        "",
        ["/var/tmp"],
        "var/tmp",
        "/var/tmp/",
        "//var/tmp",
        "/var/../tmp",
    ],
)
def test_a_path_that_is_no_path_is_no_answer(path: object) -> None:
    assert presence.there(path) is None


def test_only_the_errnos_of_no_such_file_or_device_say_absent() -> None:
    assert all(presence.says_absent(n) for n in (errno.ENOENT, errno.ENOTDIR, errno.ENXIO))
    assert not any(presence.says_absent(n) for n in (errno.EACCES, errno.EIO, errno.ELOOP, None))


def test_a_failed_look_raised_from_none_is_still_a_failed_look() -> None:
    # ``from None`` only shortens a traceback: a kind that wrote it inside ``except
    # OSError`` over EACCES read as "absent" (review 168/6).
    try:
        try:
            raise PermissionError(errno.EACCES, "Permission denied")
        except OSError:
            raise BackendError("/var/swap/s does not exist") from None
    except BackendError as e:
        err = e
    assert presence.errno_in_chain(err) == errno.EACCES
    assert presence.could_not_look(err)
    assert not presence.gone(err, "/var/swap/s")


def test_gone_is_the_errno_or_else_a_look_now(tmp_path: Path) -> None:
    assert presence.gone(OSError(errno.ENXIO, "gone"), str(tmp_path))
    assert not presence.gone(OSError(errno.EIO, "sick"), str(tmp_path / "nothing"))
    # No errno (a kind's own "does not exist"): a look at the path now says.
    assert presence.gone(BackendError("does not exist"), str(tmp_path / "nothing"))
    assert not presence.gone(BackendError("does not exist"), str(tmp_path))
    assert not presence.gone(BackendError("does not exist"), None)  # no path: cannot tell
