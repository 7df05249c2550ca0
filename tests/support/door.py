"""Knocking on the door (computer_use_demo/door/server.py) and on the ports behind it, as a client would:
plain HTTP and websocket handshakes, from loopback or from another network namespace."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import websockets


def http_status(
    port: int, path: str, headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> tuple[int, str, dict[str, str]]:
    """(status, body, headers) of one GET, redirects not followed."""
    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", errors="replace")
        return response.status, body, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@dataclass(frozen=True)
class Knock:
    """A websocket handshake's outcome: the HTTP status of a refusal, else 101 and the first
    message (when one came within the wait)."""

    status: int
    first: bytes | str | None = None


def ws_knock(
    url: str,
    *,
    origin: str | None,
    headers: list[tuple[str, str]] | None = None,
    subprotocols: list[str] | None = None,
    wait_first: float = 0.0,
    via: tuple[str, int] | None = None,
) -> Knock:
    """Open ``url`` (through ``via``, host and port, when the URL's name must not be looked
    up: a foreign Host header is made by naming it in the URL and connecting to us)."""
    extra = {"host": via[0], "port": via[1]} if via else {}

    async def knock() -> Knock:
        try:
            async with websockets.connect(
                url,
                **extra,  # type: ignore[arg-type]
                origin=origin,  # type: ignore[arg-type]
                additional_headers=headers or [],
                subprotocols=subprotocols,  # type: ignore[arg-type]
                proxy=None,
                open_timeout=15,
            ) as ws:
                first = None
                if wait_first:
                    with contextlib.suppress(TimeoutError):
                        first = await asyncio.wait_for(ws.recv(), wait_first)
                return Knock(101, first)
        except websockets.InvalidStatus as e:
            return Knock(e.response.status_code)

    return asyncio.run(knock())


def connects(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class OtherHost:
    """A network namespace wired to this machine by a veth pair: a client there reaches this
    machine at ``machine_address``, a non-loopback address, as another host on the network
    would. Only this machine's own addresses are ever used."""

    name: str
    machine_address: str

    def connects(self, port: int) -> bool:
        """Whether a TCP connection from the namespace to this machine's ``port`` opens."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({self.machine_address!r}, {port}), timeout=3).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", code],
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0


@contextlib.contextmanager
def other_host() -> Iterator[OtherHost]:
    """A throw-away namespace ``cud-<pid>`` with 10.251.<n>.1 (here) and .2 (there); removed
    afterwards. Raises RuntimeError when namespaces cannot be made (not root, no ip)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        raise RuntimeError("network namespaces need root and iproute2")
    pid = os.getpid()
    name, here, there = f"cud-{pid}", f"cudh{pid % 100000}", f"cudn{pid % 100000}"
    subnet = f"10.251.{pid % 250}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)

    ip("netns", "add", name)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", name)
        ip("addr", "add", f"{subnet}.1/30", "dev", here)
        ip("link", "set", here, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{subnet}.2/30", "dev", there)
        ip("netns", "exec", name, "ip", "link", "set", there, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield OtherHost(name, f"{subnet}.1")
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
