"""The swap backend contract, after Peter Zijlstra's ``->swapfile``/``->swap_out``/``->swap_in``.

The kernel patch (``shared/seed``) lets swap live on storage that is not a plain block
device: ``swapfile(mapping, 1)`` at swapon tells the address space that the VM now relies
on it (pin the block map, reserve memory), ``swapfile(mapping, 0)`` at swapoff releases
that, and ``swap_out``/``swap_in`` move single pages. A swapadmin plugin is the same idea
one level up: ``swapfile(True)`` makes the backing store ready and verified so that
``swapon`` may rely on it, ``swapfile(False)`` releases what enabling took, and
``swap_out(slot, page)``/``swap_in(slot)`` move one page at ``slot * PAGE_SIZE``.

Slot 0 is the swap header: ``mkswap`` is ``swap_out(0, header)``.

Page I/O here is O_DIRECT from page-aligned buffers, so what jobs measure and verify is the
device, never the page cache. Writes refuse an area that is active in ``/proc/swaps``: its
pages hold live process memory.

Every write lands on a store proven to be this backend's own, on the descriptor it is
written through (``open_store``, ``check_identity``, ``prove``): a store this backend
formatted carries its mark or recorded identity and the swap UUID it wrote; a store not
yet formatted is written only by the provision job that took it (``take_store``).
"""

from __future__ import annotations

import mmap
import os
import stat
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from . import store as store_mod
from .errors import (
    ActiveAreaError,
    BackendError,
    KernelError,
    NoDeviceError,
    NotOursError,
    UnsafeError,
    ValidationError,
)
from .policy import Policy
from .store import Store

if TYPE_CHECKING:
    from . import kernel

PAGE_SIZE: Final[int] = os.sysconf("SC_PAGE_SIZE")

ParamType = Literal["str", "int", "bool", "choice", "bytes"]


@dataclass(frozen=True)
class Fact:
    """One line of what a backend's page says about its store, as its kind words it:
    ``text`` as shown (``mono`` for a path or device name), then ``problem`` (what is
    wrong with the store, shown as an error) if there is one."""

    term: str
    text: str
    mono: bool = False
    problem: str = ""


@dataclass(frozen=True)
class Parameter:
    """One parameter a plugin takes; forms and the API schema are generated from these."""

    name: str
    label: str
    type: ParamType = "str"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None

    def clean(self, value: Any) -> Any:
        """Coerce ``value`` to the parameter's type or raise ValidationError naming the field."""
        if value is None or value == "":
            if self.required:
                raise ValidationError(f"{self.label} is required", field=self.name)
            return self.default
        try:
            cleaned = self._coerce(value)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{self.label}: {value!r} is not a valid {self.type}", field=self.name
            ) from None
        self._check_bounds(cleaned)
        return cleaned

    def _coerce(self, value: Any) -> Any:
        if self.type in ("int", "bytes"):
            if isinstance(value, bool):
                raise TypeError("a boolean is not a number")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            return int(value)
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError("not a boolean")
        if not isinstance(value, str):
            raise TypeError("not a string")
        return value

    def _check_bounds(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            raise ValidationError(
                f"{self.label}: {value!r} is not one of {', '.join(self.choices)}", field=self.name
            )
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"{self.label} must be at least {self.minimum}", field=self.name)
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"{self.label} must be at most {self.maximum}", field=self.name)
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(
                f"{self.label} must be at most {self.max_length} characters", field=self.name
            )
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"{self.label} must not contain a NUL byte", field=self.name)

    def schema(self) -> dict[str, Any]:
        """A JSON Schema fragment, for the API's ``plugins/`` endpoint and generated forms."""
        json_type = {"str": "string", "choice": "string", "int": "integer", "bytes": "integer"}
        out: dict[str, Any] = {
            "type": json_type.get(self.type, "boolean"),
            "title": self.label,
            "description": self.help,
        }
        if self.choices:
            out["enum"] = list(self.choices)
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        return out


def aligned_buffer(pages: int) -> mmap.mmap:
    """A zeroed, page-aligned buffer of ``pages`` pages: O_DIRECT needs the alignment."""
    return mmap.mmap(-1, max(1, pages) * PAGE_SIZE)


class SwapBackend(ABC):
    """A kind of swap backing store. Subclasses set the class attributes and the abstract parts.

    An instance describes one area: its cleaned ``params``, the asked ``size_bytes`` (None for
    kinds whose size is the device's), the host's ``policy`` and ``state``, a JSON-serialisable
    dict that ``swapfile(True)`` fills with what a later process needs to find the area again
    (the loop or zram device it attached). The job layer stores ``state`` after each call and
    passes it back, so an instance may be rebuilt in another process at any time.

    Guarantees every subclass keeps:
    - ``swapfile(True)`` is idempotent: on a ready store it verifies and changes nothing.
    - ``swapfile(False)`` releases only what enabling took, and succeeds when it is already
      released. It never releases an area that is active in /proc/swaps.
    - Nothing is changed when a refusal is raised: checks come before the first write.
    - Host-side checks are made again here even if the caller already made them: a worker
      never trusts the message that asked it.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    #: False for kinds whose size is the device's own (block devices).
    takes_size: ClassVar[bool] = True
    #: True when ``resize(new_size_bytes)`` is implemented (file, loop, zram).
    resizable: ClassVar[bool] = False
    #: True when an fstab line can name the area across a reboot (``fstab_spec``): the
    #: control plane accepts "persist" only for such kinds. A subclass inherits this and
    #: the hooks below from its parent: a kind whose area is not its parent's (a device
    #: built over the parent's file) must override them.
    persistable: ClassVar[bool] = False
    #: True when the kind's device exists only while the area is enabled (``swapfile``
    #: makes it, ``swapfile(False)`` removes it: a loop device, a zram device): its absence
    #: while the area is released is no fault for the health probes to report.
    device_is_ephemeral: ClassVar[bool] = False
    #: True when the store is a file reached through the machine's mount points (the file
    #: and loop kinds): nothing found at its path by name, or something not its own, may
    #: mean a filesystem meant to be mounted on the way is not (``hidden``), so a reader
    #: by name (the sampler) asks the mount table before it says "absent".
    beneath_mounts: ClassVar[bool] = False
    #: True when releasing the store (``swapfile(False)``, ``remove``) changes it: a zram
    #: device reset, a loop device detached, a file removed. A destroy of such an active
    #: area asks ``check_alone`` before its swapoff, as it would be refused after it; a
    #: kind that releases nothing (the block kind) is destroyed whatever reaches its bytes.
    release_changes_store: ClassVar[bool] = True

    def __init__(
        self,
        params: Mapping[str, Any],
        *,
        size_bytes: int | None = None,
        policy: Policy | None = None,
        force: bool = False,
        state: Mapping[str, Any] | None = None,
        provisioning: bool = False,
        owner: str | None = None,
    ) -> None:
        self.policy = policy or Policy.from_env()
        self.params = self.clean_params(params, self.policy)
        self.size_bytes = self.clean_size(size_bytes)
        #: Overwrite what a store holds at its first provision (a filesystem, a file
        #: swapadmin did not make). Only ever honoured with ``provisioning``.
        self.force = force and provisioning
        #: Only a provision may take a store that is not yet this backend's: every other
        #: caller finds the store proven ours (``prove``) or writes nothing.
        self.provisioning = provisioning
        #: Whether ``swapfile(True)`` may make a store where there is none (a zram device
        #: hot_added, a loop device attached). A caller that only puts back what was (a
        #: resize's swapon again) sets it False: the kind then raises ``NoDeviceError``
        #: rather than make one (review 220/2).
        self.may_make_store = True
        #: Who owns the stores this instance takes: the control plane passes the backend's
        #: public id, which the kinds write into their mark (a file's xattr). None for the
        #: operator's command line, which acts on the path the operator names.
        self.owner = owner
        self.state: dict[str, Any] = _copy_state(state)
        #: Called with each store opened for writing, after its proof and before the first
        #: byte: the control plane checks there that no other backend names the same bytes.
        self.on_store: Callable[[Store], None] | None = None
        #: The bytes ``on_store`` last accepted for this instance (``claim``).
        self._claimed: tuple[str, frozenset[str]] | None = None
        #: Called with ``state`` whenever a kind made something on the host that only this
        #: state can find again (a zram device added, a loop device attached): the control
        #: plane saves it at once, so a crash right after never leaks it.
        self.on_state: Callable[[dict[str, Any]], None] | None = None
        self._store: Store | None = None
        #: Stores replaced by a later one (read-only by writable), closed with the backend.
        self._retired: list[Store] = []
        self._active_checked = False
        self._taken = False
        self._io_lock = threading.Lock()

    @classmethod
    def fstab_spec(cls, params: Mapping[str, Any], swap_uuid: str | None) -> str | None:
        """How an fstab line names an area of this kind made with ``params`` (and, once
        made, its swap UUID); None for a kind no fstab line can bring back after a reboot
        (a device that exists only while swapadmin keeps it)."""
        return None

    @classmethod
    def existing_size(cls, path: str, params: Mapping[str, Any]) -> int | None:
        """The size in bytes of an area of this kind that exists already at ``path`` (made
        by ``params``), read from the host when swapadmin adopts it; None when the kind's
        size is its device's own (``takes_size`` False). Raises OSError when unreadable.
        Asked of the kind whose ``adoption_claim`` won the area."""
        return None

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        """How closely this kind recognises an existing swap area at the real path ``path``,
        by its name alone: 0 not at all. A kind that names a family of devices
        (``/dev/loopN``: 2) claims higher than one that takes any device or any file (1);
        the highest claim adopts the area, and two equal ones refuse it (which kind it is
        would be a guess)."""
        return 0

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The params and state of a backend of this kind adopting the existing area at the
        real path ``path`` (``active`` when it is in /proc/swaps; a device has been proven
        swap already). Looks at the host and writes nothing; raises ``BackendError`` naming
        why the area cannot be adopted."""
        raise BackendError(f"the {cls.label} kind does not adopt existing areas")

    def follow_recreated(self) -> None:
        """Look for this adopted backend's store again when its owner recreates it at every
        boot under the same name but a new identity (a distribution's zram device): if it
        is found, ``state`` names it afresh, as proven as when it was first adopted. A
        discover job asks every adopted backend of a kind that overrides this; by default
        a store is never recreated, and nothing is looked for."""
        return None

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        """What the backend's page says about its store, from ``info`` (what ``describe``
        read at the last job or check; possibly empty), the row's ``params`` and ``state``,
        and the path ``/proc/swaps`` shows. None by default: the page shows the parameters
        of every kind anyway."""
        return []

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        """In plain words, what provisioning a backend of this kind does to the host before
        its swap signature is written (``where`` is its path or device as typed, ``size``
        already written out), for the create form's summary."""
        return f"Prepare the store ({size}) as the {cls.label} plugin does."

    @classmethod
    def form_initial(cls, swap_roots: Sequence[str]) -> dict[str, str]:
        """The parameters the create form opens with on a host whose swap roots are
        ``swap_roots`` (a path inside the first, say); none by default."""
        return {}

    @classmethod
    def compressed_memory(cls, path: str) -> kernel.ZramStat | None:
        """For a kind whose areas live in compressed RAM, the live figures of its area at
        ``path`` (``/proc/swaps``' name): what it stores, what that takes, the memory limit.
        The sampler records them and the health check grades the compression and the
        limit. None for a kind whose pages live on storage (the default), and for an area
        that is not there; a BackendError when it is there and cannot be read."""
        return None

    @classmethod
    def destroy_removes(cls, path: str, size: str) -> str:
        """In plain words, what destroying a backend of this kind that swapadmin made
        removes from the host (``size`` is its size, already written out), for the
        confirmation page."""
        return f"{path} is released; its swap signature is no longer managed."

    @classmethod
    def kind_info(cls) -> dict[str, Any]:
        """The kind as ``plugins/`` in the API and ``list-kinds`` show it, its parameters as
        one JSON Schema object (forms are generated from the same ``Parameter`` list)."""
        return {
            "name": cls.name,
            "label": cls.label,
            "description": cls.description,
            "takes_size": cls.takes_size,
            "resizable": cls.resizable,
            "parameters": {
                "type": "object",
                "properties": {p.name: p.schema() for p in cls.parameters},
                "required": [p.name for p in cls.parameters if p.required],
                "additionalProperties": False,
            },
        }

    # ---- validation (pure: runs in the web process too, which is not on the host) ----

    @classmethod
    def clean_params(cls, params: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
        known = {p.name for p in cls.parameters}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValidationError(
                f"{cls.label} takes no parameter {unknown[0]!r} (it takes: "
                f"{', '.join(sorted(known)) or 'none'})",
                field=unknown[0],
            )
        cleaned = {p.name: p.clean(params.get(p.name)) for p in cls.parameters}
        return cls.validate_params(cleaned, policy)

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        """Checks across parameters, and lexical policy checks; override and call super."""
        return params

    @classmethod
    def clean_size(cls, size_bytes: int | None) -> int | None:
        if not cls.takes_size:
            if size_bytes not in (None, 0):
                raise ValidationError(
                    f"a {cls.label} takes its size from the device; leave the size empty",
                    field="size_bytes",
                )
            return None
        if size_bytes is None:
            raise ValidationError(f"a {cls.label} needs a size", field="size_bytes")
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int):
            raise ValidationError("size must be a whole number of bytes", field="size_bytes")
        if size_bytes % PAGE_SIZE:
            raise ValidationError(
                f"size must be a multiple of the page size ({PAGE_SIZE} bytes)", field="size_bytes"
            )
        if size_bytes < 10 * PAGE_SIZE:
            raise ValidationError(
                f"size must be at least 10 pages ({10 * PAGE_SIZE} bytes), as mkswap requires",
                field="size_bytes",
            )
        return size_bytes

    # ---- the contract ----

    @property
    @abstractmethod
    def swap_path(self) -> str:
        """The path ``swapon`` takes and ``/proc/swaps`` shows (a loop or zram device once
        enabled). Raises NoDeviceError when the kind has no device now (not prepared yet,
        released, or recorded during another boot), and only then: any other error says the
        path could not be read, and the area may well be active."""

    @abstractmethod
    def swapfile(self, enable: bool) -> None:
        """Prepare (True) or release (False) the backing store; see the class docstring."""

    @abstractmethod
    def capacity_bytes(self) -> int:
        """The size of the prepared store in bytes, read from the host (not the request)."""

    def describe(self) -> dict[str, Any]:
        """What the UI and the API show; subclasses add what is particular to their kind.

        ``swap_path`` is None when the kind has no device now; when the path could not be
        named (a boot id or sysfs that cannot be read), it is None too and
        ``swap_path_error`` says why: a reader must not take that for "no device", which
        would show an active area as gone. The key ``error`` is the control plane's own (a
        description it could not read): a description that has one is refused as such.
        What a subclass adds must be JSON a row can hold: no NaN, no NUL, UTF-8 text, at
        most 64 KiB."""
        described: dict[str, Any] = {"swap_path": None}
        try:
            described["swap_path"] = self.swap_path
        except NoDeviceError:
            pass
        except BackendError as e:
            described["swap_path_error"] = e.message
        return {
            "kind": self.name,
            "label": self.label,
            **described,
            "size_bytes": self.size_bytes,
            "page_size": PAGE_SIZE,
            "params": dict(self.params),
            "state": dict(self.state),
        }

    def resize(self, new_size_bytes: int) -> None:
        """Grow or shrink the inactive store to ``new_size_bytes`` (then mkswap it again)."""
        raise ValidationError(f"a {self.label} cannot be resized", field="size_bytes")

    def check_room_for(self, new_size_bytes: int) -> None:  # noqa: B027 (a default)
        """Raise ``NoRoomError`` when a growth to ``new_size_bytes`` cannot fit where the
        store's bytes would go, as ``resize`` would measure it now. Asked of an active area
        before the resize job swaps it off: a swapoff pushes every page in use back into
        RAM, and one done for a growth that cannot fit is a risk for nothing (review 214/6).
        Reads only; ``resize`` measures again, since the room may go in between. The
        default finds nothing to measure (a kind whose store is not a file on a
        filesystem)."""

    # ---- page I/O ----

    @property
    def size_pages(self) -> int:
        return self.capacity_bytes() // PAGE_SIZE

    def is_active(self) -> bool:
        from . import kernel

        path = self.swap_path_if_any()
        return path is not None and kernel.is_active(path)

    def swap_path_if_any(self) -> str | None:
        """``swap_path``, or None when the kind has no device now (``NoDeviceError``): then
        nothing of the area can be active. Any other failure to name the path (a boot id or
        sysfs that cannot be read, a third party's kind that says "no device" with a plain
        BackendError) is raised, saying that whether the area is active is unknown: taken
        for "inactive", a deactivate would succeed with the area on."""
        try:
            return self.swap_path
        except NoDeviceError:
            return None
        except BackendError as e:
            # The same error (a KernelError keeps its errno), told what it stopped.
            e.message = (
                f"cannot tell whether the {self.label} area is active: its path could not be "
                f"named: {e.message}"
            )
            e.args = (e.message,)
            raise

    def io_path(self) -> str:
        """The path page I/O opens; the swap path unless a kind says otherwise."""
        return self.swap_path

    def open_flags(self, writable: bool) -> int:
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_DIRECT | os.O_CLOEXEC
        # On a block device (block, loop, zram) O_EXCL makes the kernel refuse our write
        # open while swapon or a mount holds it, and a swapon while we write: the active
        # check alone leaves a window. Linux ignores O_EXCL on a file opened without O_CREAT.
        return flags | (os.O_EXCL if writable else 0)

    # ---- whose store it is ----

    @property
    def record(self) -> dict[str, Any]:
        """What this backend recorded of its store when it took it (``state["store"]``):
        the kind's identity of it and, once formatted, the swap ``uuid`` it wrote."""
        rec = self.state.get("store")
        return dict(rec) if isinstance(rec, dict) else {}

    def update_record(self, **fields: Any) -> None:
        self.state["store"] = {**self.record, **fields}

    def open_store(self, writable: bool) -> Store:
        """Open the store for page I/O and name its bytes; no path is opened again after.
        Kinds override this to reach their store safely (a walk from the swap root, the
        loop device and its backing file). The default opens ``io_path()``."""
        path = self.io_path()
        try:
            fd = os.open(path, self.open_flags(writable))
        except OSError as e:
            raise KernelError(
                f"cannot open {path} for {'writing' if writable else 'reading'}: {e.strerror}",
                errno=e.errno,
            ) from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISBLK(st.st_mode):
                return Store(fd, writable, path, store_mod.file_identity(st))
            # A device is named as the block and loop kinds name it (its WWN, serial or
            # backing file; its partitions and disk as overlaps), so that a clash with a
            # backend of theirs on the same bytes is found. (Before 2026-12-01 this named a
            # device by its bare number: a row claimed so keeps that key until its next
            # claim, and until then no clash with it is seen.)
            ident = store_mod.device_identity(fd)
        except BaseException:
            os.close(fd)
            raise
        return Store(fd, writable, path, ident["key"], tuple(ident["overlaps"]))

    def check_identity(self, store: Store) -> None:
        """Raise NotOursError when the open store is not the one recorded (the kind's own
        proof: a file's mark, a device's WWN, serial, partition and disk sequence). The
        default has nothing of its own to compare; ``prove`` still asks for the swap UUID."""
        return None

    def check_exclusive(self, store: Store) -> None:
        """Raise NotOursError when something else can reach the store's bytes right now,
        before a write (a loop device serving a file that is not this backend's own). The
        default knows of nothing of the kind's own; ``check_alone`` adds what every kind
        shares."""
        return None

    def check_alone(self, store: Store) -> None:
        """``check_exclusive``, and for a store that is a block device (a loop device, a
        zram device, a disk), no loop device attached over it: another name for its bytes,
        which anyone may swap on or mount, and which its O_EXCL open does not stop. Asked of
        every kind, a third party's too, before a write, a swapon and a burn-in, and at each
        of the burn-in's samples (226/1, 240/4); not in ``open_for_swapon``'s proof, which a
        swapoff and the read-only looks share (227/4).
        Asked of an active area too, just before the swapoff of a job that swaps it off to
        change it or swap it on again (228/1): a kind's ``check_exclusive`` must not refuse
        its own active area (an O_EXCL probe would find the kernel's own swap claim)."""
        self.check_exclusive(store)
        st = os.fstat(store.fd)
        if not stat.S_ISBLK(st.st_mode):
            return
        found = store_mod.loops_over_disk(st)
        if found:
            # Over another part of its disk, the bytes reached are the disk's, which a
            # partition table changed since may have made this store's.
            whose = "its" if set(found.values()) == {st.st_rdev} else "its disk's"
            raise NotOursError(
                f"{store.path} has {store_mod.attached_over(st, found)}: {whose} bytes can "
                f"be swapped on or mounted through that name, so swapadmin will not write it "
                f"or swap it on. Detach it first (losetup -d {next(iter(found))})."
            )

    def identity(self, store: Store) -> dict[str, Any]:
        """What to record of a store when taking it, for ``check_identity`` to compare; with
        its ``overlaps``, which the control plane reads to find a clash from either side."""
        return {"key": store.key, "overlaps": list(store.overlaps)}

    def has_identity(self) -> bool:
        """Whether the record holds the kind's identity of the store (``identity``): without
        it, a swap UUID alone proves nothing (it is no secret: blkid prints it)."""
        return bool(self.record.get("key"))

    def way_out(
        self, *, gone: bool = False, headerless: bool = False, adopted: bool = False
    ) -> str:
        """What a person can do about a store this backend cannot prove its own (or that is
        ``gone``, or holds no usable swap header now: ``headerless``): provision the backend
        again, or, for an area it adopted (which swapadmin never writes, so never provisions),
        adopt the area again. ``adopted``: the caller knows it was, for a record that predates
        adoption's own (the control plane's row says so). It can only add adoption, never
        take it from a record that says so: telling an adopted area to provision is the
        advice that must never be given."""
        if not (adopted or self.record.get("adopted")):
            return "provision the backend again"
        if gone:
            return "destroy the backend, which then removes only its row"
        again = "destroy the backend (its area is left as it is) and adopt the area again"
        # Adoption takes an area only by its swap header: without one it would be refused.
        if headerless or not self.record.get("uuid"):
            return f"{again} once it holds a swap header"
        return again

    def unformatted_refusal(self, store: Store) -> NotOursError:
        """The refusal for a store with no swap UUID on record: swapadmin neither writes it
        nor hands it to the kernel as swap."""
        if self.record.get("adopted"):
            why = "held no swap header when it was adopted"
        else:
            why = "was never formatted by this backend (its provision did not complete)"
        return NotOursError(
            f"{store.path} {why}, so swapadmin neither writes to it nor hands it to the kernel "
            f"as swap; {self.way_out()}"
        )

    def _require_identity(self, store: Store) -> None:
        if not self.has_identity():
            raise NotOursError(
                f"{store.path}: this backend has no record of its store's identity (it never "
                f"took one), so nothing proves the store is its own; {self.way_out()}"
            )

    def prove(self, store: Store) -> None:
        """Raise unless ``store`` may be written by this backend now, changing nothing: it
        is not active in /proc/swaps, it is the recorded store (``check_identity``), no other
        name reaches its bytes (``check_alone``), and it either still holds the swap header
        with the UUID this backend wrote or was taken by this very provision
        (``take_store``) and not yet formatted."""
        self._refuse_active(store)
        self.check_identity(store)
        self.check_alone(store)
        if self.record.get("adopted"):
            raise NotOursError(
                f"{store.path} was adopted, not made by swapadmin: it is activated and "
                "deactivated, never written"
            )
        if self._taken:
            return
        want = self.record.get("uuid")
        if not want:
            raise self.unformatted_refusal(store)
        self._require_identity(store)
        self.check_swap_uuid(store)

    def recheck_store(self) -> None:
        """Raise unless the store page I/O holds open is still inactive in /proc/swaps and
        still this backend's alone (``check_exclusive``); on the path when none is open. For
        a long writer (scan, benchmark) to ask again as it goes: a loop device can be
        attached over a file, and swapped on, while the file is written, which neither
        O_EXCL nor the kernel's own swap-file guard stops."""
        with self._io_lock:
            store = self._store
        if store is None:
            if self.is_active():
                raise ActiveAreaError(
                    f"{self.swap_path} is active in /proc/swaps: its pages hold live process "
                    "memory, so swapadmin will not write to it. Deactivate it first."
                )
            return
        self._refuse_active(store)
        self.check_alone(store)

    @staticmethod
    def _refuse_active(store: Store) -> None:
        active = store_mod.active_path(store.fd)
        if active is not None:
            raise ActiveAreaError(
                f"{active} is active in /proc/swaps: its pages hold live process memory, so "
                "swapadmin will not write to it. Deactivate it first."
            )

    def check_swap_uuid(self, store: Store) -> None:
        """Raise NotOursError unless page 0 holds a swap header with the recorded UUID."""
        want = self.record.get("uuid")
        found = store_mod.header_uuid(store.fd, PAGE_SIZE)
        if want and found is not None and str(found) == want:
            return
        held = store_mod.describe_contents(store.fd, PAGE_SIZE, store.path)
        if self.record.get("adopted"):
            # swapadmin wrote no header on an area it adopted: the UUID is the one it found.
            whose = (
                "it held when it was adopted. Nothing was written; "
                f"{self.way_out(headerless=found is None)}."
            )
        else:
            whose = "that swapadmin wrote. Nothing was written."
        raise NotOursError(
            f"the store now at {store.path} is not this backend's: it holds {held}, not the "
            f"swap area with UUID {want or '(none recorded)'} {whose}"
        )

    def take_store(self, store: Store, *, created: bool = False) -> None:
        """Make ``store`` this backend's own: called by a kind's ``swapfile(True)`` during a
        provision, once its checks of what the store holds have passed (or ``force``), or
        for a store it has just ``created`` (a zram device added after a reboot), which
        held nothing. The identity is recorded, the store kept open for the writes."""
        if not (self.provisioning or created):
            raise NotOursError(
                f"{store.path} is not yet this backend's store, and only a provision may make it so"
            )
        self.claim(store)
        ident = self.identity(store)
        if self.record.get("uuid") and not self._formatted_here(store):
            ident["uuid"] = None  # it will be formatted again; until then the old one is void
        self.update_record(**ident)
        self._taken = True
        self._keep(store)

    def save_state(self) -> None:
        """Hand ``state`` to ``on_state`` now (see there)."""
        if self.on_state is not None:
            self.on_state(dict(self.state))

    def claim(self, store: Store) -> None:
        """Ask the control plane (``on_store``) whether another backend names these bytes
        already; a kind calls it before it changes anything of a store it takes (a mark).

        Once per bytes (key and overlaps) for this instance: a file made by a provision is
        claimed before it gets its name and again when it is taken. The second time, the
        control plane has recorded the same bytes as this backend's a moment ago, under the
        machine's lock, and checked every other backend's claim since against that record;
        asking again (a transaction over every backend of the machine) proves nothing more."""
        if self.on_store is None:
            return
        seen = (store.key, frozenset(store.overlaps))
        if seen == self._claimed:
            return
        # Cleared first: a refused claim, or a claim of other bytes, leaves nothing to skip
        # by (claims of A, then B, then A again ask three times: the record names B).
        self._claimed = None
        self.on_store(store)
        self._claimed = seen

    def _formatted_here(self, store: Store) -> bool:
        want = self.record.get("uuid")
        found = store_mod.header_uuid(store.fd, PAGE_SIZE)
        return bool(want) and found is not None and str(found) == want

    def adopt_store(self) -> None:
        """Record the store as it is now, for an area found on the host and adopted: never
        written by swapadmin, only activated and deactivated, and only while it is still
        this store with this swap UUID."""
        store = self.open_store(False)
        try:
            found = store_mod.header_uuid(store.fd, PAGE_SIZE)
            self.update_record(
                **self.identity(store), uuid=str(found) if found else None, adopted=True
            )
        finally:
            store.close()

    def note_formatted(self, swap_uuid: str) -> None:
        """Record the UUID of the swap header just written: from now on it is the proof."""
        self.update_record(uuid=swap_uuid)

    def open_for_swapon(self) -> Store:
        """A read-only descriptor on the store, proven to be this backend's formatted area
        (identity and swap UUID), for ``kernel.swapon(..., fd=)``: the kernel then opens
        exactly this file or device through ``/proc/self/fd``, not whatever the path names
        by then.

        Whether another name reaches its bytes (``check_alone``, the kind's
        ``check_exclusive`` with it) is not this proof's question: the swapon, the burn-in and
        every write ask it on the descriptor themselves, a job that swaps an active area off to
        change it asks it before the swapoff, and the read-only looks (a swapoff, the
        observer, the health probe) must not call an area foreign because a loop device was
        attached over its file (227/4, 238/1)."""
        self.close()
        store = self.open_store(False)
        try:
            self.check_identity(store)
            if not self.record.get("uuid"):
                raise self.unformatted_refusal(store)
            self._require_identity(store)
            self.check_swap_uuid(store)
        except BaseException:
            store.close()
            raise
        return store

    def verify(self) -> None:
        """Raise NotOursError when the store at the path is not this backend's formatted
        area (read-only: for health checks and before handing the area to the kernel),
        as ``open_for_swapon`` proves it."""
        self.open_for_swapon().close()

    def hidden(self) -> BackendError | None:
        """Why what is at the path by name (nothing, or something not this backend's) may
        say nothing of the store: a filesystem meant to be mounted on the way is not, or
        whether it is cannot be told. None when nothing hides it, as for any kind whose
        store is not beneath the mount points (``beneath_mounts``). Asked by a destroy
        before it changes anything (review 182/1), and by a dynamic file's provision before
        it measures the room to keep (178/9); the file kind's ``remove`` asks again
        after the swapoff, so a table changed in between still stops a destroy there."""
        return None

    def keep_free(self, percent: float, why: str) -> None:
        """Leave ``percent`` of the filesystem free wherever this instance allocates, rather
        than what a person's provision keeps; ``why`` is said beside the figure when the
        room is short. Asked of the dynamic swap policy's files before their provision. A
        kind that makes no file on a filesystem cannot keep room there: the default refuses
        (the policy adds files only, so a row that says otherwise is none it wrote)."""
        raise ValidationError(
            f"the {self.name} kind makes no file on a filesystem: it cannot keep room free on one"
        )

    def area_name(self) -> str:
        """``swap_path`` for a message, or "the area" before the store has one (a loop
        device not attached yet)."""
        try:
            return self.swap_path
        except BackendError:
            return "the area"

    @classmethod
    def discard_refusal(cls, discard: str) -> str | None:
        """Why an area of this kind can never be swapped on with the discard policy
        ``discard`` (a non-empty one), or None when it can: asked by the control plane when
        the option is chosen (create, edit), before anything is made or swapped off."""
        return None

    def check_swapon_options(self, priority: int | None, discard: str | None) -> None:
        """Raise (UnsafeError, with its field) if this area cannot be swapped on now at
        ``priority`` with ``discard``, changing nothing: asked by ``swap_on`` and, before the
        swapoff, by a priority or discard change, so that such a change refused by the kind
        never leaves the area off."""
        if discard:
            why = self.discard_refusal(discard)
            if why is not None:
                raise UnsafeError(
                    f"{self.area_name()} is not swapped on with "
                    f"discard={discard!r}: {why}. "
                    "Nothing was changed; clear the discard option.",
                    field="discard",
                )

    def swap_on(self, store: Store, *, priority: int | None, discard: str | None) -> None:
        """swapon(2) of ``store``, the descriptor ``open_for_swapon`` proved, at the priority
        and with the discard policy the user asked for. Every activation of the control
        plane comes through here (activate, and a priority or discard change that swaps off
        and on again), so a kind whose area must be swapped on otherwise overrides it: to
        refuse where it cannot be safe, or to choose a priority of its own. Whatever it
        refuses, it refuses before swapon(2), changing nothing."""
        from . import kernel

        self.check_swapon_options(priority, discard)
        kernel.swapon(self.swap_path, priority=priority, discard=discard, fd=store.fd)

    def take_blank(self) -> bool:
        """True, once, when the store kept open is one this instance made empty
        (``Store.blank``) and nothing has been written through it since; the flag is gone
        after: a second mkswap of the same instance looks for signatures again."""
        with self._io_lock:
            blank = self._store is not None and self._store.blank
            if blank:
                assert self._store is not None
                self._store.blank = False
            return blank

    def descriptor(self, writable: bool) -> int:
        """The proven descriptor page I/O goes through (opened and proven on first use)."""
        return self._fd(writable)

    def descriptor_alone(self) -> int:
        """The proven writable descriptor, with every other this backend opened closed: the
        kernel grants a file lease only to a file open nowhere else, this process included.
        Only while no thread of this backend does I/O (before a job's pools start)."""
        fd = self._fd(True)
        with self._io_lock:
            for store in self._retired:
                store.close()
            self._retired = []
        return fd

    def _fd(self, writable: bool) -> int:
        with self._io_lock:
            if self._store is not None and (self._store.writable or not writable):
                if writable:
                    self._store.blank = False  # written through from now on
                if writable and not self._active_checked:
                    # A store kept by take_store was not through prove(): its first write
                    # still must not land on an active area, nor on bytes another user has.
                    self._refuse_active(self._store)
                    self.check_alone(self._store)
                    self._active_checked = True
                return self._store.fd
            store = self.open_store(writable)
            try:
                if writable:
                    self.prove(store)
                    self.claim(store)
                else:
                    self.check_identity(store)
            except BaseException:
                store.close()
                raise
            self._replace(store)
            self._active_checked = writable
            return store.fd

    def _keep(self, store: Store) -> None:
        with self._io_lock:
            self._replace(store)
            self._active_checked = False

    def _replace(self, store: Store) -> None:
        if self._store is not None and self._store is not store:
            # Kept open until close(): another thread may hold its descriptor between _fd()
            # and its I/O, or be in an fstat of it. Closed now, that thread got EBADF (a scan
            # failed so, hiding the refusal that was its real outcome), or worse, the same
            # number given meanwhile to another file, and its write would land there.
            self._retired.append(self._store)
        self._store = store

    def close(self) -> None:
        """Close every descriptor this backend opened. Only once no thread does its I/O:
        the page I/O pools are joined before their job closes the backend."""
        with self._io_lock:
            for store in [*self._retired, *([self._store] if self._store is not None else [])]:
                store.close()
            self._retired = []
            self._store = None
            self._claimed = None  # a store opened again after this is claimed again

    def __enter__(self) -> SwapBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_slots(self, slots: Sequence[int]) -> None:
        limit = self.size_pages
        for s in slots:
            if not 0 <= s < limit:
                raise ValidationError(f"slot {s} is outside the area (0..{limit - 1})")

    def swap_out(self, slot: int, page: bytes | bytearray | memoryview | mmap.mmap) -> None:
        """Write one page at ``slot * PAGE_SIZE``."""
        if len(page) != PAGE_SIZE:
            raise ValidationError(f"a page is {PAGE_SIZE} bytes, not {len(page)}")
        self.swap_out_many([slot], page)

    def swap_in(self, slot: int) -> bytes:
        """Read one page back."""
        return bytes(self.swap_in_many([slot]))

    def swap_out_many(
        self, slots: Sequence[int], data: bytes | bytearray | memoryview | mmap.mmap
    ) -> None:
        """Write ``len(slots)`` pages from ``data``, page i to ``slots[i]``. Runs of consecutive
        slots become one ``pwritev``. ``data`` should be page-aligned (``aligned_buffer``);
        an unaligned buffer is copied first."""
        if len(data) != len(slots) * PAGE_SIZE:
            raise ValidationError(f"{len(slots)} slots need {len(slots) * PAGE_SIZE} bytes")
        self._check_slots(slots)
        fd = self._fd(writable=True)
        view = _aligned_view(data)
        for start, first, count in _runs(slots):
            chunk = view[first * PAGE_SIZE : (first + count) * PAGE_SIZE]
            _pwritev_all(fd, chunk, start * PAGE_SIZE, self.io_path())

    def swap_in_many(
        self, slots: Sequence[int], into: memoryview | mmap.mmap | None = None
    ) -> memoryview:
        """Read ``len(slots)`` pages, page i from ``slots[i]``, into ``into`` (page-aligned,
        at least that long) or a fresh aligned buffer. Returns a view of exactly those bytes."""
        self._check_slots(slots)
        fd = self._fd(writable=False)
        buf = memoryview(into if into is not None else aligned_buffer(len(slots)))
        for start, first, count in _runs(slots):
            chunk = buf[first * PAGE_SIZE : (first + count) * PAGE_SIZE]
            _preadv_all(fd, chunk, start * PAGE_SIZE, self.io_path())
        return buf[: len(slots) * PAGE_SIZE]


def _copy_state(state: Mapping[str, Any] | None) -> dict[str, Any]:
    # The store record is a nested dict: a plugin must never share it with the caller.
    out = dict(state or {})
    if isinstance(out.get("store"), dict):
        out["store"] = dict(out["store"])
    return out


def _runs(slots: Sequence[int]) -> list[tuple[int, int, int]]:
    """Split ``slots`` into runs of consecutive slots: (first slot, index in slots, length)."""
    runs: list[tuple[int, int, int]] = []
    i = 0
    n = len(slots)
    while i < n:
        j = i + 1
        while j < n and slots[j] == slots[j - 1] + 1:
            j += 1
        runs.append((slots[i], i, j - i))
        i = j
    return runs


def _aligned_view(data: bytes | bytearray | memoryview | mmap.mmap) -> memoryview:
    if isinstance(data, mmap.mmap):
        return memoryview(data)
    view = memoryview(data)
    # An mmap-backed memoryview is page-aligned; anything else is copied into one that is.
    if isinstance(view.obj, mmap.mmap) and _address_aligned(view):
        return view
    buf = aligned_buffer(len(view) // PAGE_SIZE)
    buf[: len(view)] = view.tobytes()
    return memoryview(buf)


def _address_aligned(view: memoryview) -> bool:
    import ctypes

    if view.readonly:
        return False
    addr = ctypes.addressof(ctypes.c_char.from_buffer(view))
    return addr % PAGE_SIZE == 0


def _pwritev_all(fd: int, chunk: memoryview, offset: int, path: str) -> None:
    done = 0
    while done < len(chunk):
        try:
            n = os.pwritev(fd, [chunk[done:]], offset + done)
        except OSError as e:
            raise KernelError(
                f"write to {path} at byte {offset + done} failed: {e.strerror}",
                errno=e.errno,
                retryable=False,
            ) from e
        if n <= 0:
            raise KernelError(f"write to {path} at byte {offset + done} wrote nothing")
        done += n


def _preadv_all(fd: int, chunk: memoryview, offset: int, path: str) -> None:
    done = 0
    while done < len(chunk):
        try:
            n = os.preadv(fd, [chunk[done:]], offset + done)
        except OSError as e:
            raise KernelError(
                f"read from {path} at byte {offset + done} failed: {e.strerror}",
                errno=e.errno,
                retryable=False,
            ) from e
        if n == 0:
            raise KernelError(f"read from {path} at byte {offset + done}: unexpected end of area")
        done += n
