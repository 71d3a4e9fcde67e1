"""The tokens page: your API tokens (an admin sees everyone's), a form that makes one and
shows its secret once, and a revoke button per token. htmx redraws the ``tokens`` section."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from swapadmin.core import services
from swapadmin.web.views import actor, htmx_of, page, viewer_required

from . import tokens
from .models import MAX_DAYS, NAME_MAX


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=NAME_MAX, help_text="What will use it, e.g. “ansible on bastion”."
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)", min_value=1, max_value=MAX_DAYS, initial=30,
        help_text=f"1 to {MAX_DAYS}. Make a new one before it runs out.",
    )  # fmt: skip


def _context(request: HttpRequest, form: TokenForm, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "tokens": tokens.visible_to(request.user),
        "everyone": tokens.is_admin(request.user),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@viewer_required
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return page(request, "tokens.html", _context(request, TokenForm()), ("tokens",))
    form = TokenForm(request.POST)
    if form.is_valid():
        assert isinstance(request.user, AbstractBaseUser)  # viewer_required: signed in
        try:
            token, secret = tokens.create(
                request.user,
                form.cleaned_data["name"],
                form.cleaned_data["expires_in_days"],
                actor(request),
            )
        except services.InvalidRequest as e:
            for field, errors in e.errors.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # No redirect: the secret is in this answer only, never stored to show it again.
            context = _context(request, TokenForm(), created=token, secret=secret)
            return page(request, "tokens.html", context, ("tokens",), status=201)
    return page(request, "tokens.html", _context(request, form), ("tokens",), status=422)


@require_POST
@viewer_required
def token_revoke(request: HttpRequest, code: UUID) -> HttpResponse:
    # Another user's token is not in the list of a non-admin: a 404, as if it did not exist.
    token = get_object_or_404(tokens.visible_to(request.user), code=code)
    tokens.revoke(token, actor(request))
    message = f"Token “{token.name}” of {token.user.get_username()} revoked: it works no more."
    if htmx_of(request):
        context = _context(request, TokenForm(), revoked=message)
        return page(request, "tokens.html", context, ("tokens",))
    messages.success(request, message)
    return HttpResponseRedirect(reverse("tokens"))
