"""Small formatting helpers the pages share: sizes in IEC units, rates, shares, roles."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.html import format_html
from django.utils.safestring import SafeString

from backends import units
from swapadmin.core import roles

register = template.Library()


@register.filter
def iec(value: Any) -> str:
    """1536 -> "1.5 KiB" (``backends.units.iec``)."""
    return units.iec(value)


@register.filter
def share(part: Any, whole: Any) -> int:
    """Whole percent of ``part`` in ``whole``, 0 when there is no whole."""
    try:
        p, w = float(part), float(whole)
    except (TypeError, ValueError):
        return 0
    if w <= 0:
        return 0
    return max(0, min(100, round(100 * p / w)))


@register.simple_tag
def usage(used: Any, total: Any, what: str) -> SafeString:
    """A used/total bar: fixed height, width by share, the numbers as text too.

    A tag, not an included template: the overview draws one per host on every poll, and an
    include costs a template context and a dozen nodes each time."""
    pct = share(used, total)
    level = " bar-high" if pct >= 90 else " bar-mid" if pct >= 70 else ""
    used_text, total_text = iec(used), iec(total)
    return format_html(
        '<div class="usage"><div class="bar{}" role="img" aria-label="{}: {} used of {} ({}%)">'
        '<span class="fill" style="width: {}%"></span></div>'
        '<span class="usage-text">{} / {} <small>({}%)</small></span></div>',
        level, what, used_text, total_text, pct, pct, used_text, total_text, pct,
    )  # fmt: skip


@register.filter
def rate(value: Any) -> str:
    """Pages per second, the unit of pswpin/pswpout."""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return "—"
    if n < 10:
        return f"{n:.1f}/s"
    return f"{n:,.0f}/s"


def role_of(user: AbstractBaseUser | AnonymousUser | None) -> roles.Role:
    """The user's role, read from the database once per user object. The request's user is
    loaded afresh for every request, and a page asks for each button it might draw (the host
    page some forty times), each ask a query on the user's groups otherwise."""
    if user is None:
        return roles.Role.NONE
    role: roles.Role | None = getattr(user, "_swapadmin_role", None)
    if role is None:
        role = roles.role_of(user)
        user._swapadmin_role = role  # type: ignore[union-attr]
    return role


@register.filter
def can(user: AbstractBaseUser | AnonymousUser | None, action: str) -> bool:
    return role_of(user) >= roles.ACTIONS[action]


@register.filter
def get(mapping: Any, key: str) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def control(field: Any) -> str:
    """Render a bound field's widget tied to its help and errors for screen readers."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    attrs: dict[str, str] = {}
    if field.errors:
        ids.append(f"{field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if ids:
        attrs["aria-describedby"] = " ".join(ids)
    html = field.as_widget(attrs=attrs)
    if field.field.show_hidden_initial:
        # What the page showed, sent back beside the value (as Django's own rendering of
        # such a field does): the form tells the user's changes from someone else's.
        html += field.as_hidden(only_initial=True)
    return html  # type: ignore[no-any-return]


@register.filter
def as_json(value: Any) -> str:
    """A job's result as JSON (what the API returns), not Python's repr."""
    return json.dumps(value, sort_keys=True, default=str)
