"""Compressed swap in RAM: a zram device of our own.

Each area gets a fresh device from ``/sys/class/zram-control/hot_add`` and gives it back
with ``reset`` and ``hot_remove``, so swapadmin never reconfigures a zram device that a
distribution's zram-generator or an administrator set up: only the device named in our
``state`` is ever written, and only during the boot that recorded it. zram devices do not
survive a reboot, so after one the recorded number may name someone else's device (the
generator's /dev/zram0); the state keeps the host's boot id to tell.

The boot id is the kernel's (``/proc/sys/kernel/random/boot_id``). A test that simulates a
reboot points ``SWAPADMIN_BOOT_ID_FILE`` in the worker's own environment at a file of its
own: an environment only root sets when it starts the process, which no row can reach.

``SWAPADMIN_ZRAM_LEDGER``, in the same way, names a file each device this process hot_adds
is appended to: the test harness takes down only devices listed there by its own session's
processes, never one that merely appeared while it ran (another session's, a swapadmin of
the machine's own, a distribution's zram-generator).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

from .. import devices, kernel, presence
from ..base import Fact, Parameter, SwapBackend
from ..errors import (
    ActiveAreaError,
    BackendError,
    KernelError,
    NoDeviceError,
    NotOursError,
    UnsafeError,
    ValidationError,
    before_any_change,
)
from ..names import is_swap_area
from ..policy import Policy
from ..store import Store
from ..store import boot_id as kernel_boot_id
from ..units import iec

ZRAM_CONTROL: Final = Path("/sys/class/zram-control")
#: The environment variable naming another file to read the boot id from (tests only).
BOOT_ID_FILE_ENV: Final = "SWAPADMIN_BOOT_ID_FILE"
#: The environment variable naming a file each device hot_added is appended to (tests only).
LEDGER_ENV: Final = "SWAPADMIN_ZRAM_LEDGER"
_ALGORITHM = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def boot_id() -> str:
    """This boot's id, as zram devices are recorded in: the kernel's, or the file
    ``SWAPADMIN_BOOT_ID_FILE`` names in this process's environment (a simulated reboot)."""
    path = os.environ.get(BOOT_ID_FILE_ENV)
    if not path:
        return kernel_boot_id()
    try:
        return Path(path).read_text().strip()
    except OSError as e:
        raise KernelError(f"cannot read {path} ({BOOT_ID_FILE_ENV}): {e.strerror}") from e


def note_added(name: str, diskseq: str) -> None:
    """Append ``/dev/<name> <diskseq>`` to the file ``SWAPADMIN_ZRAM_LEDGER`` names in this
    process's environment, if it names one. One write of one line with O_APPEND: lines of
    the several processes of a test session never interleave."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, f"/dev/{name} {diskseq}\n".encode())
    finally:
        os.close(fd)


def _give_back(name: str, diskseq: str) -> str:
    """hot_remove ``name``, which this process has just added and nobody else has been told
    of, while it is still the device of ``diskseq``; what became of it, as a clause."""
    if not diskseq or zram_diskseq_of(name) != diskseq:
        return f"it was not removed (it may no longer be the device added): see {ZRAM_CONTROL}"
    try:
        hot_remove(name)
    except OSError as e:
        return (
            f"removing it failed too ({e.strerror}): remove it with "
            f"'echo {name.removeprefix('zram')} > {ZRAM_CONTROL / 'hot_remove'}'"
        )
    return "it was removed again"


def zram_diskseq_of(name: str) -> str:
    """zram device ``name``'s disk sequence number now, or "" if it cannot be read."""
    try:
        return (Path("/sys/block") / name / "diskseq").read_text().strip()
    except OSError:
        return ""


def zram_major() -> int | None:
    """The zram driver's block major from /proc/devices, or None when it is not loaded.
    KernelError when /proc/devices cannot be read: "not loaded" would make our own device
    look like another kind's, and a destroy forget it as gone."""
    try:
        text = Path("/proc/devices").read_text()
    except OSError as e:
        raise KernelError(
            f"cannot read /proc/devices, which gives the zram driver's major number: {e.strerror}",
            errno=e.errno,
        ) from e
    _, _, blocks = text.partition("Block devices:")
    for line in blocks.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == "zram" and fields[0].isdigit():
            return int(fields[0])
    return None


def open_zram_node(dev: str, flags: int) -> int:
    """``dev`` opened with ``flags`` only once it proves to be a zram block device (of the
    major /proc/devices gives the loaded driver); see ``devices.open_block_node``."""
    return devices.open_block_node(dev, flags, major=zram_major(), kind="zram")


def algorithms(name: str) -> tuple[list[str], str | None]:
    """The algorithms ``/sys/block/<name>/comp_algorithm`` lists, and the selected one."""
    text = (Path("/sys/block") / name / "comp_algorithm").read_text()
    names = [w.strip("[]") for w in text.split()]
    current = next((w.strip("[]") for w in text.split() if w.startswith("[")), None)
    return names, current


def _read_diskseq(sys_dir: Path, dev: str) -> str:
    """The disk sequence number of the device at ``sys_dir``, which no later device shares
    (its number, a later device may take). "" only on a kernel older than 5.15, which has
    none: no diskseq file beside the device's others. Any other failure to read it is
    raised: read as none, the device would be known by its number alone."""
    path = sys_dir / "diskseq"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        # The device's own "dev" beside it says an old kernel, its absence a device gone;
        # a look at it that fails otherwise says neither (presence's one rule).
        try:
            os.stat(sys_dir / "dev")
        except OSError as e:
            if not presence.says_absent(e.errno):
                raise KernelError(
                    f"cannot tell whether {dev} is still there ({sys_dir}/dev: {e.strerror})",
                    errno=e.errno,
                ) from e
            raise KernelError(f"{dev} is gone: {sys_dir} no longer exists") from None
        return ""
    except OSError as e:
        raise KernelError(
            f"cannot read the disk sequence number of {dev} ({path}: {e.strerror}), which "
            "tells it from a later device of the same number",
            errno=e.errno,
        ) from e


#: How long a hot_remove waits for the device to be let go (seconds).
HOT_REMOVE_WAIT: Final = 10.0


#: How long a resize's reset waits for the device to be let go (seconds).
RESET_WAIT: Final = 10.0


def hot_remove(name: str) -> None:
    """hot_remove zram device ``name`` (``zramN``), tried again while it is busy: resetting
    it sends a change event, and udev's probe of the device (blkid) holds it open for a
    moment; removed then, it answered EBUSY and was left behind. Another error, or still
    busy after HOT_REMOVE_WAIT, is raised."""
    deadline = time.monotonic() + HOT_REMOVE_WAIT
    while True:
        try:
            (ZRAM_CONTROL / "hot_remove").write_text(name.removeprefix("zram"))
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.05)  # the prober's own pace; the loop ends when the kernel lets go


def _write(name: str, attr: str, value: str | int) -> None:
    path = Path("/sys/block") / name / attr
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno) from e
    try:
        os.write(fd, str(value).encode())
    except OSError as e:
        raise KernelError(f"writing {value!r} to {path} failed: {e.strerror}", errno=e.errno) from e
    finally:
        os.close(fd)


def _read_int(name: str, attr: str) -> int:
    return int((Path("/sys/block") / name / attr).read_text().split()[0])


#: Where a distribution says it sets zram swap up at boot: zram-generator (systemd's
#: zram-swap: a generated ``systemd-zram-setup@zramN.service`` and its config) and
#: Debian's zram-tools. Only read, to tell the sysadmin who recreates an adopted device.
_GENERATOR_UNIT_DIRS: Final = (
    "/run/systemd/generator",
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
_GENERATOR_CONFIGS: Final = (
    "/etc/systemd/zram-generator.conf",
    "/usr/lib/systemd/zram-generator.conf",
    "/usr/local/lib/systemd/zram-generator.conf",
)
_ZRAM_TOOLS_CONFIG: Final = "/etc/default/zramswap"


def managed_by(name: str) -> str:
    """Who sets up ``zramN`` at boot, as far as the host says."""
    unit = f"systemd-zram-setup@{name}.service"
    for d in _GENERATOR_UNIT_DIRS:
        if (Path(d) / unit).exists():
            return f"zram-generator ({unit})"
    if any(Path(c).exists() for c in _GENERATOR_CONFIGS):
        return "zram-generator"
    if Path(_ZRAM_TOOLS_CONFIG).exists():
        return "zram-tools (zramswap)"
    return "set up outside swapadmin"


def distro_signature(name: str) -> dict[str, Any]:
    """What a zram device set up outside swapadmin is, whatever the boot: its name, size
    and algorithm, which the distribution sets the same at every boot, and who does it."""
    return {
        "name": name,
        "disksize": _read_int(name, "disksize"),
        "algorithm": algorithms(name)[1],
        "managed_by": managed_by(name),
    }


def _distro_device_now(name: str, sig: dict[str, Any]) -> dict[str, Any] | None:
    """The identity (device number, disk sequence, boot, key) and swap UUID of ``zramN``
    now, if it matches ``sig`` and holds a swap header; None otherwise. Read-only."""
    from ..base import PAGE_SIZE
    from ..store import header_uuid

    try:
        if _read_int(name, "disksize") != sig.get("disksize") or not sig.get("disksize"):
            return None
        if algorithms(name)[1] != sig.get("algorithm"):
            return None
        fd = open_zram_node(f"/dev/{name}", os.O_RDONLY)
    except (OSError, ValueError, BackendError):
        return None
    try:
        ident = ZramBackend._identity_of(fd, f"/dev/{name}")
        found = header_uuid(fd, PAGE_SIZE)
    except BackendError:
        return None
    finally:
        os.close(fd)
    if found is None:
        return None
    return {**ident, "uuid": str(found)}


class ZramBackend(SwapBackend):
    """A zram device of ``size_bytes`` (uncompressed) that this backend hot_added.
    ``state = {"device": "/dev/zramN", "boot_id": ...}`` once enabled; a device recorded
    during another boot (or without a boot id) is not ours: it is forgotten, never touched."""

    name: ClassVar[str] = "zram"
    label: ClassVar[str] = "zram (compressed RAM)"
    description: ClassVar[str] = (
        "Swap compressed in RAM on a zram device of its own; fast, and costs memory."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "algorithm",
            "Compression algorithm",
            max_length=32,
            help="One the host's kernel lists in /sys/block/zram*/comp_algorithm (lz4, zstd, "
            "lzo-rle...); empty keeps the kernel's default.",
        ),
        Parameter(
            "mem_limit_bytes",
            "Memory limit (bytes)",
            type="bytes",
            minimum=0,
            help="Most RAM the compressed pages may take; empty or 0 for no limit.",
        ),
    )
    resizable: ClassVar[bool] = True
    device_is_ephemeral: ClassVar[bool] = True

    @classmethod
    def existing_size(cls, path: str, params: Mapping[str, Any]) -> int | None:
        with open(f"/sys/block/{os.path.basename(path)}/disksize") as f:
            return int(f.read().strip())

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 2 if path.startswith("/dev/") and os.path.basename(path).startswith("zram") else 0

    @classmethod
    def compressed_memory(cls, path: str) -> kernel.ZramStat | None:
        # No device there is "none"; one that cannot be looked at is read, and its error
        # said: ``os.path.exists`` took it for none, and its figures went missing (168/7).
        if not cls.adoption_claim(path) or presence.there(path) is False:
            return None
        return kernel.zram_mm_stat(path)

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # Recognised by what it is: set up outside swapadmin (a distribution's generator),
        # recreated alike at every boot, so keyed by name, size and algorithm, not number.
        state: dict[str, Any] = {"device": path, "boot_id": kernel_boot_id()}
        if active or is_swap_area(path):
            state["distro"] = distro_signature(os.path.basename(path))
        return {}, state

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        ratio = info.get("compression_ratio")
        stored = f"{iec(info.get('orig_data_size'))} in {iec(info.get('compr_data_size'))}"
        if isinstance(ratio, int | float) and ratio:
            stored += f" — ratio {ratio:.2f}"
        algorithm = info.get("algorithm") or info.get("comp_algorithm") or "?"
        return [
            Fact("Device", str(info.get("device") or swap_path or ""), mono=True),
            Fact("Algorithm", str(algorithm)),
            Fact("Stored at the last job or check", stored),
            Fact("Memory used", iec(info.get("mem_used_total"))),
        ]

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return f"Create a compressed RAM device of {size}; nothing on disk."

    @classmethod
    def destroy_removes(cls, path: str, size: str) -> str:
        return f"The zram device {path} is reset and removed, and its contents lost."

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        params = super().validate_params(params, policy)
        algorithm = params.get("algorithm")
        if algorithm and not _ALGORITHM.fullmatch(algorithm):
            raise ValidationError(
                f"{algorithm!r} is not a compression algorithm name (lowercase letters, digits, "
                "'-' or '_', like lz4 or lzo-rle)",
                field="algorithm",
            )
        return params

    #: Whether this instance has looked for its distribution's device of this boot.
    _followed: bool = False

    @property
    def device(self) -> str | None:
        """Our device, or None when there is none or it was recorded during another boot."""
        if self.state.get("boot_id") != boot_id():
            self.follow_distro_device()
        dev = self.state.get("device")
        if not dev or self.state.get("boot_id") != boot_id():
            return None
        return str(dev)

    @property
    def swap_path(self) -> str:
        if self.device is None:
            raise NoDeviceError("this zram area has no device yet; enable it")
        return self.device

    def follow_recreated(self) -> None:
        self.follow_distro_device()

    def follow_distro_device(self) -> None:
        """An adopted distribution device (``state["distro"]``) is recreated at every boot
        by zram-generator or zram-tools: same number, size and algorithm, a fresh swap
        header. The device there now that matches that signature and holds a swap header is
        this backend's store again, recorded afresh (boot, disk sequence, swap UUID), so
        the backend survives the reboot instead of reading as gone. It stays adopted: it is
        swapped on and off, never written.

        Only after a reboot: the boot this process reads (``boot_id``, the kernel's) must
        differ from every boot the state recorded the device in. Within the recorded boot
        a device reset and set up again, however alike, is someone's new device, and the
        recorded identity refuses it. The fields relied on (``distro``, ``boot_id``, the
        recorded identity) are covered by a job's signature.

        Reading the header opens the device for a moment, and a reset (the distribution's
        own, ``systemctl restart systemd-zram-setup@zramN``) fails with EBUSY meanwhile: so
        it is read once per instance, when a job opens the store or the boot has changed,
        never from ``describe`` in the sampler's every round."""
        if self._followed:
            return
        self._followed = True
        sig = self.state.get("distro")
        if not isinstance(sig, dict) or not self.record.get("adopted"):
            return
        name = sig.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"zram[0-9]+", name):
            return
        recorded = {self.record.get("boot_id"), self.state.get("boot_id")} - {None, ""}
        if not recorded or boot_id() in recorded:
            return  # the boot it was recorded in (or none recorded): never followed
        found = _distro_device_now(name, sig)
        if found is None or found["boot_id"] in recorded:
            return
        self.state.update(device=f"/dev/{name}", boot_id=found["boot_id"])
        self.update_record(**found)
        self.save_state()

    def _name(self) -> str | None:
        """``zramN`` of our device, or None (and the state forgotten) when it is gone or
        was recorded during another boot: the number may now be someone else's device."""
        dev = self.device
        name = kernel.zram_name(dev) if dev else None
        if name is None or not (Path("/sys/block") / name).is_dir():
            self._forget()
            return None
        return name

    def _forget(self) -> None:
        self.state.pop("device", None)
        self.state.pop("boot_id", None)
        rec = self.record
        for k in ("devnum", "diskseq", "key"):
            rec.pop(k, None)
        rec.pop("uuid", None)
        if not self.state.get("distro"):
            rec.pop("boot_id", None)
        # An adopted distribution device keeps the boot it was last known in: only a later
        # boot's device may be followed (follow_distro_device).
        self.state["store"] = rec

    # ---- the open store: our device, by number and disk sequence within this boot ----

    def open_store(self, writable: bool) -> Store:
        self.follow_distro_device()
        dev = self.swap_path
        fd = open_zram_node(dev, self.open_flags(writable))
        try:
            info = self._identity_of(fd, dev)
        except BaseException:
            os.close(fd)
            raise
        return Store(fd, writable, dev, info["key"], info=info)

    @staticmethod
    def _identity_of(fd: int, dev: str) -> dict[str, Any]:
        st = os.fstat(fd)
        if not stat.S_ISBLK(st.st_mode):
            raise NotOursError(f"{dev} is not a block device any more. Nothing was written.")
        number = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        sys_dir = Path(f"/sys/dev/block/{number}").resolve()
        if not sys_dir.name.startswith("zram"):
            raise NotOursError(f"{dev} is {sys_dir.name}, not a zram device. Nothing was written.")
        current = boot_id()
        diskseq = _read_diskseq(sys_dir, dev)
        return {
            "devnum": number,
            "diskseq": diskseq,
            "boot_id": current,
            "key": f"zram:{current}:{diskseq or number}",
        }

    def check_identity(self, store: Store) -> None:
        rec = self.record
        if not rec.get("devnum"):
            return
        found = store.info
        problems = [
            f"its {what} is {found.get(k) or 'none'}, not {rec[k]}"
            for k, what in (
                ("boot_id", "boot"),
                ("devnum", "device number"),
                ("diskseq", "disk sequence number (it was removed and added again)"),
            )
            if rec.get(k) and rec.get(k) != found.get(k)
        ]
        if problems:
            raise NotOursError(
                f"the zram device now at {store.path} is not this backend's: "
                f"{'; '.join(problems)}. Nothing was written."
            )

    def has_identity(self) -> bool:
        return bool(self.record.get("devnum"))

    def identity(self, store: Store) -> dict[str, Any]:
        return dict(store.info)

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: our device exists with ``size_bytes``, the asked algorithm and memory
        limit; an enabled one is verified, not reconfigured: by identity and, outside a
        provision, our swap UUID. A device added here (the first provision, or after a
        reboot took the last one) is this backend's from the start. On False: our device
        is reset and hot_removed, unless active; a device already gone is fine."""
        if enable:
            self._enable()
        else:
            self._disable()

    def _enable(self) -> None:
        name = self._owned_name()
        if name is not None and _read_int(name, "disksize") > 0:
            self._verify(name)
            if self.provisioning:
                store = self.open_store(writable=False)
                try:
                    self.check_identity(store)
                    self.take_store(store)
                except BaseException:
                    store.close()
                    raise
            else:
                self.verify()
            return
        created = name is None
        if name is None and not self.may_make_store:
            raise NoDeviceError("this zram area has no device of its own any more; none is added")
        if name is None:
            name = self._hot_add()
        elif not self.provisioning:
            # Ours by number in this boot, but never configured: only a provision sets it up.
            raise NotOursError(f"/dev/{name} was never set up by this backend; {self.way_out()}")
        try:
            self._configure(name, self._size())
            store = self.open_store(writable=False)
            try:
                self.take_store(store, created=created)
            except BaseException:
                store.close()
                raise
        except BaseException:
            if created:
                self._remove(name)
            raise

    def _size(self) -> int:
        assert self.size_bytes is not None
        return self.size_bytes

    def _hot_add(self) -> str:
        current = boot_id()  # read first: a device must never be recorded without it
        try:
            number = int((ZRAM_CONTROL / "hot_add").read_text())
        except FileNotFoundError:
            raise KernelError(
                "zram is not available: load it with 'modprobe zram' (no /sys/class/zram-control)"
            ) from None
        except OSError as e:
            raise KernelError(f"cannot add a zram device: {e.strerror}", errno=e.errno) from e
        # Recorded at once, and saved, so a crash from here on leaves a device we know to
        # remove, by number and disk sequence number (which no later device shares).
        name = f"zram{number}"
        sys_dir = Path("/sys/block") / name
        try:
            devnum = (sys_dir / "dev").read_text().strip()
            diskseq = _read_diskseq(sys_dir, f"/dev/{name}")
        except (OSError, KernelError) as e:
            # Unproven, it is not removed either: by its number alone, it may be another's.
            why = (
                e.message
                if isinstance(e, KernelError)
                else f"cannot read its device number ({e.filename}: {e.strerror})"
            )
            raise KernelError(
                f"/dev/{name} was added, but neither recorded nor used: {why}. Remove it "
                f"with 'echo {number} > {ZRAM_CONTROL / 'hot_remove'}'",
                errno=e.errno,
            ) from e
        try:
            note_added(name, diskseq)
        except OSError as e:
            raise KernelError(
                f"/dev/{name} was added, but not noted in the file {LEDGER_ENV} names: "
                f"{e.strerror}; {_give_back(name, diskseq)}",
                errno=e.errno,
            ) from e
        self.state.update(device=f"/dev/{name}", boot_id=current)
        self.update_record(
            devnum=devnum,
            diskseq=diskseq,
            boot_id=current,
            key=f"zram:{current}:{diskseq or devnum}",
            uuid=None,
        )
        self.save_state()
        return name

    def _configure(self, name: str, size: int) -> None:
        algorithm = self.params.get("algorithm")
        if algorithm:
            listed, _ = algorithms(name)
            if algorithm not in listed:
                raise ValidationError(
                    f"this host's zram does not offer {algorithm!r}; it offers {', '.join(listed)}",
                    field="algorithm",
                )
            _write(name, "comp_algorithm", algorithm)
        if self.params.get("mem_limit_bytes"):
            _write(name, "mem_limit", self.params["mem_limit_bytes"])
        _write(name, "disksize", size)

    def _verify(self, name: str) -> None:
        size = _read_int(name, "disksize")
        if size != self.size_bytes:
            raise UnsafeError(
                f"/dev/{name} holds {size} bytes, not the {self.size_bytes} asked; resize it "
                "instead of enabling it again"
            )
        algorithm = self.params.get("algorithm")
        current = algorithms(name)[1]
        if algorithm and current != algorithm:
            raise UnsafeError(
                f"/dev/{name} compresses with {current}, not {algorithm}; disable and enable "
                "it again to change the algorithm"
            )

    def _owned_name(self) -> str | None:
        """Our device's name once its descriptor proves it is ours (number and disk sequence
        in this boot). The descriptor is closed before returning: the kernel refuses a
        reset while the device is open, so a reset follows the proof, by this number."""
        name = self._name()
        if name is None:
            return None
        if not self.record.get("devnum"):
            # Named by the state alone (an edited row, or one from before devices were
            # recorded): nothing proves it is ours. Forget it, never touch it.
            self._forget()
            return None
        self.close()
        store = self.open_store(writable=False)
        try:
            self.check_identity(store)
        finally:
            store.close()
        return name

    def _disable(self) -> None:
        if self.record.get("adopted"):
            self._forget()  # someone else's device: released, never reset
            return
        try:
            name = self._owned_name()
        except NotOursError:
            # The number is someone else's device now: ours is gone already.
            self._forget()
            return
        if name is None:
            return
        if self.is_active():
            raise ActiveAreaError(
                f"/dev/{name} is active in /proc/swaps; deactivate it before removing it"
            )
        self._remove(name)

    def _remove(self, name: str) -> None:
        self.close()
        _write(name, "reset", 1)
        try:
            hot_remove(name)
        except OSError as e:
            if e.errno != errno.ENODEV:
                raise KernelError(
                    f"/dev/{name} was reset but not removed: {e.strerror}", errno=e.errno
                ) from e
        self._forget()

    def resize(self, new_size_bytes: int) -> None:
        """Reset our inactive device and configure it again at ``new_size_bytes``: its
        contents are lost, as they are at every swapoff. The device proves to be this
        backend's formatted area first."""
        with before_any_change():
            size = self.clean_size(new_size_bytes)
            assert size is not None
            if self.record.get("adopted"):
                raise NotOursError(
                    "an adopted zram device is left as it is, never reset or resized"
                )
            name = self._owned_name()
            if name is None:
                raise NoDeviceError("this zram area has no device; enable it first")
            if self.is_active():
                raise ActiveAreaError(f"/dev/{name} is active in /proc/swaps; deactivate it first")
            if not self._taken:
                self.verify()
        self.close()
        with before_any_change():
            # Refused, the reset changed nothing: said as that, not as a store that may
            # have changed (224/1).
            self._reset_when_let_go(name)
        self._configure(name, size)
        self.size_bytes = size
        # Reset, it holds nothing: this backend's again from scratch, to be formatted.
        store = self.open_store(writable=False)
        try:
            self.take_store(store, created=True)
        except BaseException:
            store.close()
            raise

    def _reset_when_let_go(self, name: str) -> None:
        """Reset the device, tried again while someone holds it open a moment (udev's
        probe after the swapoff, a health probe, a person's look): the kernel refuses a
        reset of an open device (EBUSY) before it changes anything, and a resize refused
        for that left the area off (225/7). Still held after RESET_WAIT, or swapped on
        meanwhile, the refusal is raised."""
        deadline = time.monotonic() + RESET_WAIT
        while True:
            # Proven again before each try: while it was held, the device may have been
            # removed and someone's added under its name, which a reset by name would
            # take for this backend's (226/3).
            if self._owned_name() != name:
                raise NotOursError(f"/dev/{name} is not this backend's device any more")
            try:
                _write(name, "reset", 1)
                return
            except KernelError as e:
                if e.errno != errno.EBUSY or time.monotonic() >= deadline or self.is_active():
                    raise
            time.sleep(0.05)  # the prober's own pace; the loop ends when it lets go

    # ---- what the host shows ----

    def capacity_bytes(self) -> int:
        name = self._name()
        if name is None:
            raise NoDeviceError("this zram area has no device; enable it first")
        return _read_int(name, "disksize")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        name = self._name()
        out["device"] = self.device
        if name is None:
            return out
        with contextlib.suppress(OSError, BackendError):
            listed, current = algorithms(name)
            stat = kernel.zram_mm_stat(f"/dev/{name}")
            out.update(
                algorithm=current,
                algorithms=listed,
                disksize_bytes=_read_int(name, "disksize"),
                mem_limit_bytes=stat.mem_limit,
                orig_data_size=stat.orig_data_size,
                compr_data_size=stat.compr_data_size,
                mem_used_total=stat.mem_used_total,
                compression_ratio=round(stat.compression_ratio, 3),
            )
        return out
