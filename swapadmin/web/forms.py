"""Forms built from what the plugins declare; the rules themselves live in core.services.

These forms only turn text into types and say so beside the field. Everything that decides
whether a request is allowed (names, sizes, paths under the swap roots, force and its typed
confirmation) is checked by ``services``, whose ``InvalidRequest`` errors are put back on
the fields here (``add_service_errors``), so the page and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from django import forms

from backends import SwapBackend
from backends.base import Parameter
from swapadmin.core import actions
from swapadmin.core.models import Backend, Host
from swapadmin.core.services import MAX_PRIORITY, InvalidRequest, persist_refusal

MIB = actions.MIB
PARAM_PREFIX = "param_"


def param_field(p: Parameter) -> forms.Field:
    common: dict[str, Any] = {
        "label": p.label,
        "required": p.required,
        "help_text": p.help,
        "initial": p.default,
    }
    if p.type == "bool":
        common["required"] = False
        return forms.BooleanField(**common)
    if p.choices:
        choices = [(c, c) for c in p.choices]
        if not p.required:
            choices.insert(0, ("", "(default)"))
        return forms.ChoiceField(choices=choices, **common)
    if p.type in ("int", "bytes"):
        return forms.IntegerField(min_value=p.minimum, max_value=p.maximum, **common)
    return forms.CharField(max_length=p.max_length, strip=True, **common)


class NewBackendForm(forms.Form):
    """One form per plugin kind: the fields every backend has, then the kind's parameters."""

    host = forms.ModelChoiceField(
        queryset=Host.objects.all(), to_field_name="uuid", empty_label=None
    )
    kind = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(
        max_length=100,
        help_text="Letters, digits, '.', '_' or '-'; unique on the host.",
    )
    size_mib = forms.IntegerField(
        label="Size (MiB)", min_value=1, required=False, help_text="1 GiB is 1024 MiB."
    )
    priority = forms.IntegerField(
        min_value=0,
        max_value=MAX_PRIORITY,
        required=False,
        help_text="Higher is used first; empty lets the kernel choose.",
    )
    discard = forms.ChoiceField(choices=Backend.Discard.choices, required=False)
    label = forms.CharField(
        max_length=16, required=False, help_text="Swap label, at most 16 bytes."
    )
    persist = forms.BooleanField(
        required=False,
        label="Keep across reboots (add it to fstab when activated)",
    )
    auto_repair = forms.BooleanField(
        required=False,
        label="Auto-repair: let health checks bring it back to its desired state",
    )
    activate = forms.BooleanField(
        required=False,
        label="Activate it once provisioned (swapon, in the same job)",
    )
    force = forms.BooleanField(
        required=False,
        label="Force: overwrite what the store holds (a filesystem, a file swapadmin did not make)",
    )
    confirm = forms.CharField(
        required=False,
        strip=False,
        label="Backend name, typed to allow force",
        help_text="With force only: the name above, typed again.",
    )

    def __init__(self, *args: Any, plugin: type[SwapBackend], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plugin = plugin
        self.fields["kind"].initial = plugin.name
        if not plugin.takes_size:
            del self.fields["size_mib"]
        else:
            self.fields["size_mib"].required = True
        if persist_refusal(plugin.name) is not None:
            # Not offered where the services would refuse it (a zram or loop device).
            del self.fields["persist"]
        for p in plugin.parameters:
            self.fields[PARAM_PREFIX + p.name] = param_field(p)

    def param_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if n.startswith(PARAM_PREFIX)]

    def base_fields_bound(self) -> list[forms.BoundField]:
        names = (
            "name", "size_mib", "priority", "discard", "label", "persist", "auto_repair",
            "activate",
        )  # fmt: skip
        return [self[n] for n in names if n in self.fields]

    def request_kwargs(self) -> dict[str, Any]:
        """What ``services.create_backend`` takes, from cleaned data."""
        d = self.cleaned_data
        params = {
            n.removeprefix(PARAM_PREFIX): v
            for n, v in d.items()
            if n.startswith(PARAM_PREFIX) and v not in (None, "")
        }
        size = d.get("size_mib")
        return {
            "host": d["host"],
            "kind": self.plugin.name,
            "name": d["name"],
            "size_bytes": size * MIB if size else None,
            "params": params,
            "priority": d.get("priority"),
            "discard": d.get("discard") or "",
            "label": d.get("label") or "",
            "persist": bool(d.get("persist")),
            "auto_repair": bool(d.get("auto_repair")),
            "activate": bool(d.get("activate")),
            "force": bool(d.get("force")),
            "confirm": d.get("confirm") or "",
        }

    def add_service_errors(self, error: InvalidRequest) -> None:
        """Put each service error beside its field; unknown fields become form errors."""
        for key, messages in error.errors.items():
            name = {"size_bytes": "size_mib"}.get(key, key)
            if name not in self.fields and PARAM_PREFIX + name in self.fields:
                name = PARAM_PREFIX + name
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


class ConfirmForm(forms.Form):
    """Force, and the backend's name typed to allow it (checked again by services)."""

    force = forms.BooleanField(required=False, label="Force: skip the safety checks")
    confirm = forms.CharField(required=False, label="Backend name, typed to allow force")


class EditBackendForm(forms.Form):
    """What ``core.edits`` takes; the rules (active areas, adopted ones) are its own."""

    label = forms.CharField(
        required=False, strip=False, help_text="Swap label, at most 16 bytes; inactive areas only."
    )
    priority = forms.IntegerField(
        min_value=-1,
        max_value=MAX_PRIORITY,
        required=False,
        help_text="Higher is used first; empty or -1 lets the kernel choose.",
    )
    discard = forms.ChoiceField(choices=Backend.Discard.choices, required=False)
    apply = forms.ChoiceField(
        label="On an active area, apply a new priority or discard",
        choices=[
            ("next_activation", "at its next activation"),
            ("now", "now: swapoff (if its pages fit in RAM), then swapon"),
        ],
        initial="next_activation",
        widget=forms.RadioSelect,
    )
    persist = forms.BooleanField(required=False, label="Keep across reboots (fstab)")
    auto_repair = forms.BooleanField(
        required=False, label="Auto-repair: let health checks bring it back to its desired state"
    )

    FIELDS = ("label", "priority", "discard", "persist", "auto_repair")

    def __init__(self, *args: Any, persist_offered: bool = True, **kwargs: Any) -> None:
        """``persist_offered`` False: a persist could not be asked of this backend now (its
        kind cannot be kept in the fstab, or it was never provisioned) and the row is not
        set to persist, so the field is not shown (a row that is keeps it: turning it off
        is the way out)."""
        super().__init__(*args, **kwargs)
        if not persist_offered:
            del self.fields["persist"]
        # Each field carries the value the page showed (Django's hidden initial): a form
        # opened before someone else's change must not send that change back undone.
        for name in self.FIELDS:
            if name in self.fields:
                self.fields[name].show_hidden_initial = True

    def changes(self, backend: Backend) -> dict[str, Any]:
        """The fields the user changed from what the page showed them and that differ from
        ``backend`` now, and ``apply``: what ``edit_backend`` takes. An untouched field is
        left out, so an adopted area's label is never asked, and a field someone else
        changed meanwhile keeps their value. A post without the shown values (no page)
        is compared with the row."""
        d = self.cleaned_data
        values = {
            "label": d.get("label") or "",
            "priority": d.get("priority"),
            "discard": d.get("discard") or "",
            "persist": bool(d.get("persist")),
            "auto_repair": bool(d.get("auto_repair")),
        }
        if values["priority"] == -1:
            values["priority"] = None
        touched = set(self.changed_data)
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name not in self.fields:
                continue  # not on the form: never a change
            shown = self[name].html_initial_name in self.data
            if shown and name not in touched:
                continue
            if getattr(backend, name) != value:
                out[name] = value
        out["apply"] = d.get("apply") or "next_activation"
        return out

    def add_service_errors(self, error: InvalidRequest) -> None:
        for key, messages in error.errors.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


class ActionForm(forms.Form):
    """The page's form of an action's parameters: ``params()`` is the body the services
    check (``services.request_action``), as the API's serializer gives it."""

    def params(self) -> dict[str, Any]:
        raise NotImplementedError


class SettingsForm(ActionForm):
    """An action's settings form under the page's actions, made from the table's settings
    (``settings_form``); sizes are asked in MiB and sent in bytes."""

    settings: tuple[actions.Setting, ...] = ()

    def params(self) -> dict[str, Any]:
        return {s.name: self.cleaned_data[s.field] * s.unit for s in self.settings}


def settings_form(spec: actions.BackendAction) -> type[SettingsForm]:
    """The page's form for ``spec``'s whole-number settings, with the bounds the services
    check and the API's body takes (in the page's unit: MiB for a size)."""
    fields: dict[str, Any] = {
        s.field: forms.IntegerField(
            label=s.label,
            min_value=-(-s.low // s.unit),  # a bound in bytes, rounded into the range in MiB
            max_value=s.high // s.unit,
            initial=s.default // s.unit,
            help_text=s.help,
        )
        for s in spec.settings
    }
    name = spec.body.removesuffix("Serializer") + "Form"
    # type() goes through Form's metaclass, which gathers the fields as a class does.
    return type(name, (SettingsForm,), {**fields, "settings": spec.settings})


#: The settings form of each action that has settings, by action name.
SETTINGS_FORMS: dict[str, type[SettingsForm]] = {
    a.name: settings_form(a) for a in actions.BACKEND_ACTIONS if a.settings
}


class ResizeForm(ActionForm):
    size_mib = forms.IntegerField(label="New size (MiB)", min_value=1)

    def params(self) -> dict[str, Any]:
        return {"size_bytes": self.cleaned_data["size_mib"] * MIB}


class PersistForm(ActionForm):
    """The page's Persist and Unpersist buttons: ``true`` adds the fstab line; anything
    else removes it."""

    # A plain Field: no trimming ("true " is not true) and no refusal of a NUL, as before.
    persist = forms.Field(required=False)

    def params(self) -> dict[str, Any]:
        return {"persist": self.cleaned_data["persist"] == "true"}


class ActivateForm(ActionForm):
    """A priority for this swapon, as typed: the services check it, in the words they give
    the API too; none (or empty) is the backend's own."""

    # A plain Field: what was typed reaches the services untouched, whose words name it.
    priority = forms.Field(required=False)

    def params(self) -> dict[str, Any]:
        priority = self.cleaned_data["priority"]
        return {"priority": priority} if priority not in (None, "") else {}


#: The page's form of each action that takes parameters: its settings form, or the class
#: its table entry names (``page_form``).
ACTION_FORMS: dict[str, type[ActionForm]] = {
    **SETTINGS_FORMS,
    **{a.name: globals()[a.page_form] for a in actions.BACKEND_ACTIONS if a.page_form},
}


class TuneForm(forms.Form):
    swappiness = forms.IntegerField(
        label="vm.swappiness",
        min_value=0,
        max_value=200,
        help_text="0 to 200: how readily the kernel swaps rather than drops page cache.",
    )
    page_cluster = forms.IntegerField(
        label="vm.page-cluster",
        min_value=0,
        max_value=10,
        required=False,
        help_text="Pages read at once on swap-in, as a power of two (3 is 8 pages).",
    )
    zswap_enabled = forms.BooleanField(label="zswap enabled", required=False)
    zswap_compressor = forms.CharField(label="zswap compressor", max_length=32, required=False)
    zswap_max_pool_percent = forms.IntegerField(
        label="zswap max pool (% of RAM)", min_value=1, max_value=100, required=False
    )
    persist = forms.BooleanField(
        label="Keep across reboots (write the sysctl.d file)", required=False
    )

    def __init__(self, *args: Any, zswap: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not zswap:
            for name in [n for n in self.fields if n.startswith("zswap_")]:
                del self.fields[name]
