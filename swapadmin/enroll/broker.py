"""A host's broker user: Redis ACL rules that reach its own queue and nothing else.

What kombu's Redis transport does for a worker that consumes one queue and publishes to it
(kombu/transport/redis.py), with ack emulation off (settings.py, for host-only workers):
- the queue is a list, ``host.<name>`` and one list per priority step
  (``host.<name>\\x06\\x16<n>``): BRPOP to take, LPUSH to send again, LLEN and EXISTS;
- its binding table ``_kombu.binding.host.<name>`` (and ``_kombu.binding_permanent.``):
  SADD when the queue is declared, SMEMBERS to route a message, SREM on delete;
- PING when a channel opens.
With ack emulation on, kombu keeps every in-flight message of every queue in the shared
``unacked`` hash: a user that may touch it could read or drop other hosts' messages, so
host workers run without it (a message taken by a worker that then dies is lost; the
control plane's sweep sends the job again, the Job row being the truth). No channel:
remote control and events are off, so no pub/sub. No other key: not ``control`` (its
tasks run with the owner's credentials), not another host's queue.

This module is a plain library (no Django): it takes a redis-py client.
"""

from __future__ import annotations

import re
from typing import Any

#: kombu's separator between a queue's name and its priority step.
PRIORITY_SEP = "\x06\x16"
#: Host names that are enrolled: they appear in key patterns, which are globs, so the
#: characters a glob gives meaning to (``*?[]\\``) never reach one.
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

#: (redis-py's CLIENT SETINFO on connect is refused, and redis-py goes on without it.)
#: SELECT: a REDIS_URL naming a database number (``redis://broker:6379/2``) makes redis-py
#: select it on connect; without it every enrolled worker of such a broker was refused.
#: Redis's ACLs cannot be kept to one database: the user reaches its own queue's names in
#: every database of the server. Database numbers do not keep two deployments' hosts apart
#: (two hosts of one name would reach each other's queue): give each deployment its own
#: Redis server (docs/DEPLOY.md).
COMMANDS = (
    "+ping", "+select", "+brpop", "+lpush", "+llen", "+exists", "+sadd", "+smembers",
    "+srem", "+multi", "+exec", "+discard",
)  # fmt: skip


def key_patterns(queue: str) -> list[str]:
    return [
        f"~{queue}",
        f"~{queue}{PRIORITY_SEP}*",
        f"~_kombu.binding.{queue}",
        f"~_kombu.binding_permanent.{queue}",
    ]


def set_host_user(client: Any, user: str, password: str, queue: str) -> bool:
    """Create (or replace, from scratch) ``user``: ``password``, ``queue``'s keys only.
    False if the broker keeps it in memory only (``save``)."""
    rules = ["reset", "on", f">{password}", *key_patterns(queue), "resetchannels", "-@all"]
    client.execute_command("ACL", "SETUSER", user, *rules, *COMMANDS)
    return save(client)


def disable_user(client: Any, user: str) -> int:
    """Switch ``user`` off (no new connection authenticates) and close its connections;
    returns how many were closed."""
    client.execute_command("ACL", "SETUSER", user, "off", "resetpass")
    killed = client.execute_command("CLIENT", "KILL", "USER", user)
    save(client)
    return int(killed or 0)


def delete_user(client: Any, user: str) -> None:
    client.execute_command("ACL", "DELUSER", user)
    save(client)


def save(client: Any) -> bool:
    """Keep the users across a broker restart, where the broker has an ACL file (the
    compose broker has). Without one they live in memory only: False."""
    try:
        client.execute_command("ACL", "SAVE")
    except Exception as e:  # redis-py's ResponseError: "There is no configured ACL file"
        if "ACL file" in str(e):
            return False
        raise
    return True
