"""The desktop server, started for real on a real Xvfb: over its unix socket and over TCP with
a token; its refusals (401, 4xx, never a crash); many requests at once; one bash session per
id; stop and a client that goes away kill the whole process group; the editor's file access."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from computer_use_demo.desktop.client import RemoteDesktop
from computer_use_demo.desktop.errors import DesktopError, DesktopUnreachable, ShellError
from computer_use_demo.desktop.local import LocalDesktop
from computer_use_demo.desktop.server import MAX_FILE_BYTES, MAX_JSON_BYTES
from tests.support.bash import kill_leftovers, wait_gone
from tests.support.desktop_server import (
    RunningServer,
    server_command,
    start,
    tcp_server,
    unix_server,
)
from tests.support.procs import kill_tree
from tests.support.xvfb import XDisplay, xvfb

pytestmark = pytest.mark.desktop

DISPLAYS = range(150, 160)


@pytest.fixture(scope="module")
def display() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1024, 768) as d:
        yield d


@pytest.fixture(scope="module")
def unix(display: XDisplay) -> Iterator[RunningServer]:
    with unix_server(display) as server:
        yield server


@pytest.fixture(scope="module")
def tcp(display: XDisplay) -> Iterator[RunningServer]:
    with tcp_server(display) as server:
        yield server


@pytest_asyncio.fixture(params=["unix", "tcp"])
async def remote(request: pytest.FixtureRequest) -> AsyncIterator[RemoteDesktop]:
    server: RunningServer = request.getfixturevalue(request.param)
    desktop = RemoteDesktop(server.url, token=server.token)
    try:
        yield desktop
    finally:
        await desktop.aclose()


def raw_client(server: RunningServer, token: str | None = None) -> httpx.Client:
    """A plain HTTP client for the server (to send what our client never would)."""
    if server.socket_path:
        return httpx.Client(
            base_url="http://desktop", transport=httpx.HTTPTransport(uds=server.socket_path)
        )
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers)


def process_group(pgid: int | None) -> list[int]:
    """The pids in process group ``pgid``."""
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


# --- the screen and input ------------------------------------------------------------------


async def test_screenshot_at_a_size_and_a_region(remote: RemoteDesktop, display: XDisplay) -> None:
    info = await remote.info()
    assert (info.display, info.width, info.height) == (display.name, 1024, 768)
    assert remote.display == display.name
    full = await remote.screenshot()
    assert (full.width, full.height) == (1024, 768)
    assert Image.open(io.BytesIO(full.png)).size == (1024, 768)
    small = await remote.screenshot(size=(512, 384), settle=True)
    assert Image.open(io.BytesIO(small.png)).size == (512, 384)
    crop = await remote.screenshot(region=(10, 20, 110, 70), size=(200, 100))
    assert Image.open(io.BytesIO(crop.png)).size == (200, 100)


async def test_screen_errors_are_said(remote: RemoteDesktop) -> None:
    with pytest.raises(DesktopError, match="1024x768, but WIDTH/HEIGHT say 1920x1080"):
        await remote.screenshot(expect=(1920, 1080))
    with pytest.raises(DesktopError, match="not a rectangle on the 1024x768 screen"):
        await remote.screenshot(region=(100, 100, 50, 50))


async def test_input_runs_on_the_servers_display(remote: RemoteDesktop) -> None:
    moved = await remote.run(["xdotool", "mousemove", "--sync", "321", "123"], note_screen=True)
    assert moved.returncode == 0
    where = await remote.run(["xdotool", "getmouselocation", "--shell"])
    assert "X=321" in where.stdout and "Y=123" in where.stdout
    failed = await remote.run(["xdotool", "no-such-command"])
    assert failed.returncode != 0 and failed.stderr
    with pytest.raises(FileNotFoundError):
        await remote.run(["/no/such/program"])
    with pytest.raises(TimeoutError):
        await remote.run(["sleep", "5"], timeout=0.2)
    env = await remote.run(["sh", "-c", 'echo "$DISPLAY $EXTRA"'], env={"EXTRA": "given"})
    assert env.stdout.strip() == f"{remote.display} given"


# --- bash sessions -------------------------------------------------------------------------


async def test_one_bash_session_per_id(remote: RemoteDesktop) -> None:
    first, second = remote.bash(timeout=10), remote.bash(timeout=10)
    try:
        await first.run("cd /tmp && X=one")
        await second.run("cd / && X=two")
        a, b = await first.run('echo "$PWD $X"'), await second.run('echo "$PWD $X"')
        assert (a.output, b.output) == ("/tmp one", "/ two")
        assert first.pid != second.pid
        failed = await first.run("echo oops >&2; false")
        assert (failed.error, failed.exit_code) == ("oops", 1)
    finally:
        await first.stop()
        await second.stop()
    with pytest.raises(ShellError, match="restart"):
        await first.run("echo again")


async def test_stop_kills_the_whole_process_group(remote: RemoteDesktop) -> None:
    session = remote.bash(timeout=60)
    pids = (await session.run("sleep 100 & echo $!; (sleep 100 &) ; sleep 0.1")).output.split()
    running = asyncio.ensure_future(session.run("sleep 100"))
    await asyncio.sleep(0.5)
    group = process_group(session.pid)
    assert len(group) >= 4, group  # bash, the job, the orphan, the foreground sleep
    try:
        await session.stop()
        assert wait_gone(*group, within=1.0) == []
        with pytest.raises(ShellError):
            await running
    finally:
        kill_leftovers(*group, *map(int, pids))


async def test_a_client_that_goes_away_interrupts_its_command(remote: RemoteDesktop) -> None:
    session = remote.bash(timeout=60)
    await session.start()
    running = asyncio.ensure_future(session.run("sleep 100"))
    await asyncio.sleep(0.5)
    group = process_group(session.pid)
    try:
        running.cancel()  # the person pressed stop: the request's connection closes
        with pytest.raises(asyncio.CancelledError):
            await running
        assert wait_gone(*group, within=1.0) == []
        with pytest.raises(ShellError, match="interrupted"):
            await session.run("echo again")
    finally:
        await session.stop()
        kill_leftovers(*group)


async def test_a_timeout_stops_the_shell_and_says_restart(remote: RemoteDesktop) -> None:
    session = remote.bash(timeout=0.5)
    try:
        with pytest.raises(ShellError, match=r"timed out: bash has not returned in 0\.5 seconds"):
            await session.run("echo before; sleep 30")
        with pytest.raises(ShellError):
            await session.run("echo after")
    finally:
        await session.stop()


async def test_many_requests_at_once(remote: RemoteDesktop) -> None:
    """Sessions run side by side (their sleeps overlap) while screenshots and processes are
    served meanwhile."""
    sessions = [remote.bash(timeout=30) for _ in range(4)]
    try:
        stamp = "date +%s.%N; sleep 0.6; date +%s.%N"
        work = [s.run(stamp) for s in sessions]
        work += [remote.screenshot(size=(256, 192)) for _ in range(8)]
        work += [remote.run(["echo", str(i)]) for i in range(8)]
        results = await asyncio.gather(*work)
        spans = [tuple(map(float, r.output.split())) for r in results[:4]]
        assert max(s for s, _ in spans) < min(e for _, e in spans), spans  # all overlap
        assert [r.stdout for r in results[12:]] == [f"{i}\n" for i in range(8)]
    finally:
        await asyncio.gather(*(s.stop() for s in sessions))


# --- files ---------------------------------------------------------------------------------


async def test_files_as_the_servers_user(remote: RemoteDesktop, tmp_path: Path) -> None:
    path = str(tmp_path / "new" / "deeper" / "file.txt")
    created = remote.create_file(path, b"one\r\ntwo")
    assert created == (str(tmp_path / "new"), str(tmp_path / "new" / "deeper"))
    assert remote.read_bytes(path, 100) == b"one\r\ntwo"
    with pytest.raises(FileExistsError):
        remote.create_file(path, b"again")
    os.chmod(path, 0o640)
    remote.replace_file(path, b"three")
    assert await asyncio.to_thread(Path(path).read_bytes) == b"three"
    st = remote.stat(path)
    assert (st.is_file, st.size, stat.S_IMODE(st.mode)) == (True, 5, 0o640)
    assert remote.stat(str(tmp_path)).is_dir
    with pytest.raises(OSError) as too_big:
        remote.read_bytes(path, 4)
    assert too_big.value.errno == 27  # EFBIG
    with pytest.raises(IsADirectoryError):
        remote.read_bytes(str(tmp_path), 100)
    with pytest.raises(FileNotFoundError):
        remote.stat(str(tmp_path / "missing"))
    (tmp_path / "new" / ".hidden").write_text("x")
    listing = remote.list_tree(str(tmp_path / "new"))
    assert listing.paths == [str(tmp_path / "new"), str(tmp_path / "new" / "deeper"), path]
    remote.remove_file(path)
    remote.remove_file(path)  # already gone: no error
    remote.remove_dirs(created)
    assert not (tmp_path / "new" / "deeper").exists()
    assert (tmp_path / "new").exists()  # not empty: the hidden file is still there


async def test_the_same_answers_in_process(tmp_path: Path, display: XDisplay) -> None:
    """The in-process backend is the same code the server serves."""
    local = LocalDesktop(display.name)
    path = str(tmp_path / "a" / "f")
    assert local.create_file(path, b"x") == (str(tmp_path / "a"),)
    assert local.read_bytes(path, 10) == b"x"
    assert (await local.info()).width == 1024
    session = local.bash(timeout=5)
    try:
        assert (await session.run("echo $DISPLAY")).output == os.environ.get("DISPLAY", "")
    finally:
        await session.stop()


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/v1/nothing", {}, 404, "not_found"),
        ("GET", "/v2/info", {}, 404, "not_found"),
        ("GET", "/v1/screenshot", {}, 405, "method_not_allowed"),
        ("POST", "/v1/screenshot", {"content": b"{", "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
        ("POST", "/v1/screenshot", {"content": b"{}"}, 415, "unsupported_media_type"),
        ("POST", "/v1/screenshot", {"json": {"settle": "yes"}}, 422, "invalid_request"),
        ("POST", "/v1/screenshot", {"json": {"zoom": 2}}, 422, "invalid_request"),
        ("POST", "/v1/screenshot", {"json": {"size": [0, 10]}}, 422, "invalid_request"),
        ("POST", "/v1/screenshot", {"json": {"size": [100000, 100000]}}, 422, "invalid_request"),
        ("GET", "/v1/files/list", {"params": {"path": "/", "depth": "9"}}, 422, "invalid_request"),
        ("POST", "/v1/screenshot", {"json": [1, 2]}, 422, "invalid_request"),
        ("POST", "/v1/run", {"json": {"argv": []}}, 422, "invalid_request"),
        ("POST", "/v1/run", {"json": {"argv": ["true"], "timeout": -1}}, 422, "invalid_request"),
        ("POST", "/v1/run", {"json": {"argv": ["true"], "env": {"A": 1}}}, 422, "invalid_request"),
        ("POST", "/v1/bash/bad id!/run", {"json": {"command": "true", "timeout": 1}}, 422, "invalid_request"),
        ("POST", "/v1/bash/ok/run", {"json": {"command": 5, "timeout": 1}}, 422, "invalid_request"),
        ("GET", "/v1/files/stat", {}, 422, "invalid_request"),
        ("GET", "/v1/files/stat", {"params": {"path": "relative"}}, 422, "invalid_request"),
        ("GET", "/v1/files/stat", {"params": {"path": "/a\x00b"}}, 422, "invalid_request"),
        ("GET", "/v1/files/read", {"params": {"path": "/etc/hostname", "limit": "x"}}, 422, "invalid_request"),
        ("GET", "/v1/files/read", {"params": {"path": "/no/such"}}, 404, "os_error"),
        ("POST", "/v1/files/remove_dirs", {"json": {"dirs": ["rel"]}}, 422, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_clear_4xx(
    unix: RunningServer,
    method: str,
    path: str,
    kwargs: dict,
    status: int,
    code: str,
) -> None:
    with raw_client(unix) as client:
        response = client.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"]
        assert client.get("/v1/info").status_code == 200  # and the server goes on


def test_oversized_bodies_get_413(unix: RunningServer) -> None:
    with raw_client(unix) as client:
        big = b'{"command": "' + b"x" * MAX_JSON_BYTES + b'", "timeout": 1}'
        response = client.post(
            "/v1/bash/s/run", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(MAX_FILE_BYTES // (1 << 20) + 2):
                yield b"x" * (1 << 20)

        response = client.post("/v1/files/create", params={"path": "/tmp/never"}, content=chunks())
        assert response.status_code == 413
        assert not os.path.exists("/tmp/never")
        assert client.get("/v1/info").status_code == 200


def test_tcp_needs_the_token(tcp: RunningServer) -> None:
    assert tcp.token
    with raw_client(tcp) as anonymous:
        refused = anonymous.get("/v1/info")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.post("/v1/run", json={"argv": ["touch", "/tmp/x"]}).status_code == 401
    for wrong in (tcp.token[:-1], tcp.token + "x", "token " + tcp.token, tcp.token.upper()):
        with httpx.Client(base_url=tcp.url, headers={"authorization": f"Bearer {wrong}"}) as c:
            assert c.get("/v1/info").status_code == 401
    with raw_client(tcp, tcp.token) as client:
        assert client.get("/v1/info").status_code == 200


async def test_a_wrong_token_is_an_error_the_model_can_read(tcp: RunningServer) -> None:
    desktop = RemoteDesktop(tcp.url, token="not-the-token-at-all")
    with pytest.raises(DesktopError, match="refused our token"):
        await desktop.info()
    await desktop.aclose()
    with pytest.raises(DesktopError, match="needs its token"):
        RemoteDesktop(tcp.url)


async def test_a_server_that_is_gone_is_unreachable(display: XDisplay) -> None:
    with unix_server(display) as server:
        desktop = RemoteDesktop(server.url)
        session = desktop.bash(timeout=30)
        await session.start()
        kill_tree(server.proc)
    with pytest.raises(DesktopUnreachable, match="did not answer"):
        await desktop.screenshot()
    with pytest.raises(DesktopUnreachable):
        desktop.stat("/")
    with pytest.raises(DesktopUnreachable):
        await session.run("echo hi")
    await session.stop()  # nothing to stop: no error
    await desktop.aclose()


# --- starting ------------------------------------------------------------------------------


def test_the_socket_is_private_and_removed_at_exit(unix: RunningServer, display: XDisplay) -> None:
    assert unix.socket_path
    assert stat.S_IMODE(os.stat(unix.socket_path).st_mode) == 0o600
    with unix_server(display, "--socket-mode", "660") as shared:
        assert shared.socket_path
        assert stat.S_IMODE(os.stat(shared.socket_path).st_mode) == 0o660
        shared.proc.terminate()
        shared.proc.wait(10)
        assert not os.path.exists(shared.socket_path)


def test_a_live_socket_is_not_taken_over(unix: RunningServer, display: XDisplay) -> None:
    with pytest.raises(RuntimeError, match="another server already answers"):
        start(["--unix", str(unix.socket_path), "--display", display.name])


def test_a_stale_socket_is_replaced(tmp_path: Path, display: XDisplay) -> None:
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody answers
    proc = start(["--unix", path, "--display", display.name])
    try:
        with httpx.Client(base_url="http://d", transport=httpx.HTTPTransport(uds=path)) as client:
            assert client.get("/v1/info").json()["display"] == display.name
    finally:
        kill_tree(proc)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--tcp", "127.0.0.1:18399"], "--tcp needs --token-file"),
        (["--display", ":150"], "give --unix PATH"),
        (
            ["--tcp", "127.0.0.1:18399", "--token-file", "/no/such/file", "--display", ":150"],
            "cannot read the token",
        ),
        (["--unix", "/tmp/x.sock", "--socket-mode", "rw", "--display", ":150"], "must be octal"),
        (["--unix", "/tmp/x.sock", "--display", ""], "no X display"),
    ],
)
def test_refuses_to_start_unsafely(args: list[str], said: str) -> None:
    done = subprocess.run(server_command(*args), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert said in done.stderr


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("short\n")
    args = ["--tcp", "127.0.0.1:18398", "--token-file", str(token_file), "--display", ":150"]
    done = subprocess.run(server_command(*args), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "at least 16 characters" in done.stderr
