"""Who is asking: the peer's address, or what a trusted proxy says the client's address is.

``X-Forwarded-For`` is whatever the caller wants it to be, except for what a proxy we run
appended to it: each proxy adds the address it took the request from at the right. So the
header is read from the right while the hop is one of SWAPADMIN_TRUSTED_PROXIES; the first
address that is not is the client, the last one anybody we trust saw. Entries to its left
were written by the client itself and are never read. From a peer that is not a trusted
proxy the header is ignored altogether.

The allow-list of /metrics and the audit trail's ``source_ip`` both use ``client_ip``, so a
forged header can neither open /metrics nor put another address in the trail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

from swapadmin.env import SettingError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Each entry an address or a network (``10.0.0.0/8``); ValueError names a bad one."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is neither an IP address nor a network like 10.0.0.0/8"
            ) from None
    return tuple(out)


def trusted_proxies_setting(name: str, entries: list[str]) -> list[str]:
    """The setting's entries, refused at start when one is not an address or network."""
    try:
        parse_networks(entries)
    except ValueError as e:
        raise SettingError(f"{name}: {e}") from None
    return entries


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def parse_address(value: Any) -> Address | None:
    """A plain IP address, or None for anything else (a port, a name, ``unknown``)."""
    if not isinstance(value, str):
        return None
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the lists name them as IPv4.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _within(addr: Address, networks: tuple[Network, ...]) -> bool:
    return any(addr.version == n.version and addr in n for n in networks)


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """The client's address for a request's ``META``; None when it cannot be known (no
    peer address, or a trusted proxy forwarded a value that is not an address)."""
    peer = parse_address(meta.get("REMOTE_ADDR"))
    if peer is None:
        return None
    proxies = _trusted(tuple(settings.SWAPADMIN_TRUSTED_PROXIES))
    header = meta.get("HTTP_X_FORWARDED_FOR")
    if not _within(peer, proxies) or not isinstance(header, str) or not header.strip():
        # Not through a proxy of ours (or one that added nothing): the peer is the client.
        return str(peer)
    hop = peer
    for entry in reversed(header.split(",")):
        addr = parse_address(entry)
        if addr is None:
            # Our proxy passed on something that is no address: whoever the client is, it
            # is not this, and guessing the next entry would trust the client's own words.
            return None
        hop = addr
        if not _within(addr, proxies):
            return str(addr)
    # Every hop is a proxy of ours: the left-most one is where the request came from.
    return str(hop)
