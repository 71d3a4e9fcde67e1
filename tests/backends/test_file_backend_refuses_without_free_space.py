"""A swap file that would fill its filesystem is refused with the numbers, before creation,
measured on the directory the walk from the swap root opened."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from backends.errors import UnsafeError, ValidationError
from backends.plugins import file as file_module
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.stores import provisioned, rebuilt


@needs_root
def test_it_refuses_a_file_larger_than_the_free_space(scratch: Path) -> None:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        backend = FileBackend(
            {"path": str(path)},
            size_bytes=256 * 1024 * 1024,
            policy=Policy(swap_roots=(mnt,)),
            provisioning=True,
            owner=str(uuid.uuid4()),
        )
        with pytest.raises(
            UnsafeError,
            match=r"needs 268435456 bytes, \d+ are free and "
            r"swapadmin keeps \d+ .* in reserve",
        ):
            backend.swapfile(True)
        assert not path.exists()


@needs_root
def test_it_refuses_to_grow_past_the_free_space(scratch: Path) -> None:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        policy = Policy(swap_roots=(mnt,))
        with provisioned("file", {"path": str(path)}, size=4 * 1024 * 1024, policy=policy) as made:
            pass
        before = path.read_bytes()
        backend = rebuilt(made)  # the resize job
        with backend, pytest.raises(UnsafeError, match="not enough free space"):
            backend.resize(512 * 1024 * 1024)
        assert path.stat().st_size == 4 * 1024 * 1024
        assert path.read_bytes() == before


MiB = 1 << 20


def _made_on(mnt: Path) -> FileBackend:
    return FileBackend(
        {"path": str(mnt / "d" / "swap0")},
        size_bytes=48 * MiB,
        policy=Policy(swap_roots=(mnt,)),
        provisioning=True,
        owner=str(uuid.uuid4()),
    )


@needs_root
def test_it_keeps_the_room_it_is_told_to_keep_measured_on_the_walked_directory(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dynamic swap policy's files leave a tenth free (``keep_free``). The room is read
    from the directory the walk opened: a name turned into a symlink to a roomy disk just
    after the walk (at the filesystem check, the walk's next step) does not mislead it."""
    roomy = scratch / "roomy"  # on the root filesystem: gigabytes free
    roomy.mkdir()
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        (mnt / "d").mkdir(mode=0o700)
        check_swap_filesystem = file_module.check_swap_filesystem

        def swap_after_the_walk(path: str, fd: int | None = None) -> str:
            (mnt / "d").rename(mnt / "walked")
            (mnt / "d").symlink_to(roomy)
            return check_swap_filesystem(path, fd)

        backend = _made_on(mnt)
        backend.keep_free(10, ", kept free for the test")
        with monkeypatch.context() as m, pytest.raises(UnsafeError) as refused:
            m.setattr(file_module, "check_swap_filesystem", swap_after_the_walk)
            backend.swapfile(True)
        said = refused.value.message
        assert f"in {mnt / 'd'}: the swap file needs {48 * MiB} bytes" in said, said
        assert "(10% of the filesystem, kept free for the test) in reserve" in said, said
        free = int(re.search(r"(\d+) are free", said).group(1))  # type: ignore[union-attr]
        assert free < 64 * MiB, said  # the small disk's, not the roomy one's
        assert os.listdir(mnt / "walked") == [] and os.listdir(roomy) == []

        (mnt / "d").unlink()
        (mnt / "walked").rename(mnt / "d")
        with _made_on(mnt) as mine:  # a person's provision keeps 1%: it fits
            mine.swapfile(True)
        assert (mnt / "d" / "swap0").stat().st_size == 48 * MiB


@pytest.mark.parametrize("percent", [True, "10", 0.5, 0, 91, float("nan"), float("inf"), None])
def test_the_room_to_keep_is_a_number_from_1_to_90_percent(percent: object) -> None:
    """Never less than a person's provision keeps, and never so much that nothing fits."""
    policy = Policy(swap_roots=(Path("/srv/swap"),))
    backend = FileBackend({"path": "/srv/swap/s"}, size_bytes=48 * MiB, policy=policy)
    with pytest.raises(ValidationError, match="from 1 to 90 percent of the filesystem, not"):
        backend.keep_free(percent, "")  # type: ignore[arg-type]


def _between_the_reserves(fd_path: Path, start: int) -> int:
    """A size for a file now ``start`` bytes long whose growth fits with 1% of its (64 MiB)
    filesystem left free but not with 10%: 3 MiB short of all that is free."""
    st = os.statvfs(fd_path)
    return start + (st.f_bavail * st.f_frsize - 3 * MiB) // MiB * MiB


@needs_root
def test_a_file_grown_keeps_the_room_it_is_told_to_keep(scratch: Path) -> None:
    """``keep_free`` holds for a resize that grows the file too, not only for a new file
    (review 199/4); the same growth with a person's 1% fits."""
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        policy = Policy(swap_roots=(mnt,))
        with provisioned("file", {"path": str(path)}, size=4 * MiB, policy=policy) as made:
            pass
        size = _between_the_reserves(mnt, 4 * MiB)
        backend = rebuilt(made)
        backend.keep_free(10, ", kept free for the test")
        with backend, pytest.raises(UnsafeError) as refused:
            backend.resize(size)
        assert "(10% of the filesystem, kept free for the test)" in refused.value.message
        assert path.stat().st_size == 4 * MiB
        with rebuilt(made) as person:
            person.resize(size)
        assert path.stat().st_size == size


@needs_root
def test_an_unfinished_file_keeps_the_room_it_is_told_to_keep_holes_and_all(
    scratch: Path,
) -> None:
    """Provisioning again completes a file of this backend that was never formatted: that
    growth keeps the room too, and counts the holes below the file's end, which fallocate
    fills as well (review 199/2, 199/4)."""
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        owner = str(uuid.uuid4())

        def provision(size: int, keep: float | None) -> FileBackend:
            b = FileBackend(
                {"path": str(path)}, size_bytes=size, policy=Policy(swap_roots=(mnt,)),
                provisioning=True, owner=owner,
            )  # fmt: skip
            if keep is not None:
                b.keep_free(keep, ", kept free for the test")
            return b

        with provision(8 * MiB, None) as first:
            first.swapfile(True)  # made, never formatted: unfinished
        # Holes below its end, as a file someone truncated: 8 MiB long, 4 MiB allocated.
        fd = os.open(path, os.O_RDWR)
        try:
            os.truncate(fd, 4 * MiB)
            os.truncate(fd, 8 * MiB)
        finally:
            os.close(fd)
        size = _between_the_reserves(mnt, 4 * MiB)
        with provision(size, 10) as dynamic, pytest.raises(UnsafeError) as refused:
            dynamic.swapfile(True)
        assert "(10% of the filesystem, kept free for the test)" in refused.value.message
        assert path.stat().st_size == 8 * MiB
        with provision(size, None) as person:
            person.swapfile(True)
        assert path.stat().st_size == size
