"""The one door on 8080: a token check in front of the combined page, the chat and the desktop.

Everything else listens on 127.0.0.1 only. This server (Starlette on uvicorn, the very stack
Streamlit itself runs on, so no new dependency) checks every request, HTTP and websocket:

1. the Host header names this machine (localhost names, plus ALLOWED_HOSTS): a page whose own
   domain was rebound to our address (DNS rebinding) is refused;
2. a websocket's Origin (and any request's, when a browser sends one) is this very page's;
3. the access token: ``?token=`` (as in the printed URL, then kept in an HttpOnly SameSite
   cookie), the cookie, or an ``Authorization: token ...`` header. Without it: a 401 page
   that says how to get in.

Then it serves the page (``/``), the person's hold on the desktop (``/control``: taking
control pauses the agent, computer_use_demo/pause.py), and proxies the chat (``/chat/``: Streamlit, run with that
base path, its HTTP and its websocket) and the desktop (``/novnc/``: websockify's noVNC files
and its websocket, which websockify only accepts with this door's Origin).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import uvicorn
import websockets
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..agent import private_files
from . import services

PAGE = Path(__file__).with_name("index.html")
#: What a page of the chat or the desktop shows while its server is down: it tries again
#: every 2 seconds, so it comes back by itself once the server is back.
UNREACHABLE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>Computer Use Demo: waiting</title></head>
<body style="font-family:system-ui,sans-serif;margin:2em;color:#1f2328">
<p>{text}</p><p>This page tries again every 2 seconds.</p></body></html>
"""
log = logging.getLogger("door")

#: The Origin this door sends to websockify, which refuses every other (image/start_desktop.sh):
#: no web page can send it, so no page (not even one in the desktop's own Firefox) can open
#: websockify's port directly.
UPSTREAM_ORIGIN = "http://computer-use-door.invalid"
#: Host names that always mean this machine.
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "127.0.0.1", "::1"})
#: Headers that belong to one connection, never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
#: Websocket handshake headers the proxy makes anew for the upstream connection.
WS_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "origin",
        "content-length",
    }
)

UNAUTHORIZED_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Computer Use Demo: access token needed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;
color:#1f2328}} code{{background:#f3f3f3;padding:0 .3em}} input{{font:inherit;width:70%}}
button{{font:inherit}}</style></head><body>
<h1>Access token needed</h1>
<p>This demo lets whoever opens it drive a computer, so it asks for the access token that
was printed when it started:</p>
<pre>➡️  Open http://localhost:{port}/?token=…</pre>
<p>Open that link (with <code>docker run</code>, it is in the container's output:
<code>docker logs &lt;container&gt;</code>), or paste the token here:</p>
<form method="get" action="/"><input type="password" name="token" autocomplete="off"
aria-label="Access token" autofocus> <button type="submit">Open</button></form>
<p>To choose the token yourself, start the demo with <code>ACCESS_TOKEN=…</code> in its
environment.</p>
</body></html>
"""


@dataclass(frozen=True, kw_only=True)
class DoorConfig:
    """Read once at start (main) from the arguments and the environment."""

    token: str
    port: int
    streamlit_port: int
    novnc_port: int
    #: The chat app's unix socket (the agent's private folder): then no port of it is used.
    streamlit_socket: str | None = None
    #: Where websockify listens: this machine, or the desktop's container (compose).
    novnc_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = frozenset()
    novnc_origin: str = UPSTREAM_ORIGIN
    #: Present while the person has the desktop (CONTROL_FILE); None: no such state.
    control_file: Path | None = None
    #: The supervisor's socket (SUPERVISOR_SOCKET), asked which services it gave up on.
    supervisor_socket: Path | None = None

    @property
    def cookie_name(self) -> str:
        # Cookies do not tell ports apart: one name per door, so two demos never mix theirs.
        return f"computer-use-demo-{self.port}"

    @property
    def cookie_value(self) -> str:
        """What the cookie holds: derived from the token, never the token itself."""
        return hmac.new(
            self.token.encode(), b"computer-use-demo cookie", hashlib.sha256
        ).hexdigest()


def parse_allowed_hosts(value: str | None) -> frozenset[str]:
    """``ALLOWED_HOSTS``: host names (or addresses), separated by commas or spaces; ``*``
    allows any (only behind a proxy that checks Host itself)."""
    names = (n.strip().lower().strip("[]") for n in (value or "").replace(",", " ").split())
    return frozenset(n.rsplit(":", 1)[0] if n.count(":") == 1 else n for n in names if n)


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8080`` gives ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    name = host_name(host_header)
    if not name:
        return False
    if name in LOCAL_NAMES or name.endswith(".localhost") or "*" in allowed or name in allowed:
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(name).is_loopback
    return False


def same_origin(origin: str, scheme: str, host_header: str) -> bool:
    """Whether ``origin`` is this page's own: same scheme, host and port as the request."""
    parts = urlsplit(origin)
    web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return parts.scheme == web_scheme and parts.netloc.lower() == host_header.strip().lower()


def control(path: Path | None, take: bool | None = None) -> dict[str, bool]:
    """The person's hold on the desktop (set it when ``take`` is given), as JSON."""
    if path is None:
        return {"available": False, "person": False}
    if take is True:
        private_files.private_dir(path.parent)
        private_files.touch(path)
    elif take is False:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return {"available": True, "person": path.exists()}


#: What POST /control takes, for its error messages.
CONTROL_BODY = '{"person": true} to take the desktop or {"person": false} to hand it back'


async def control_request(request: Request, path: Path | None) -> Response:
    """GET /control: who has the desktop; POST {"person": true|false}: take or hand it back.
    JSON only, so that no other site's form can post it (and the Origin check applies)."""
    if request.method == "GET":
        return JSONResponse(control(path))
    if request.method != "POST":
        return JSONResponse(
            {"error": f"{request.method} is not allowed on /control: use GET or POST."},
            status_code=405,
            headers={"Allow": "GET, POST"},
        )
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse(
            {"error": f"Send JSON (Content-Type: application/json): {CONTROL_BODY}."},
            status_code=415,
        )
    body = await request.body()
    try:
        data = json.loads(body) if len(body) <= 1024 else None
    except ValueError as e:
        return JSONResponse(
            {"error": f"The body is not JSON ({e}): send {CONTROL_BODY}."}, status_code=400
        )
    take = data.get("person") if isinstance(data, dict) else None
    if not isinstance(take, bool):
        return JSONResponse({"error": f"Send {CONTROL_BODY}."}, status_code=400)
    return JSONResponse(control(path, take))


@dataclass(frozen=True)
class Upstream:
    """A server behind the door: its name (for messages), port, the path there, and the
    Origin its websocket gets from us (None: none)."""

    name: str
    port: int
    path: str
    origin: str | None
    host: str = "127.0.0.1"
    #: A unix socket to reach it on instead of host:port.
    socket: str | None = None


#: Apps served in the door's own process under a path (the task API, the MCP server), and
#: what they need running while the door runs (their lifespan).
Mounts = Mapping[str, ASGIApp]
Lifespan = Callable[[], AbstractAsyncContextManager[object]]


class Door:
    """The ASGI app: checks, then the page, a proxy, or an app mounted under a path."""

    def __init__(
        self, config: DoorConfig, mounts: Mounts | None = None, lifespan: Lifespan | None = None
    ) -> None:
        self.config = config
        self.page = PAGE.read_bytes()
        self.client: httpx.AsyncClient | None = None
        self.socket_client: httpx.AsyncClient | None = None
        self.mounts = dict(mounts or {})
        self.app_lifespan = lifespan
        self._exit = AsyncExitStack()

    def mounted(self, path: str) -> ASGIApp | None:
        """The app mounted at ``path``'s prefix (``/api`` serves ``/api`` and ``/api/...``)."""
        for prefix, app in self.mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        conn: HTTPConnection = (
            WebSocket(scope, receive, send)
            if scope["type"] == "websocket"
            else Request(scope, receive)
        )
        refusal = self.check(conn)
        if refusal is not None:
            await self.refuse(conn, refusal, receive, send)
            return
        app = self.mounted(conn.url.path)
        if app is not None:
            await app(scope, receive, send)
        elif isinstance(conn, WebSocket):
            await self.proxy_websocket(conn)
        else:
            response = await self.handle_http(conn)
            await response(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(trust_env=False, timeout=None)
                if self.config.streamlit_socket:
                    transport = httpx.AsyncHTTPTransport(uds=self.config.streamlit_socket)
                    self.socket_client = httpx.AsyncClient(
                        transport=transport, trust_env=False, timeout=None
                    )
                if self.app_lifespan is not None:
                    await self._exit.enter_async_context(self.app_lifespan())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._exit.aclose()
                for client in (self.client, self.socket_client):
                    if client is not None:
                        await client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- the checks ---------------------------------------------------------------------

    def check(self, conn: HTTPConnection) -> Response | None:
        """The response that refuses ``conn``, or None when it may pass."""
        host = conn.headers.get("host", "")
        if not host_allowed(host, self.config.allowed_hosts):
            return PlainTextResponse(
                f"Host {host_name(host)!r} is not allowed here. To reach the demo under this "
                "name, start it with ALLOWED_HOSTS set to that name.\n",
                status_code=403,
            )
        # A browser sends Origin on every websocket and every POST: it must be this page's.
        origin = conn.headers.get("origin")
        checked = isinstance(conn, WebSocket) or conn.scope.get("method") not in ("GET", "HEAD")
        if checked and origin is not None and not same_origin(origin, conn.url.scheme, host):
            return PlainTextResponse("Cross-origin requests are refused.\n", status_code=403)
        if conn.url.path == "/healthz":
            return None
        if not self.authorized(conn):
            if self.mounted(conn.url.path) is not None:  # a program asks: it reads JSON
                return JSONResponse(
                    {"detail": "no or a wrong access token: send Authorization: Bearer <token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="demo"'},
                )
            return HTMLResponse(
                UNAUTHORIZED_PAGE.format(port=html.escape(str(self.config.port))),
                status_code=401,
                headers={"Cache-Control": "no-store", "WWW-Authenticate": 'Token realm="demo"'},
            )
        return None

    def authorized(self, conn: HTTPConnection) -> bool:
        token = self.config.token.encode()
        given = conn.query_params.get("token")
        auth = conn.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if given is None and scheme.lower() in ("token", "bearer"):
            given = value.strip()
        if given is not None:
            return hmac.compare_digest(given.encode(), token)
        cookie = conn.cookies.get(self.config.cookie_name, "")
        return hmac.compare_digest(cookie.encode(), self.config.cookie_value.encode())

    async def refuse(
        self, conn: HTTPConnection, response: Response, receive: Receive, send: Send
    ) -> None:
        log.info("refused %s %s: %s", conn.scope["type"], conn.url.path, response.status_code)
        if isinstance(conn, WebSocket):
            # The handshake gets the same HTTP answer a page would (uvicorn supports the
            # denial-response extension); else it is closed before it opens (HTTP 403).
            try:
                await conn.send_denial_response(response)
            except RuntimeError:
                await conn.close(code=1008)
            return
        await response(conn.scope, receive, send)

    def remember(self, conn: HTTPConnection, response: Response) -> Response:
        """A valid ``?token=``: keep it as a cookie, so reloads and the frames get in."""
        if "token" in conn.query_params:
            response.set_cookie(
                self.config.cookie_name,
                self.config.cookie_value,
                httponly=True,
                samesite="strict",
                secure=conn.url.scheme == "https",
                path="/",
            )
        return response

    # ---- HTTP -----------------------------------------------------------------------------

    async def handle_http(self, request: Request) -> Response:
        path = request.url.path
        if path == "/healthz":
            return PlainTextResponse("ok\n")
        if path == "/control":
            return await control_request(request, self.config.control_file)
        if path == "/status":
            return JSONResponse(await self.status(), headers={"Cache-Control": "no-store"})
        if path in ("/", "/index.html"):
            if request.method not in ("GET", "HEAD"):
                return PlainTextResponse(
                    f"{request.method} is not allowed on the page: open it with GET.\n",
                    status_code=405,
                    headers={"Allow": "GET, HEAD"},
                )
            return self.remember(
                request,
                Response(
                    self.page,
                    media_type="text/html; charset=utf-8",
                    headers={
                        "Cache-Control": "no-store",
                        "Referrer-Policy": "no-referrer",
                        "Content-Security-Policy": "frame-ancestors 'self'",
                    },
                ),
            )
        target = self.upstream(path)
        if target is None:
            return PlainTextResponse(
                "Nothing is served here: the page is at /, the chat under /chat/, the "
                "desktop under /novnc/.\n",
                status_code=404,
            )
        return self.remember(request, await self.proxy_http(request, target))

    async def status(self) -> dict[str, Any]:
        """The page's watch on the services: ``{"chat": bool, "desktop": bool, "failed": [...],
        "started": {...}}``; the page reloads a frame whose server answers again or was
        restarted, and names the services the supervisor gave up on (door/services.py)."""
        chat, desktop = await asyncio.gather(
            self.reaches("/chat/_stcore/health"), self.reaches("/novnc/vnc.html")
        )
        socket = self.config.supervisor_socket
        supervised = (
            await asyncio.to_thread(services.supervised, socket)
            if socket
            else {"failed": [], "started": {}}
        )
        return {"chat": chat, "desktop": desktop, **supervised}

    async def reaches(self, path: str, timeout: float = 3.0) -> bool:
        """Whether the server behind ``path`` answers a GET of it with a success (asked
        the way the proxy asks it)."""
        target = self.upstream(path)
        assert target is not None, path
        probe = Request(
            {
                "type": "http",
                "method": "GET",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "headers": [],
                "scheme": "http",
                "server": ("127.0.0.1", self.config.port),
            }
        )
        try:
            response = await asyncio.wait_for(self.proxy_http(probe, target), timeout)
        except TimeoutError:
            return False
        if response.background is not None:
            await response.background()  # closes the upstream response, body unread
        return 200 <= response.status_code < 400

    def upstream(self, path: str) -> Upstream | None:
        """The server behind the door for ``path``, if any."""
        if path == "/chat" or path.startswith("/chat/"):
            # Streamlit runs with baseUrlPath=chat; its websocket wants no Origin from us.
            return Upstream(
                "chat", self.config.streamlit_port, path, None, socket=self.config.streamlit_socket
            )
        if path == "/novnc" or path.startswith("/novnc/"):
            return Upstream(
                "desktop",
                self.config.novnc_port,
                path[len("/novnc") :] or "/",
                self.config.novnc_origin,
                host=self.config.novnc_host,
            )
        return None

    def upstream_query(self, conn: HTTPConnection) -> str:
        """The query without our token (the servers behind never see it)."""
        query = [
            (k, v) for k, v in parse_qsl(conn.url.query, keep_blank_values=True) if k != "token"
        ]
        return urlencode(query)

    def upstream_headers(
        self, conn: HTTPConnection, drop: Iterable[str] = ()
    ) -> list[tuple[str, str]]:
        """The request's headers for the server behind: no hop-by-hop ones, no credential
        of ours (our cookie, our Authorization)."""
        dropped = HOP_BY_HOP | set(drop)
        headers = []
        for name, value in conn.headers.items():
            lower = name.lower()
            if lower in dropped:
                continue
            if lower == "authorization" and value.partition(" ")[0].lower() in ("token", "bearer"):
                continue
            if lower == "cookie":
                kept = [
                    c.strip()
                    for c in value.split(";")
                    if c.strip() and not c.strip().startswith(self.config.cookie_name + "=")
                ]
                if not kept:
                    continue
                value = "; ".join(kept)
            headers.append((name, value))
        return headers

    async def proxy_http(self, request: Request, target: Upstream) -> Response:
        client = self.socket_client if target.socket else self.client
        assert client is not None, "the lifespan starts the clients"
        url = httpx.URL(
            scheme="http",
            host=target.host,
            port=target.port,
            path=target.path,
            query=self.upstream_query(request).encode(),
        )
        headers = self.upstream_headers(request)
        headers.append(("X-Forwarded-Proto", request.url.scheme))
        body = request.stream() if request.method not in ("GET", "HEAD") else None
        upstream_request = client.build_request(request.method, url, headers=headers, content=body)
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx.HTTPError as e:
            text = (
                f"The {target.name} is not reachable right now ({type(e).__name__}); it may "
                "still be starting, or be restarting after a crash."
            )
            if "text/html" in request.headers.get("accept", ""):  # a page: it retries itself
                return HTMLResponse(
                    UNREACHABLE_PAGE.format(text=html.escape(text)),
                    status_code=502,
                    headers={"Cache-Control": "no-store", "Retry-After": "2"},
                )
            return PlainTextResponse(text + "\n", status_code=502, headers={"Retry-After": "2"})
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in HOP_BY_HOP
        ]
        return response

    # ---- websockets -----------------------------------------------------------------------

    async def proxy_websocket(self, ws: WebSocket) -> None:
        target = self.upstream(ws.url.path)
        if target is None:
            await ws.close(code=1008)
            return
        query = self.upstream_query(ws)
        url = f"ws://{target.host}:{target.port}{target.path}" + (f"?{query}" if query else "")
        subprotocols = list(ws.scope.get("subprotocols") or [])
        try:
            options: dict[str, Any] = {
                "origin": target.origin,
                "subprotocols": subprotocols or None,
                "additional_headers": self.upstream_headers(ws, WS_HANDSHAKE),
                "compression": None,
                "max_size": None,
                "ping_interval": None,
                "open_timeout": 15,
            }
            upstream = await (
                websockets.unix_connect(target.socket, url, **options)
                if target.socket
                else websockets.connect(url, proxy=None, **options)
            )
        except (OSError, websockets.InvalidHandshake, TimeoutError) as e:
            log.warning("websocket to %s failed: %s", url, e)
            await ws.close(code=1011)
            return
        async with upstream:
            await ws.accept(subprotocol=upstream.subprotocol)
            await relay(ws, upstream)


async def relay(ws: WebSocket, upstream: websockets.ClientConnection) -> None:
    """Frames both ways until either side closes; then the other is closed too."""

    async def browser_to_upstream() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message.get("text", ""))

    async def upstream_to_browser() -> None:
        async for data in upstream:
            if isinstance(data, bytes):
                await ws.send_bytes(data)
            else:
                await ws.send_text(data)

    tasks = [
        asyncio.ensure_future(browser_to_upstream()),
        asyncio.ensure_future(upstream_to_browser()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError,
                WebSocketDisconnect,
                websockets.ConnectionClosed,
                RuntimeError,
            ):
                await task
        with contextlib.suppress(Exception):
            await ws.close()


def read_token(path: Path) -> str:
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise SystemExit(f"the token file {path} is empty")
    return token


def main(
    argv: list[str] | None = None,
    apps: Callable[[DoorConfig], tuple[Mounts, Lifespan | None]] | None = None,
) -> None:
    """Run the door; ``apps`` gives what it serves in its own process (computer_use_demo/api)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bind", default=os.environ.get("BIND_ADDR", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HTTP_PORT", "8080")))
    parser.add_argument(
        "--streamlit-port", type=int, default=int(os.environ.get("STREAMLIT_PORT", "8501"))
    )
    parser.add_argument(
        "--streamlit-socket",
        default=None,
        help="the chat app's unix socket (then --streamlit-port is not used)",
    )
    parser.add_argument("--novnc-port", type=int, default=int(os.environ.get("NOVNC_PORT", "6080")))
    parser.add_argument(
        "--novnc-host",
        default=os.environ.get("NOVNC_HOST", "127.0.0.1"),
        help="where websockify listens (the desktop's container in the compose layout)",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        required=True,
        help="file holding the access token (0600; image/start_webapp.sh writes it)",
    )
    parser.add_argument(
        "--allowed-hosts",
        default=os.environ.get("ALLOWED_HOSTS", ""),
        help="host names besides localhost that may reach the door (ALLOWED_HOSTS)",
    )
    parser.add_argument(
        "--novnc-origin",
        default=UPSTREAM_ORIGIN,
        help="the Origin websockify expects (image/lib.sh's DOOR_ORIGIN)",
    )
    args = parser.parse_args(argv)
    config = DoorConfig(
        token=read_token(args.token_file),
        port=args.port,
        streamlit_port=args.streamlit_port,
        novnc_port=args.novnc_port,
        streamlit_socket=args.streamlit_socket,
        novnc_host=args.novnc_host,
        allowed_hosts=parse_allowed_hosts(args.allowed_hosts),
        novnc_origin=args.novnc_origin,
        control_file=Path(os.environ["CONTROL_FILE"]) if os.environ.get("CONTROL_FILE") else None,
        supervisor_socket=(
            Path(os.environ["SUPERVISOR_SOCKET"]) if os.environ.get("SUPERVISOR_SOCKET") else None
        ),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every proxied request
    print(f"the door on http://{args.bind}:{args.port}/", flush=True)
    mounts, lifespan = apps(config) if apps is not None else ({}, None)
    uvicorn.run(
        Door(config, mounts, lifespan),
        host=args.bind,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        ws="websockets-sansio",
        ws_max_size=64 * 1024 * 1024,
        lifespan="on",
        # Event streams (/api) never end by themselves: a stop waits this long for them.
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
