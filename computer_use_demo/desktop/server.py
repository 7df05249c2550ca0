"""The desktop server: the desktop's one door for actions, one process per desktop, run as the
desktop's own user. It owns the screen (capture, settle, crop, scale, encode), input (xdotool
and other processes, argv only), the persistent bash sessions (one per session id) and file
access for the editor (as this user, so the file permissions are the agent's). It knows no API
semantics: no tool versions, no scaling policy, no approvals; physical pixels, processes, files.

    python -m computer_use_demo.desktop.server --unix PATH [--display :1]
    python -m computer_use_demo.desktop.server --tcp HOST:PORT --token-file FILE [--display :1]

Why HTTP/JSON (version 1, every path under ``/v1/``): every action is one request and one
answer, which HTTP already frames, authenticates (a bearer token), limits and reports (a status
and a JSON error); Starlette and uvicorn are already dependencies, httpx is the client, and
curl can debug it. Screenshots and file contents travel as raw bytes (``image/png``,
``application/octet-stream``), never base64 inside JSON, so the hop stays well under a
millisecond more than the work. No websocket is needed: nothing is pushed from the desktop
(a long bash command is one request that waits; a client that goes away ends its command, see
``bash_run``), and keep-alive connections already avoid a handshake per request.

Security: on a unix socket (the default) the socket's mode (``--socket-mode``, default 0600:
only this user) and the folder it is in decide who may connect; the folder's permissions are
the caller's job. On TCP every request needs ``Authorization: Bearer <token>`` (the token file
is read once, at start), compared in constant time; without it, 401. Requests are checked
before anything runs: malformed, oversized or unknown ones get a 4xx with a JSON body
``{"error": {"code": ..., "message": ...}}``, never a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hmac
import logging
import os
import re
import socket
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import DesktopError, ScreenError, ShellError
from .local import LocalDesktop
from .shell import BashSession

PROTOCOL_VERSION = 1
PREFIX = f"/v{PROTOCOL_VERSION}"
#: Largest JSON body (a bash command, an argv list).
MAX_JSON_BYTES = 4 * 1024 * 1024
#: Largest file body (the editor's files are at most 64 MiB).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Bash sessions kept at once (each is a shell and a thread).
MAX_SESSIONS = 64
#: Longest a command or process may be given to run.
MAX_TIMEOUT = 24 * 3600.0
SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
DEFAULT_SOCKET_MODE = 0o600
log = logging.getLogger("desktop-server")


class Refusal(Exception):
    """A request this server will not serve: an HTTP status and a JSON error body."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        return JSONResponse(body, status_code=self.status)


# --- request bodies ------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


#: Largest side of an image asked for (a bigger one would only exhaust memory).
MAX_SIDE = 16384
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Size = tuple[Side, Side]
BodyT = TypeVar("BodyT", bound=_Body)


class ScreenshotBody(_Body):
    settle: bool = False
    region: tuple[int, int, int, int] | None = None
    size: Size | None = None
    expect: Size | None = None


class NoteBody(_Body):
    expect: Size | None = None


class RunBody(_Body):
    argv: list[str] = Field(min_length=1, max_length=100_000)
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, le=MAX_TIMEOUT)
    note_screen: bool = False


class BashRunBody(_Body):
    command: str
    timeout: float = Field(gt=0, le=MAX_TIMEOUT)


class BashStartBody(_Body):
    timeout: float = Field(default=120.0, gt=0, le=MAX_TIMEOUT)


class RemoveDirsBody(_Body):
    dirs: list[str] = Field(max_length=4096)


class PathBody(_Body):
    path: str


# --- helpers -------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 past ``limit`` bytes (checked as it arrives)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refusal(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise Refusal(413, "too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(request: Request, model: type[BodyT]) -> BodyT:
    """The JSON body as ``model``; 415/400/422 with the reason otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise Refusal(415, "unsupported_media_type", "send the body as application/json")
    data = await read_body(request, MAX_JSON_BYTES)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise Refusal(
                400, "malformed_json", f"the body is not valid JSON: {problems}"
            ) from None
        raise Refusal(422, "invalid_request", problems) from None


def query_path(request: Request) -> str:
    """The ``path`` query parameter: an absolute path without NUL."""
    path = request.query_params.get("path")
    if not path:
        raise Refusal(422, "invalid_request", "the `path` query parameter is required")
    if "\x00" in path or not os.path.isabs(path):
        raise Refusal(422, "invalid_request", "`path` must be an absolute path without NUL")
    return path


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,12}", raw) or not low <= int(raw) <= high:
        raise Refusal(422, "invalid_request", f"`{name}` must be an integer in {low}..{high}")
    return int(raw)


def os_refusal(exc: OSError) -> Refusal:
    """An OSError as a 4xx whose body carries the errno (the client raises it again)."""
    code = exc.errno or errno.EIO
    status = {errno.ENOENT: 404, errno.EACCES: 403, errno.EPERM: 403}.get(code, 409)
    return Refusal(
        status,
        "os_error",
        exc.strerror or str(exc),
        errno=code,
        name=errno.errorcode.get(code, "EIO"),
    )


def session_id(request: Request) -> str:
    sid = request.path_params["session"]
    if not SESSION_ID.fullmatch(sid):
        raise Refusal(422, "invalid_request", "a session id is 1-64 of A-Z a-z 0-9 _ . -")
    return sid


async def until_disconnect(request: Request) -> None:
    """Return once the client has gone away (its body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


# --- the application -----------------------------------------------------------------------


class DesktopServer:
    """The routes over one ``LocalDesktop`` and its bash sessions."""

    def __init__(self, desktop: LocalDesktop) -> None:
        self.desktop = desktop
        self.sessions: dict[str, BashSession] = {}
        self._sessions_lock = asyncio.Lock()

    # screen and processes

    async def info(self, request: Request) -> Response:
        try:
            info = await self.desktop.info()
        except ScreenError as exc:
            info = None
            problem = exc.message
        body: dict[str, Any] = {
            "protocol": PROTOCOL_VERSION,
            "display": self.desktop.display,
            "user": _user_name(),
        }
        if info is not None:
            body.update(width=info.width, height=info.height)
        else:
            body.update(width=None, height=None, problem=problem)
        return JSONResponse(body)

    async def screenshot(self, request: Request) -> Response:
        body = await parse(request, ScreenshotBody)
        try:
            shot = await self.desktop.screenshot(
                settle=body.settle, region=body.region, size=body.size, expect=body.expect
            )
        except ScreenError as exc:
            raise Refusal(409, "screen", exc.message) from None
        headers = {"x-image-width": str(shot.width), "x-image-height": str(shot.height)}
        return Response(shot.png, media_type="image/png", headers=headers)

    async def note_screen(self, request: Request) -> Response:
        body = await parse(request, NoteBody)
        try:
            await self.desktop.note_screen(body.expect)
        except ScreenError as exc:
            raise Refusal(409, "screen", exc.message) from None
        return Response(status_code=204)

    async def run(self, request: Request) -> Response:
        body = await parse(request, RunBody)
        try:
            result = await self.desktop.run(
                body.argv, env=body.env, timeout=body.timeout, note_screen=body.note_screen
            )
        except TimeoutError:
            raise Refusal(
                409, "timeout", f"{body.argv[0]} did not finish within {body.timeout:g} seconds"
            ) from None
        except ScreenError as exc:
            raise Refusal(409, "screen", exc.message) from None
        except OSError as exc:
            raise os_refusal(exc) from None
        return JSONResponse(asdict(result))

    # bash sessions

    async def _session(self, sid: str, timeout: float | None) -> BashSession:
        async with self._sessions_lock:
            session = self.sessions.get(sid)
            if session is None:
                if len(self.sessions) >= MAX_SESSIONS:
                    await self._drop_broken()
                if len(self.sessions) >= MAX_SESSIONS:
                    raise Refusal(
                        429, "too_many_sessions", f"at most {MAX_SESSIONS} bash sessions at once"
                    )
                session = self.sessions[sid] = BashSession()
        if timeout is not None:
            session.timeout = timeout
        return session

    async def _drop_broken(self) -> None:
        """Forget the sessions that can run nothing more (timed out, exited, interrupted):
        their owners would have to restart them anyway."""
        broken = [sid for sid, s in self.sessions.items() if s.broken is not None]
        for sid in broken:
            await self.sessions.pop(sid).stop()

    async def bash_start(self, request: Request) -> Response:
        sid = session_id(request)
        body = await parse(request, BashStartBody)
        session = await self._session(sid, body.timeout)
        try:
            await session.start()
        except ShellError as exc:
            raise Refusal(409, "shell", exc.message) from None
        return JSONResponse({"session": sid, "pid": session.pid})

    async def bash_run(self, request: Request) -> Response:
        """Run a command in the session; if the client goes away meanwhile (the agent was
        stopped, or died), the command is interrupted and its process group killed."""
        sid = session_id(request)
        body = await parse(request, BashRunBody)
        session = await self._session(sid, body.timeout)
        work = asyncio.ensure_future(session.run(body.command))
        gone = asyncio.ensure_future(until_disconnect(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, ShellError):
                    await work
        if work.cancelled():
            raise Refusal(409, "shell", "the client went away; the command was interrupted")
        try:
            out = work.result()
        except ShellError as exc:
            raise Refusal(409, "shell", exc.message, pid=session.pid) from None
        return JSONResponse({**asdict(out), "pid": session.pid})

    async def bash_stop(self, request: Request) -> Response:
        sid = session_id(request)
        async with self._sessions_lock:
            session = self.sessions.pop(sid, None)
        if session is not None:
            await session.stop()
        return Response(status_code=204)

    async def stop_all(self) -> None:
        sessions, self.sessions = list(self.sessions.values()), {}
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)

    # files

    async def _files(self, work: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(work)
        except OSError as exc:
            raise os_refusal(exc) from None

    async def file_stat(self, request: Request) -> Response:
        path = query_path(request)
        follow = request.query_params.get("follow", "1") != "0"
        st = await self._files(lambda: self.desktop.stat(path, follow=follow))
        return JSONResponse(asdict(st))

    async def file_read(self, request: Request) -> Response:
        path = query_path(request)
        limit = query_int(request, "limit", MAX_FILE_BYTES, 0, MAX_FILE_BYTES)
        data = await self._files(lambda: self.desktop.read_bytes(path, limit))
        return Response(data, media_type="application/octet-stream")

    async def file_create(self, request: Request) -> Response:
        path = query_path(request)
        data = await read_body(request, MAX_FILE_BYTES)
        created = await self._files(lambda: self.desktop.create_file(path, data))
        return JSONResponse({"created": list(created)}, status_code=201)

    async def file_replace(self, request: Request) -> Response:
        path = query_path(request)
        data = await read_body(request, MAX_FILE_BYTES)
        await self._files(lambda: self.desktop.replace_file(path, data))
        return Response(status_code=204)

    async def file_list(self, request: Request) -> Response:
        path = query_path(request)
        depth = query_int(request, "depth", 2, 0, 3)
        listing = await self._files(lambda: self.desktop.list_tree(path, depth))
        return JSONResponse(asdict(listing))

    async def file_remove(self, request: Request) -> Response:
        body = await parse(request, PathBody)
        if "\x00" in body.path or not os.path.isabs(body.path):
            raise Refusal(422, "invalid_request", "`path` must be an absolute path without NUL")
        await self._files(lambda: self.desktop.remove_file(body.path))
        return Response(status_code=204)

    async def file_remove_dirs(self, request: Request) -> Response:
        body = await parse(request, RemoveDirsBody)
        if any("\x00" in d or not os.path.isabs(d) for d in body.dirs):
            raise Refusal(422, "invalid_request", "every folder must be an absolute path")
        await self._files(lambda: self.desktop.remove_dirs(body.dirs))
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        def route(path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str):
            return Route(PREFIX + path, _refusals(endpoint), methods=[method])

        return [
            route("/info", self.info, "GET"),
            route("/screenshot", self.screenshot, "POST"),
            route("/screen/note", self.note_screen, "POST"),
            route("/run", self.run, "POST"),
            route("/bash/{session}/start", self.bash_start, "POST"),
            route("/bash/{session}/run", self.bash_run, "POST"),
            route("/bash/{session}/stop", self.bash_stop, "POST"),
            route("/files/stat", self.file_stat, "GET"),
            route("/files/read", self.file_read, "GET"),
            route("/files/create", self.file_create, "POST"),
            route("/files/replace", self.file_replace, "POST"),
            route("/files/list", self.file_list, "GET"),
            route("/files/remove", self.file_remove, "POST"),
            route("/files/remove_dirs", self.file_remove_dirs, "POST"),
        ]


def _refusals(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refusal as refusal:
            return refusal.response()
        except DesktopError as exc:  # any other failure of the desktop: said, not crashed
            return Refusal(409, "desktop", exc.message).response()

    return serve


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    words = {404: "no such endpoint", 405: "method not allowed for this endpoint"}
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = words.get(exc.status_code, str(exc.detail))
    return Refusal(
        exc.status_code, code, f"{message}: {request.method} {request.url.path}"
    ).response()


class BearerToken:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>`` (compared
    in constant time), else 401; other connection types are refused."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        if scope["type"] != "http" or not hmac.compare_digest(given, self._expected):
            if scope["type"] != "http":
                return  # a websocket: closed without an answer
            refusal = Refusal(
                401, "unauthorized", "a valid `Authorization: Bearer <token>` header is required"
            )
            response = refusal.response()
            response.headers["www-authenticate"] = 'Bearer realm="desktop"'
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(
    desktop: LocalDesktop,
    *,
    token: str | None = None,
    on_ready: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> ASGIApp:
    """The server's ASGI application over ``desktop`` (a token: every request needs it).
    ``on_ready`` runs once it serves; at shutdown every bash session is ended, then
    ``on_shutdown`` runs."""
    server = DesktopServer(desktop)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await server.stop_all()
            if on_shutdown is not None:
                on_shutdown()

    app = Starlette(
        routes=server.routes(),
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.server = server
    return BearerToken(app, token) if token is not None else app


# --- command line --------------------------------------------------------------------------


def read_token(path: str) -> str:
    """The token in ``path`` (surrounding whitespace removed); SystemExit if there is none."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise SystemExit(f"cannot read the token file {path}: {exc.strerror}") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise SystemExit(f"the token in {path} must be at least 16 characters, without spaces")
    return token


def unix_socket(path: str, mode: int) -> socket.socket:
    """A listening unix socket at ``path`` with ``mode``. A stale socket file is replaced; a
    live one (another server answers) or any other file is refused."""
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode):
            raise SystemExit(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody answers: left over from a server that died
        else:
            raise SystemExit(f"another server already answers on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)  # never reachable with a wider mode, not even briefly
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)
    sock.listen(128)
    return sock


def tcp_socket(address: str) -> socket.socket:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SystemExit(f"--tcp takes HOST:PORT, got {address!r}")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on the connections of such a socket only
    # (with proto 0, Nagle held every answer's body for the client's delayed ACK: +40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        raise SystemExit(f"cannot listen on {address}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m computer_use_demo.desktop.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--unix", metavar="PATH", help="listen on this unix socket (the default)")
    where.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP (needs --token-file)")
    parser.add_argument("--token-file", metavar="FILE", help="the bearer token (TCP: required)")
    parser.add_argument(
        "--socket-mode",
        default=f"{DEFAULT_SOCKET_MODE:o}",
        help="the unix socket's mode, octal (default 600: only this user may connect)",
    )
    parser.add_argument(
        "--display",
        default=os.environ.get("DISPLAY")
        or (f":{os.environ['DISPLAY_NUM']}" if os.environ.get("DISPLAY_NUM") else None),
        help="the X display (default: $DISPLAY, else :$DISPLAY_NUM)",
    )
    args = parser.parse_args(argv)
    if args.tcp and not args.token_file:
        parser.error("--tcp needs --token-file: nothing listens on TCP without a token")
    if not args.tcp and not args.unix:
        parser.error("give --unix PATH (or --tcp HOST:PORT --token-file FILE)")
    if not args.display:
        parser.error("no X display: give --display :N (or set DISPLAY)")
    try:
        args.socket_mode = int(args.socket_mode, 8)
    except ValueError:
        parser.error(f"--socket-mode must be octal, like 600 or 660, got {args.socket_mode!r}")
    if args.socket_mode & ~0o777:
        parser.error("--socket-mode takes permission bits only (at most 777)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    token = read_token(args.token_file) if args.token_file else None
    os.environ["DISPLAY"] = args.display  # what the bash sessions and xdotool draw on
    if args.tcp:
        sock = tcp_socket(args.tcp)
        where = f"http://{args.tcp}"
    else:
        sock = unix_socket(args.unix, args.socket_mode)
        where = f"unix://{os.path.abspath(args.unix)} (mode {args.socket_mode:04o})"
    ours = os.stat(args.unix).st_ino if args.unix else None

    def remove_socket() -> None:
        # uvicorn ends the process by re-raising the signal after shutdown: clean up here.
        with contextlib.suppress(OSError):
            if args.unix and os.stat(args.unix).st_ino == ours:  # still ours
                os.unlink(args.unix)

    def ready() -> None:
        # Printed once the signal handlers are in place: a start script may wait for it.
        print(f"desktop server for {args.display} on {where}", flush=True)

    app = build_app(
        LocalDesktop(args.display), token=token, on_ready=ready, on_shutdown=remove_socket
    )
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
        remove_socket()


if __name__ == "__main__":
    main(sys.argv[1:])
