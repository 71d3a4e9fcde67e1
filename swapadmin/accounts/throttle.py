"""Login throttling with django-axes: after AXES_FAILURE_LIMIT wrong passwords for one user
name from one address, that pair is refused for AXES_COOLOFF_TIME, a right password too.
An IPv6 "address" here is the client's whole /64 network (see ``client_ip``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from swapadmin.core.clientip import client_ip as client_ip_of

#: The prefix an IPv6 client is counted by: the smallest network one subscriber is given.
IPV6_PREFIX = 64


def client_ip(request: HttpRequest) -> str | None:
    # X-Forwarded-For only from SWAPADMIN_TRUSTED_PROXIES, as for the audit trail: trusting
    # anyone's would let a guesser pick a fresh address for each guess, and ignoring our
    # proxy's would put every user behind it at one address. (Axes would read the header
    # through django-ipware if that were installed: this pins the choice.)
    return lockout_address(client_ip_of(request.META))


def lockout_address(address: str | None) -> str | None:
    """The address failures are counted against: an IPv4 address as it is, an IPv6 one as
    the first address of its /64.

    One IPv6 host is routinely handed a whole /64 (SLAAC, privacy extensions, any cloud VM),
    so it can send each guess from a new address of its 2**64: counted per address, it
    would never reach the limit. A /64 is the least one subscriber gets, so it is counted
    as one client. Others on that LAN share the count only for the same user name (the
    lock-out is per name and address), so a guesser there locks out no one else. The key
    is the network's first address, not ``2001:db8::/64``, because axes stores it in an IP
    address column. An IPv4-mapped address (``::ffff:192.0.2.1``) counts as its IPv4
    address, or a dual-stack socket would lump every IPv4 client into ``::/64``."""
    if address is None:
        return None
    addr = ipaddress.ip_address(address)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)  # as client_ip_of does: this must not rely on it
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{addr}/{IPV6_PREFIX}", strict=False).network_address)
    return str(addr)


def cool_off_words() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, saying why and for how long, as 429 Too Many Requests."""
    form = AuthenticationForm(request, data=request.POST or None)
    message = (
        f"Too many failed logins for this user from your address: try again in "
        f"{cool_off_words()}, or ask an admin to unlock it (manage.py axes_reset_username)."
    )
    context = {"form": form, "locked_out": message, "next": request.POST.get("next", "")}
    return render(request, "login.html", context, status=429)
