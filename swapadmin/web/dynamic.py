"""The host page's dynamic swap section: the policy, what it did and why, and its form.
Rules and saving are swapadmin.core.dynamic's, shared with the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backends.dynamic import MAX_BYTES, MAX_SECONDS
from swapadmin.core import dynamic, services
from swapadmin.core.models import DynamicSwapPolicy, Host

MIB = 1 << 20
#: The largest size the database holds, in the form's MiB: a larger one is named as wrong
#: (it used to overflow the bigint column on save, a 500).
MAX_MIB = MAX_BYTES // MIB
#: Form fields in MiB and the policy's fields in bytes they stand for.
IN_MIB = {"min_free_mib": "min_free_bytes", "file_size_mib": "file_size_bytes",
          "max_total_mib": "max_total_bytes"}  # fmt: skip


class DynamicSwapForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Add and remove swap files on its own")
    min_free_mib = forms.IntegerField(
        min_value=0, max_value=MAX_MIB, label="Keep free swap above (MiB)"
    )
    psi_some_above = forms.FloatField(
        min_value=0.1,
        max_value=100,
        required=False,
        label="Or add when memory PSI some avg10 reaches (%)",
    )
    file_size_mib = forms.IntegerField(
        min_value=16, max_value=MAX_MIB, label="Size of each file (MiB)"
    )
    max_files = forms.IntegerField(min_value=1, max_value=64, label="At most this many files")
    max_total_mib = forms.IntegerField(
        min_value=16, max_value=MAX_MIB, label="At most this much in all (MiB)"
    )
    unused_for_seconds = forms.FloatField(
        min_value=0, max_value=MAX_SECONDS, label="Remove a file unused for (s)"
    )
    cooldown_seconds = forms.FloatField(
        min_value=0, max_value=MAX_SECONDS, label="Wait between actions (s)"
    )
    priority = forms.IntegerField(
        min_value=0, max_value=services.MAX_PRIORITY, required=False, label="Swap priority"
    )

    @classmethod
    def of(cls, policy: DynamicSwapPolicy) -> DynamicSwapForm:
        initial = {f: getattr(policy, f) for f in dynamic.FIELDS}
        for mib, field in IN_MIB.items():
            initial[mib] = getattr(policy, field) // MIB
        return cls(initial=initial, prefix="dyn")

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for mib, field in IN_MIB.items():
            data[field] = data.pop(mib) * MIB
        return data


def context(host: Host, form: DynamicSwapForm | None = None) -> dict[str, Any]:
    policy = dynamic.policy_for(host)
    return {
        "host": host,
        "dynamic": policy,
        "dynamic_files": list(policy.files.order_by("name")),
        "dynamic_decisions": dynamic.decisions(policy),
        "dynamic_form": form or DynamicSwapForm.of(policy),
    }


@require_POST
def host_dynamic_swap(request: HttpRequest, code: UUID) -> HttpResponse:
    from .views import _host_page, actor, htmx_of, refuse, viewer_required

    @viewer_required
    def view(request: HttpRequest) -> HttpResponse:
        host = get_object_or_404(Host, uuid=code)
        from .templatetags.swapadmin_ui import can

        if not can(request.user, "settings"):
            return refuse(request, "settings", host)
        form = DynamicSwapForm(request.POST, prefix="dyn")
        if form.is_valid():
            try:
                dynamic.update_policy(host, form.changes(), actor(request))
            except services.InvalidRequest as e:
                for name, msgs in e.errors.items():
                    mib = {v: k for k, v in IN_MIB.items()}.get(name, name)
                    for m in msgs:
                        form.add_error(mib if mib in form.fields else None, m)
        if not form.is_valid():
            if htmx_of(request):
                return render(request, "parts/dynamic_swap.html", context(host, form), status=422)
            # Without htmx the form was posted by the page itself: the page comes back,
            # with the form's errors, not the bare section.
            return _host_page(request, host, dynamic_form=form, status=422)
        if htmx_of(request):
            return render(request, "parts/dynamic_swap.html", {**context(host), "saved": True})
        return HttpResponseRedirect(reverse("host", args=[host.uuid]) + "#dynamic-swap")

    return view(request)
