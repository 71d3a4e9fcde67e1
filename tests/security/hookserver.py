"""A webhook receiver on 127.0.0.1 that looks at who is sending, as the kernel tells it.

While a POST is being answered, the sender's socket is still open: its line in
/proc/net/tcp gives the socket's owner uid and inode, and the process holding that inode
among its descriptors is the sender, whose /proc status and environment we (root) can read.
Nothing here takes the sender's word for who it is.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Sender:
    socket_uid: int
    pid: int | None
    #: real, effective, saved and filesystem uid of the sending process.
    uids: tuple[int, ...]
    groups: tuple[int, ...]
    env_names: frozenset[str]


@dataclass
class Received:
    path: str
    body: bytes
    sender: Sender


def _decode(entry: str) -> tuple[str, int]:
    ip, port = entry.split(":")
    return socket.inet_ntoa(struct.pack("<I", int(ip, 16))), int(port, 16)


def _tcp_socket(local: tuple[str, int], remote: tuple[str, int]) -> tuple[int, int]:
    """(owner uid, inode) of the IPv4 TCP socket from ``local`` to ``remote``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if _decode(f[1]) == local and _decode(f[2]) == remote:
            return int(f[7]), int(f[9])
    raise AssertionError(f"no TCP socket {local} -> {remote} in /proc/net/tcp")


def _holder(inode: int) -> int | None:
    link = f"socket:[{inode}]"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == link:
                    return int(proc.name)
        except OSError:  # gone, or not ours to look at
            continue
    return None


def _status_ids(pid: int, name: str) -> tuple[int, ...]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return tuple(int(v) for v in line.split()[1:])
    return ()


def sender_of(client: tuple[str, int], server: tuple[str, int]) -> Sender:
    uid, inode = _tcp_socket(client, server)
    pid = _holder(inode)
    if pid is None:
        return Sender(uid, None, (), (), frozenset())
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = frozenset(e.split(b"=", 1)[0].decode() for e in environ if e)
    return Sender(uid, pid, _status_ids(pid, "Uid"), _status_ids(pid, "Groups"), names)


@dataclass
class HookServer:
    """Answers POST /ok with 200, /redirect with a 302 to ``location``, anything else 404."""

    location: str = "file:///etc/passwd"
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sender = sender_of(self.client_address, self.server.server_address)  # type: ignore[arg-type]
                hook.received.append(Received(self.path, body, sender))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", hook.location)
                else:
                    self.send_response(200 if self.path == "/ok" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                hook.arrived.set()

            do_GET = do_POST  # noqa: N815 - a followed redirect would arrive as a GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
