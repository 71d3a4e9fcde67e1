"""uswapd, the user-space kind's FUSE daemon, on its own: compiled here from its source with
Debian's cc, started over a store file this test made, at a mount point this test made,
with nothing of swapadmin in between.

What it promises, each proved on the real kernel: the ``area`` file is the store byte for
byte (through FUSE directly and through a loop device with direct I/O on top of it), it
never grows nor reaches past its size into the rest of the store, no hole is ever punched
in it (a discard is refused: the store stays allocated), ``stats`` counts what passed; bad
input and a refused PR_SET_IO_FLUSHER end it with a status and a message before anything is
mounted; only the unmount ends it, not a signal. Everything lives under the test's tmp_path
and is taken down on every path: loop device detached, mount unmounted (lazily only as the
last resort), daemon waited for (killed only if it outlives its mount). Nothing here calls
swapon.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import re
import select
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "contrib/swapadmin-userspace/src/swapadmin_userspace/uswapd.c"
)
PAGE = 4096
MiB = 1 << 20
SIZE = 8 * MiB
#: A watchdog, never a wait: every wait below is for an event (a line on a pipe, an exit).
WATCHDOG = 30.0
READY = re.compile(rb"ready io_flusher=([01]) pid=([0-9]+) request_timeout=([0-9]+)\n")
IO_FLUSHER_WHY = (
    "PR_SET_IO_FLUSHER refused (needs CAP_SYS_RESOURCE): without it this daemon's own "
    "allocations can recurse into the swap area it serves and deadlock"
)

PR_SET_IO_FLUSHER = 57
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
BLKDISCARD = 0x1277
# The loop ioctls and structs, as backends/plugins/loop.py has them.
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LOOP_CLR_FD = 0x4C01
LO_FLAGS_DIRECT_IO = 16
_LOOP_INFO64 = struct.Struct("=QQQQQIIII64s64s32s2Q")
_LOOP_CONFIG = struct.Struct(f"=II{_LOOP_INFO64.size}s64x")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


# ---- the machine, as this test sees it ----


def mounts_at(path: Path) -> list[str]:
    """Filesystem types mounted at ``path`` (mountinfo's fields, octal escapes undone)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), head.split()[4])
            if point == str(path):
                out.append(tail.split()[0])
    return out


def fuse_mounts_under(where: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [
            line
            for line in f
            if line.split()[4].startswith(str(where)) and "fuse.swapadmin-uswap" in line
        ]


def umount(path: Path, flags: int = 0) -> int:
    """umount2(``path``); 0 or the errno."""
    if _libc.umount2(os.fsencode(path), flags | UMOUNT_NOFOLLOW) == 0:
        return 0
    return ctypes.get_errno()


def fallocate(fd: int, mode: int, offset: int, length: int) -> int:
    """fallocate(2) (os.posix_fallocate cannot punch); 0 or the errno."""
    return 0 if _libc.fallocate(fd, mode, offset, length) == 0 else ctypes.get_errno()


def io_flusher_granted() -> bool:
    """Whether this machine grants PR_SET_IO_FLUSHER, asked in a throwaway child."""
    probe = (
        "import ctypes, sys; "
        f"sys.exit(0 if ctypes.CDLL(None).prctl({PR_SET_IO_FLUSHER}, 1, 0, 0, 0) == 0 else 1)"
    )
    return subprocess.run([sys.executable, "-c", probe], timeout=WATCHDOG).returncode == 0


def aligned(data: bytes) -> mmap.mmap:
    """A page-aligned copy of ``data``, as O_DIRECT wants it."""
    buf = mmap.mmap(-1, len(data))
    buf.write(data)
    return buf


def read_direct(fd: int, offset: int, length: int) -> bytes:
    buf = mmap.mmap(-1, length)
    with buf:
        got = os.preadv(fd, [buf], offset)
        return bytes(buf[:got])


def parse_stats(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(" ") for line in text.splitlines())}


# ---- the daemon ----


@pytest.fixture(scope="module")
def uswapd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uswapd.c compiled exactly as the package's build compiles it."""
    binary = tmp_path_factory.mktemp("uswapd") / "uswapd"
    built = subprocess.run(
        ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    return binary


@dataclass
class Ended:
    """A start that ended before or instead of serving."""

    status: int
    ready: bytes  # what came on the ready pipe before EOF
    stderr: str


@dataclass
class Serving:
    proc: subprocess.Popen[bytes]
    mountpoint: Path
    store: Path
    store_fd: int
    log: Path
    io_flusher: bool

    @property
    def area(self) -> Path:
        return self.mountpoint / "area"

    def stats(self) -> dict[str, int]:
        return parse_stats((self.mountpoint / "stats").read_text())

    def unmount_and_wait(self) -> int:
        """The orderly end: umount2(DIR, 0), then the daemon's exit status."""
        assert umount(self.mountpoint) == 0
        return self.proc.wait(timeout=WATCHDOG)


def make_store(path: Path, size: int, content: bytes | None = None) -> None:
    with open(path, "wb") as f:
        if content is None:
            f.truncate(size)
        else:
            f.write(content)


def read_ready(fd: int) -> bytes:
    """The ready pipe up to its first newline or EOF (the daemon's exit); the poll timeout
    is the watchdog."""
    got = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while b"\n" not in got:
        assert poller.poll(WATCHDOG * 1000), f"uswapd said nothing within {WATCHDOG} s"
        chunk = os.read(fd, 256)
        if not chunk:
            break
        got += chunk
    return got


@contextlib.contextmanager
def daemon(
    uswapd: Path,
    where: Path,
    *,
    size: int = SIZE,
    store_fd: int | None = None,
    mountpoint: Path | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[Serving | Ended]:
    """uswapd started over ``store_fd`` (by default an O_RDWR descriptor of a new store of
    ``size`` bytes under ``where``) at ``mountpoint`` (by default a new empty directory).
    Yields Serving once its ready line came, or Ended when it exited instead. Afterwards,
    whatever happened: unmounted if still mounted (MNT_DETACH only when the orderly
    unmount fails), the daemon waited for and killed only if it outlives its mount."""
    store = where / "store"
    if store_fd is None:
        if not store.exists():
            make_store(store, size)
        fd = os.open(store, os.O_RDWR | os.O_CLOEXEC)
    else:
        fd = store_fd
    mp = mountpoint if mountpoint is not None else where / "mnt"
    if mountpoint is None:
        mp.mkdir()
    log = where / "uswapd.log"
    r, w = os.pipe()
    proc: subprocess.Popen[bytes] | None = None
    try:
        with open(log, "wb") as log_f:
            proc = subprocess.Popen(
                [
                    str(uswapd),
                    "--mountpoint",
                    str(mp),
                    "--store-fd",
                    str(fd),
                    "--size",
                    str(size),
                    "--ready-fd",
                    str(w),
                    *extra,
                ],  # fmt: skip
                stdin=subprocess.DEVNULL,
                stdout=log_f,
                stderr=log_f,
                pass_fds=(fd, w),
                start_new_session=True,
            )
        os.close(w)
        w = -1
        line = read_ready(r)
        match = READY.fullmatch(line)
        if match is None:
            status = proc.wait(timeout=WATCHDOG)
            yield Ended(status, line, log.read_text())
        else:
            assert int(match.group(2)) == proc.pid
            yield Serving(proc, mp, store, fd, log, match.group(1) == b"1")
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        if "fuse.swapadmin-uswap" in mounts_at(mp) and umount(mp) != 0:
            umount(mp, MNT_DETACH)
        if proc is not None:
            try:
                proc.wait(timeout=WATCHDOG)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=WATCHDOG)
        if store_fd is None:
            os.close(fd)


def serving(started: Serving | Ended) -> Serving:
    assert isinstance(started, Serving), f"uswapd did not start: {started}"
    return started


@contextlib.contextmanager
def loop_over(area: Path) -> Iterator[tuple[str, int]]:
    """A free loop device attached to ``area`` with LOOP_CONFIGURE, direct I/O and 4 KiB
    blocks, held open; (its path, its descriptor). Detached (LOOP_CLR_FD, effective at this
    last close) afterwards, and only if it still serves ``area``."""
    area_fd = os.open(area, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _attempt in range(5):  # another process may take the free device first
            with open("/dev/loop-control", "rb", buffering=0) as ctl:
                n = fcntl.ioctl(ctl.fileno(), LOOP_CTL_GET_FREE)
            dev = f"/dev/loop{n}"
            lfd = os.open(dev, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
            info = _LOOP_INFO64.pack(
                0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_DIRECT_IO, b"", b"", b"", 0, 0
            )
            try:
                fcntl.ioctl(lfd, LOOP_CONFIGURE, _LOOP_CONFIG.pack(area_fd, PAGE, info))
            except OSError as e:
                os.close(lfd)
                if e.errno == errno.EBUSY:
                    continue
                raise
            break
        else:
            pytest.fail("no free loop device could be configured in 5 attempts")
    finally:
        os.close(area_fd)
    try:
        yield dev, lfd
    finally:
        try:
            backing = Path(f"/sys/block/loop{n}/loop/backing_file").read_text().strip()
        except OSError:
            backing = ""
        if backing == str(area):
            with contextlib.suppress(OSError):
                fcntl.ioctl(lfd, LOOP_CLR_FD)
        os.close(lfd)


# ---- 1. the area is the store ----


def test_pages_written_through_area_are_the_store_and_stats_count_them(
    uswapd: Path, tmp_path: Path
) -> None:
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        assert sorted(os.listdir(d.mountpoint)) == ["area", "stats"]
        st = os.stat(d.area)
        assert (st.st_size, st.st_mode & 0o7777, st.st_uid) == (SIZE, 0o600, 0)
        assert st.st_blocks == SIZE // 512
        # (offset, length): the first page, pages inside, across 1 MiB, one whole 1 MiB
        # request, the last pages.
        writes = [(0, PAGE), (5 * PAGE, 3 * PAGE), (MiB - PAGE, 2 * PAGE), (2 * MiB, MiB)]
        writes.append((SIZE - 4 * PAGE, 4 * PAGE))
        expected = bytearray(SIZE)
        fd = os.open(d.area, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
        try:
            for offset, length in writes:
                data = os.urandom(length)
                expected[offset : offset + length] = data
                with aligned(data) as buf:
                    assert os.pwritev(fd, [buf], offset) == length
            assert d.store.read_bytes() == expected
            for offset, length in writes:
                assert read_direct(fd, offset, length) == expected[offset : offset + length]
            assert read_direct(fd, SIZE, PAGE) == b""  # EOF, not past the end
        finally:
            os.close(fd)

        total = sum(length for _, length in writes)
        assert d.stats() == {
            "reads": len(writes),  # each at most 1 MiB: one FUSE request each (max_pages 256)
            "writes": len(writes),
            "bytes_read": total,
            "bytes_written": total,
            "discards_refused": 0,
            "errors": 0,
            "io_flusher": int(d.io_flusher),
            "request_timeout": 0,  # none was asked for
            "pid": d.proc.pid,
        }
        assert d.unmount_and_wait() == 0
    assert d.store.read_bytes() == expected
    assert not fuse_mounts_under(tmp_path)


def test_no_page_cache_a_buffered_write_is_in_the_store_and_stats_are_fresh(
    uswapd: Path, tmp_path: Path
) -> None:
    """FOPEN_DIRECT_IO on both files: a plain write(2), not O_DIRECT, unaligned, is in the
    store when it returns (no dirty FUSE page to write back later, under reclaim); a
    ``stats`` descriptor kept open (as the plugin keeps one) reads new counts each time."""
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        stats_fd = os.open(d.mountpoint / "stats", os.O_RDONLY | os.O_CLOEXEC)
        fd = os.open(d.area, os.O_RDWR | os.O_CLOEXEC)
        try:
            first = parse_stats(os.pread(stats_fd, PAGE, 0).decode())
            data = os.urandom(1000)
            assert os.pwrite(fd, data, 12345) == len(data)
            with open(d.store, "rb") as f:
                f.seek(12345)
                assert f.read(len(data)) == data
            assert os.pread(fd, len(data), 12345) == data
            now = parse_stats(os.pread(stats_fd, PAGE, 0).decode())
        finally:
            os.close(fd)
            os.close(stats_fd)
        assert (now["writes"] - first["writes"], now["bytes_written"]) == (1, len(data))
        assert (now["reads"] - first["reads"], now["bytes_read"]) == (1, len(data))
        assert d.unmount_and_wait() == 0


def test_the_area_cannot_be_truncated_renamed_or_added_to(uswapd: Path, tmp_path: Path) -> None:
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        for act in (
            lambda: os.truncate(d.area, 0),
            lambda: os.truncate(d.area, SIZE + PAGE),
            lambda: os.chmod(d.area, 0o666),
            lambda: os.unlink(d.area),
            lambda: os.rename(d.area, d.mountpoint / "moved"),
            lambda: os.open(d.mountpoint / "new", os.O_CREAT | os.O_WRONLY, 0o600),
            lambda: os.open(d.area, os.O_RDWR | os.O_TRUNC),
            lambda: os.mkdir(d.mountpoint / "dir"),
        ):
            with pytest.raises(PermissionError):
                act()
        os.truncate(d.area, SIZE)  # its own size: nothing changes, accepted
        os.utime(d.area)  # times: accepted, ignored
        assert os.stat(d.area).st_size == SIZE
        assert os.path.getsize(d.store) == SIZE
        assert sorted(os.listdir(d.mountpoint)) == ["area", "stats"]
        assert d.unmount_and_wait() == 0


def test_only_root_may_open_the_area_or_stats(uswapd: Path, tmp_path: Path) -> None:
    """The mount allows other users in (allow_other, no default_permissions), so the daemon
    itself holds area to 0600 and stats to 0400, root's. The other user starts from a
    descriptor of the mount point: tmp_path's parents are not theirs to walk."""
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        dir_fd = os.open(d.mountpoint, os.O_RDONLY | os.O_DIRECTORY)
        try:
            probe = (
                "import os, sys\n"
                "fd = int(sys.argv[1])\n"
                "print(sorted(os.listdir(fd)))\n"
                "for name, flags in (('area', os.O_RDONLY), ('area', os.O_RDWR), "
                "('stats', os.O_RDONLY)):\n"
                "    try:\n"
                "        os.close(os.open(name, flags, dir_fd=fd)); print('opened', name)\n"
                "    except PermissionError:\n"
                "        print('refused', name)\n"
            )
            got = subprocess.run(
                [sys.executable, "-c", probe, str(dir_fd)],
                pass_fds=(dir_fd,),
                user=65534,
                group=65534,
                extra_groups=[],
                capture_output=True,
                text=True,
                timeout=WATCHDOG,
                cwd="/",
            )
        finally:
            os.close(dir_fd)
        assert got.returncode == 0, got.stderr
        assert got.stdout.splitlines() == [
            "['area', 'stats']",
            "refused area",
            "refused area",
            "refused stats",
        ]
        assert d.stats()["reads"] == 0
        assert d.unmount_and_wait() == 0


# ---- 2. under a loop device with direct I/O ----


def test_pages_written_to_a_loop_device_over_area_land_in_the_store(
    uswapd: Path, tmp_path: Path
) -> None:
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        expected = bytearray(SIZE)
        with loop_over(d.area) as (dev, lfd):
            name = os.path.basename(dev)
            assert Path(f"/sys/block/{name}/loop/dio").read_text().strip() == "1"
            assert Path(f"/sys/block/{name}/loop/backing_file").read_text().strip() == str(d.area)
            for offset, length in [
                (0, PAGE),
                (PAGE * 7, PAGE * 9),
                (3 * MiB, MiB),
                (SIZE - PAGE, PAGE),
            ]:
                data = os.urandom(length)
                expected[offset : offset + length] = data
                with aligned(data) as buf:
                    assert os.pwritev(lfd, [buf], offset) == length
            os.fsync(lfd)  # the loop device's flush: FUSE_FSYNC, fdatasync of the store
            assert d.store.read_bytes() == expected
            assert read_direct(lfd, 3 * MiB, MiB) == expected[3 * MiB : 4 * MiB]
            # A discard (what swapon's discard of freed clusters becomes) is refused by the
            # daemon, which the block layer takes as "discard is only a hint" (the ioctl
            # succeeds): no hole, so the next page written there needs no allocation.
            blocks = os.stat(d.store).st_blocks
            fcntl.ioctl(lfd, BLKDISCARD, struct.pack("=QQ", 3 * MiB, 64 * 1024))
            assert d.store.read_bytes() == expected
            assert os.stat(d.store).st_blocks == blocks
            stats = d.stats()
            assert stats["discards_refused"] >= 1
            assert stats["errors"] == 0
            assert stats["bytes_written"] == PAGE + 9 * PAGE + MiB + PAGE
        # Detached (at the loop descriptor's last close) before the unmount, which is
        # therefore not busy.
        assert not Path(f"/sys/block/{name}/loop/backing_file").exists()
        assert d.unmount_and_wait() == 0
    assert d.store.read_bytes() == expected


# ---- 3. bad input: a status, a message, nothing mounted ----


def _dir_fd(where: Path) -> int:
    return os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _readonly_fd(where: Path) -> int:
    make_store(where / "store", SIZE)
    return os.open(where / "store", os.O_RDONLY | os.O_CLOEXEC)


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("a directory as the store", 2, "not a regular file"),
        ("a store opened read-only", 2, "not open for reading and writing"),
        ("a size not a multiple of 4096", 2, "not a positive multiple of 4096"),
        ("a size of 0", 2, "not a positive multiple of 4096"),
        ("a size larger than the store", 2, "smaller than --size"),
        ("a mount point that is not empty", 3, "is not empty"),
        ("a mount point that is a symlink", 3, "not a symlink"),
        ("a mount point that does not exist", 3, "No such file or directory"),
        ("a mount point already mounted on", 3, "already a mount point"),
    ],
)
def test_bad_input_ends_it_with_a_status_and_a_message_and_nothing_mounted(
    uswapd: Path, tmp_path: Path, case: str, status: int, words: str
) -> None:
    size = SIZE
    store_fd: int | None = None
    mp = tmp_path / "mnt"
    mp.mkdir()
    tmpfs = False
    if case == "a directory as the store":
        store_fd = _dir_fd(tmp_path)
    elif case == "a store opened read-only":
        store_fd = _readonly_fd(tmp_path)
    elif case == "a size not a multiple of 4096":
        size = SIZE - 512
    elif case == "a size of 0":
        size = 0
    elif case == "a size larger than the store":
        make_store(tmp_path / "store", SIZE)
        size = SIZE + PAGE
    elif case == "a mount point that is not empty":
        (mp / "left-here").write_text("someone's\n")
    elif case == "a mount point that is a symlink":
        (tmp_path / "real").mkdir()
        mp.rmdir()
        mp.symlink_to(tmp_path / "real")
    elif case == "a mount point that does not exist":
        mp.rmdir()
    elif case == "a mount point already mounted on":
        assert _libc.mount(b"test", os.fsencode(mp), b"tmpfs", 0, b"size=64k") == 0
        tmpfs = True
    try:
        with daemon(uswapd, tmp_path, size=size, store_fd=store_fd, mountpoint=mp) as started:
            assert isinstance(started, Ended), "uswapd started on bad input"
            assert started.status == status, started.stderr
            assert started.ready == b""  # EOF on the ready pipe, no line
            assert words in started.stderr
            assert not fuse_mounts_under(tmp_path)
            assert mounts_at(mp) == (["tmpfs"] if tmpfs else [])
    finally:
        if tmpfs:
            assert umount(mp) == 0
        if store_fd is not None:
            os.close(store_fd)
    if case == "a mount point that is not empty":
        assert os.listdir(mp) == ["left-here"]


def test_arguments_it_does_not_know_end_it_with_status_2(uswapd: Path, tmp_path: Path) -> None:
    for argv in (
        [],
        ["--mountpoint", str(tmp_path)],
        ["--mountpoint", str(tmp_path), "--store-fd", "x", "--size", "4096", "--ready-fd", "1"],
        ["--bogus"],
    ):
        got = subprocess.run([str(uswapd), *argv], capture_output=True, text=True, timeout=WATCHDOG)
        assert got.returncode == 2, (argv, got.stderr)
        assert got.stderr.startswith("uswapd: ")
    assert not fuse_mounts_under(tmp_path)


def test_a_request_timeout_it_cannot_give_the_kernel_ends_it_with_status_2(
    uswapd: Path, tmp_path: Path
) -> None:
    # init_out.request_timeout is 16 bits of seconds: nothing above is cut down silently.
    valid = ["--mountpoint", str(tmp_path), "--store-fd", "5", "--size", "4096", "--ready-fd", "6"]
    for bad in ("65536", "-1", "x", "1e3", ""):
        got = subprocess.run(
            [str(uswapd), *valid, "--request-timeout", bad],
            capture_output=True,
            text=True,
            timeout=WATCHDOG,
        )
        assert got.returncode == 2, (bad, got.stderr)
        assert f"--request-timeout {bad}: not a whole number of seconds" in got.stderr
    assert not fuse_mounts_under(tmp_path)


# ---- 4. PR_SET_IO_FLUSHER ----


def test_require_io_flusher_is_refused_or_granted_as_the_machine_says(
    uswapd: Path, tmp_path: Path
) -> None:
    granted = io_flusher_granted()
    with daemon(uswapd, tmp_path, extra=("--require-io-flusher",)) as started:
        if granted:
            d = serving(started)
            assert d.io_flusher
            assert d.stats()["io_flusher"] == 1
            assert d.unmount_and_wait() == 0
        else:
            assert isinstance(started, Ended), "started without the PR_SET_IO_FLUSHER it needs"
            assert started.status == 4
            assert started.ready == b""
            assert IO_FLUSHER_WHY in started.stderr
            assert not fuse_mounts_under(tmp_path)
    # Not insisting, it starts either way and says which it has.
    (tmp_path / "again").mkdir()
    with daemon(uswapd, tmp_path / "again") as started:
        d = serving(started)
        assert d.io_flusher is granted
        assert d.stats()["io_flusher"] == int(granted)
        assert d.unmount_and_wait() == 0


# ---- 5. the area's bounds; holes ----


def test_writes_past_the_size_fail_with_efbig_and_no_hole_is_ever_punched(
    uswapd: Path, tmp_path: Path
) -> None:
    tail = 2 * PAGE  # the store is longer than the area: the tail is not the daemon's
    original = os.urandom(SIZE + tail)
    make_store(tmp_path / "store", SIZE + tail, original)
    blocks = os.stat(tmp_path / "store").st_blocks
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        fd = os.open(d.area, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
        try:
            with aligned(os.urandom(2 * PAGE)) as buf:
                for offset in (SIZE - PAGE, SIZE, SIZE + PAGE):
                    with pytest.raises(OSError) as e:
                        os.pwritev(fd, [buf], offset)
                    assert e.value.errno == errno.EFBIG
            assert d.store.read_bytes() == original

            # Every mode is refused, punching included, and said so with EOPNOTSUPP (not
            # ENOSYS, after which the kernel would stop asking and stop counting).
            for mode in (
                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                FALLOC_FL_ZERO_RANGE,
                0,
                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            ):
                assert fallocate(fd, mode, 5 * PAGE, 3 * PAGE) == errno.EOPNOTSUPP
            assert read_direct(fd, 5 * PAGE, 3 * PAGE) == original[5 * PAGE : 8 * PAGE]
        finally:
            os.close(fd)
        stats = d.stats()
        assert (stats["writes"], stats["bytes_written"]) == (0, 0)
        assert stats["discards_refused"] == 4
        assert stats["errors"] == 0
        assert d.store.read_bytes() == original
        assert os.stat(d.store).st_blocks == blocks
        assert d.unmount_and_wait() == 0


# ---- 6. signals do not end it; the unmount does ----


def test_sigterm_sigint_sighup_do_not_end_it_the_unmount_does(uswapd: Path, tmp_path: Path) -> None:
    with daemon(uswapd, tmp_path) as started:
        d = serving(started)
        before = d.stats()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            d.proc.send_signal(sig)
        # An ignored signal is dropped when sent; one that ended the daemon would have ended
        # it before it could answer this read, which only it can answer.
        assert d.stats() == before
        assert d.proc.poll() is None
        assert d.unmount_and_wait() == 0
        assert not fuse_mounts_under(tmp_path)
