"""The desktop server's client: a ``Desktop`` (backend.py) whose every action is one request to
the server (server.py), over its unix socket or over TCP with the bearer token.

One ``httpx.AsyncClient`` per event loop: the chat app runs each agent turn in a fresh
``asyncio.run`` in its own thread, and a pooled connection belongs to the loop that opened it.
File access is synchronous (as the editor's methods are) over one ``httpx.Client``.

A cancelled request (the person pressed stop) closes its connection; the server sees the client
go away and interrupts the command, killing its process group. A server that does not answer is
a ``DesktopUnreachable`` whose text says what to do.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from .backend import DesktopInfo, FileStat, Listing, ProcessResult
from .capture import SETTLE_MAX, Box, Shot
from .errors import DesktopError, DesktopUnreachable, ScreenError, ShellError
from .shell import RESTART_HINT, ShellOutput

PREFIX = "/v1"
CONNECT_TIMEOUT = 5.0
#: Seconds allowed for a request beyond the work it asks for (a command's own timeout).
SLACK = 15.0


def _endpoint(url: str) -> tuple[str, str | None]:
    """(base URL, unix socket path or None) for ``unix:///path`` or ``http(s)://host:port``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        path = parts.path or ""
        if parts.netloc or not path.startswith("/"):
            raise DesktopError(
                f"a unix desktop URL is unix:///absolute/path/to/socket, got {url!r}"
            )
        return "http://desktop", path
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.scheme}://{parts.netloc}", None
    raise DesktopError(
        f"COMPUTER_USE_DESKTOP must be unix:///path/to/socket or http(s)://host:port, got {url!r}"
    )


class RemoteDesktop:
    """A desktop behind its desktop server at ``url`` (``unix:///…`` or ``http(s)://…``)."""

    def __init__(self, url: str, *, token: str | None = None, display: str | None = None) -> None:
        self.url = url
        self._base, self._uds = _endpoint(url)
        if self._uds is None and not token:
            raise DesktopError(
                f"the desktop server at {url} is on TCP, which needs its token: set "
                "COMPUTER_USE_DESKTOP_TOKEN (or COMPUTER_USE_DESKTOP_TOKEN_FILE)"
            )
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._sync: httpx.Client | None = None
        self._display = display
        self._info: DesktopInfo | None = None

    def __repr__(self) -> str:
        return f"RemoteDesktop({self.url!r})"

    # --- connections -----------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                transport = httpx.AsyncHTTPTransport(uds=self._uds) if self._uds else None
                client = httpx.AsyncClient(
                    base_url=self._base,
                    headers=self._headers,
                    transport=transport,
                    timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT),
                )
                self._clients[loop] = client
            return client

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._sync is None:
                transport = httpx.HTTPTransport(uds=self._uds) if self._uds else None
                self._sync = httpx.Client(
                    base_url=self._base,
                    headers=self._headers,
                    transport=transport,
                    timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT),
                )
            return self._sync

    def _unreachable(self, exc: Exception) -> DesktopUnreachable:
        what = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
        return DesktopUnreachable(
            f"The desktop server at {self.url} did not answer ({what}). The desktop may be "
            "restarting or down: try again in a moment; if it keeps failing, the desktop "
            "server must be started again (python -m computer_use_demo.desktop.server)."
        )

    async def _request(
        self, method: str, path: str, *, timeout: float = 60.0, **kw: Any
    ) -> httpx.Response:
        try:
            response = await self._client().request(
                method,
                PREFIX + path,
                timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
                **kw,
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self._checked(response)

    def _request_sync(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self._sync_client().request(method, PREFIX + path, **kw)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self._checked(response)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        """``response`` if it succeeded; else the error it carries, raised as ours."""
        if response.is_success:
            return response
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http", response.text[:500] or response.reason_phrase
        if response.status_code == 401:
            raise DesktopError(
                f"The desktop server at {self.url} refused our token (401): "
                "COMPUTER_USE_DESKTOP_TOKEN must be the token the server was started with."
            )
        match code:
            case "screen":
                raise ScreenError(message)
            case "shell":
                raise ShellError(message)
            case "timeout":
                raise TimeoutError(message)
            case "os_error":
                number = int(error.get("errno") or 0)
                raise OSError(number, message)
        raise DesktopError(
            f"the desktop server refused the request ({response.status_code} {code}): {message}"
        )

    # --- the Desktop interface -------------------------------------------------------------

    @property
    def display(self) -> str:  # type: ignore[override]
        """The server's X display (asked once; "" while the server cannot say)."""
        if self._display is None:
            try:
                self._display = self.info_now().display
            except DesktopError:
                return ""
        return self._display

    def info_now(self) -> DesktopInfo:
        """``info()`` without an event loop (for constructors); remembered once known."""
        if self._info is None:
            self._info = self._to_info(self._request_sync("GET", "/info").json())
        return self._info

    @staticmethod
    def _to_info(body: dict[str, Any]) -> DesktopInfo:
        if body.get("width") is None:
            raise ScreenError(str(body.get("problem") or "the desktop's screen cannot be read"))
        return DesktopInfo(str(body["display"]), int(body["width"]), int(body["height"]))

    async def info(self) -> DesktopInfo:
        info = self._to_info((await self._request("GET", "/info")).json())
        self._info, self._display = info, info.display
        return info

    async def screenshot(
        self,
        *,
        settle: bool = False,
        region: Box | None = None,
        size: tuple[int, int] | None = None,
        expect: tuple[int, int] | None = None,
    ) -> Shot:
        body = {"settle": settle, "region": region, "size": size, "expect": expect}
        response = await self._request(
            "POST", "/screenshot", json=body, timeout=60.0 + (SETTLE_MAX if settle else 0)
        )
        return Shot(
            response.content,
            int(response.headers["x-image-width"]),
            int(response.headers["x-image-height"]),
        )

    async def note_screen(self, expect: tuple[int, int] | None = None) -> None:
        await self._request("POST", "/screen/note", json={"expect": expect})

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        note_screen: bool = False,
    ) -> ProcessResult:
        body = {
            "argv": list(argv),
            "env": dict(env or {}),
            "timeout": timeout,
            "note_screen": note_screen,
        }
        response = await self._request("POST", "/run", json=body, timeout=timeout + SLACK)
        data = response.json()
        return ProcessResult(int(data["returncode"]), data["stdout"], data["stderr"])

    def bash(self, *, timeout: float) -> RemoteBashSession:
        return RemoteBashSession(self, timeout=timeout)

    def stat(self, path: str, *, follow: bool = True) -> FileStat:
        params = {"path": path, "follow": "1" if follow else "0"}
        data = self._request_sync("GET", "/files/stat", params=params).json()
        return FileStat(**{k: int(data[k]) for k in ("mode", "size", "nlink", "uid", "gid")})

    def read_bytes(self, path: str, limit: int) -> bytes:
        params = {"path": path, "limit": str(limit)}
        return self._request_sync("GET", "/files/read", params=params).content

    def create_file(self, path: str, data: bytes) -> tuple[str, ...]:
        response = self._request_sync(
            "POST", "/files/create", params={"path": path}, content=data, headers=_OCTETS
        )
        return tuple(response.json()["created"])

    def replace_file(self, path: str, data: bytes) -> None:
        self._request_sync(
            "POST", "/files/replace", params={"path": path}, content=data, headers=_OCTETS
        )

    def list_tree(self, path: str, depth: int = 2) -> Listing:
        params = {"path": path, "depth": str(depth)}
        data = self._request_sync("GET", "/files/list", params=params).json()
        return Listing(list(data["paths"]), list(data["unreadable"]))

    def remove_file(self, path: str) -> None:
        self._request_sync("POST", "/files/remove", json={"path": path})

    def remove_dirs(self, dirs: Sequence[str]) -> None:
        self._request_sync("POST", "/files/remove_dirs", json={"dirs": list(dirs)})

    async def aclose(self) -> None:
        """Close this loop's connections (and the synchronous ones)."""
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
            sync, self._sync = self._sync, None
        if client is not None:
            await client.aclose()
        if sync is not None:
            sync.close()


_OCTETS = {"content-type": "application/octet-stream"}


class RemoteBashSession:
    """A bash session kept by the desktop server under a random id; one command at a time."""

    def __init__(self, desktop: RemoteDesktop, *, timeout: float) -> None:
        self.desktop = desktop
        self.timeout = timeout
        self.id = secrets.token_hex(12)
        self._pid: int | None = None
        self._broken: str | None = None
        #: The exit status of the last command that completed (not shown to the model).
        self.last_returncode: int | None = None

    @property
    def _timeout(self) -> float:
        """The reference's name for ``timeout``."""
        return self.timeout

    @_timeout.setter
    def _timeout(self, seconds: float) -> None:
        self.timeout = seconds

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def broken(self) -> str | None:
        return self._broken

    async def start(self) -> None:
        data = (
            await self.desktop._request(
                "POST", f"/bash/{self.id}/start", json={"timeout": self.timeout}
            )
        ).json()
        self._pid = data.get("pid")

    async def run(self, command: str) -> ShellOutput:
        if self._broken is not None:
            raise ShellError(self._broken)
        try:
            response = await self.desktop._request(
                "POST",
                f"/bash/{self.id}/run",
                json={"command": command, "timeout": self.timeout},
                timeout=self.timeout + SLACK,
            )
        except ShellError as exc:
            self._broken = exc.message
            raise
        except DesktopUnreachable:
            # The command's fate is unknown (the server may have restarted without it).
            self._broken = (
                "the desktop server did not answer during the last command, so this shell's "
                f"state is unknown; {RESTART_HINT}"
            )
            raise
        except asyncio.CancelledError:
            # The request's connection is closed: the server interrupts the command and
            # kills its process group.
            self._broken = f"the command was interrupted and bash was stopped; {RESTART_HINT}"
            raise
        data = response.json()
        self._pid = data.get("pid", self._pid)
        self.last_returncode = data.get("exit_code")
        return ShellOutput(data["output"], data["error"], data["exit_code"])

    async def stop(self) -> None:
        """End the shell on the desktop (a server that does not answer has no shell to end)."""
        self._broken = self._broken or f"bash was stopped; {RESTART_HINT}"
        try:
            await self.desktop._request("POST", f"/bash/{self.id}/stop", timeout=10.0)
        except DesktopUnreachable:
            pass


def token_from_env(env: Mapping[str, str]) -> str | None:
    """The desktop server's token: COMPUTER_USE_DESKTOP_TOKEN, else the file named by
    COMPUTER_USE_DESKTOP_TOKEN_FILE."""
    if env.get("COMPUTER_USE_DESKTOP_TOKEN"):
        return env["COMPUTER_USE_DESKTOP_TOKEN"].strip()
    path = env.get("COMPUTER_USE_DESKTOP_TOKEN_FILE")
    if not path:
        return None
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError as exc:
        raise DesktopError(
            f"cannot read COMPUTER_USE_DESKTOP_TOKEN_FILE {path}: {exc.strerror}"
        ) from None
