"""The door on 8080 (computer_use_demo/door/server.py) on its own: the page it serves, what it passes to
the servers behind it and what it keeps from them, in front of a stand-in upstream (a real
websockets server that answers HTTP GETs and websockets alike with what it was sent).

The real stack behind the door (Streamlit, websockify) is tested end to end in
test_e2e_stack.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.browser import launch_chromium
from tests.support.door import http_status, ws_knock
from tests.support.procs import kill_tree
from tests.support.ui import free_ports, wait_http

TOKEN = "door-test-token-0123456789abcdef"

#: Answers every GET (and websocket) with JSON of its path and headers; sets two cookies.
UPSTREAM = r"""
import asyncio, json, sys
from websockets.asyncio.server import serve
from websockets.datastructures import Headers

def seen(request):
    return json.dumps({"path": request.path, "headers": [list(h) for h in request.headers.raw_items()]})

def process_request(connection, request):
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    response = connection.respond(200, seen(request))
    response.headers["Set-Cookie"] = "first=1; Path=/"
    response.headers["Set-Cookie"] = "second=2; Path=/"
    return response

async def echo(ws):
    await ws.send(seen(ws.request))
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), process_request=process_request):
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"""


@dataclass(frozen=True)
class Door:
    port: int
    upstream_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def cookie(self) -> str:
        headers = http_status(self.port, f"/?token={TOKEN}")[2]
        return headers["set-cookie"].split(";", 1)[0]


def start_door(
    tmp_path: Path, port: int, upstream: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    token_file = tmp_path / "token"
    if not token_file.exists():
        token_file.write_text(TOKEN + "\n")
    argv = [
        sys.executable,
        "-m",
        "computer_use_demo.door.server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--streamlit-port",
        str(upstream),
        "--novnc-port",
        str(upstream),
        "--token-file",
        str(token_file),
        *extra,
    ]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    )


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    port, upstream_port = free_ports(2)
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM, str(upstream_port)], start_new_session=True
    )
    proc = start_door(
        tmp_path, port, upstream_port, "--allowed-hosts", "demo.example, other.example"
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=20)
        yield Door(port, upstream_port)
    finally:
        kill_tree(proc)
        kill_tree(upstream)


def upstream_saw(body: str) -> dict:
    seen = json.loads(body)
    seen["headers"] = {k.lower(): v for k, v in seen["headers"]}
    return seen


def test_the_page_needs_the_token_and_keeps_it_in_a_cookie(door: Door) -> None:
    status, body, _ = http_status(door.port, "/")
    assert status == 401 and 'name="token"' in body and "ACCESS_TOKEN" in body
    status, body, headers = http_status(door.port, f"/?token={TOKEN}")
    assert status == 200 and body.count("<iframe") == 2
    assert TOKEN not in body  # the page never shows it
    set_cookie = headers["set-cookie"]
    assert set_cookie.startswith(f"computer-use-demo-{door.port}=")
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie and "Path=/" in set_cookie
    assert TOKEN not in set_cookie  # the cookie holds a value derived from it
    assert http_status(door.port, "/", {"Cookie": door.cookie})[0] == 200
    assert http_status(door.port, "/", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert http_status(door.port, "/../../etc/passwd", {"Cookie": door.cookie})[0] == 404
    assert http_status(door.port, "/healthz")[0] == 200  # health only, no way in


def test_our_credentials_never_reach_the_servers_behind(door: Door) -> None:
    status, body, _ = http_status(
        door.port,
        f"/chat/some/page?x=1&token={TOKEN}",
        {"Cookie": f"{door.cookie}; theirs=kept", "Authorization": f"token {TOKEN}"},
    )
    assert status == 200
    seen = upstream_saw(body)
    assert seen["path"] == "/chat/some/page?x=1"  # Streamlit's base path is kept
    assert seen["headers"]["cookie"] == "theirs=kept"
    assert "authorization" not in seen["headers"] and TOKEN not in body
    assert seen["headers"]["host"] == f"127.0.0.1:{door.upstream_port}"
    # Both of the upstream's cookies come back (multi-valued headers are kept).
    raw = subprocess.run(
        ["curl", "-s", "-D", "-", "-o", "/dev/null", "-b", door.cookie, f"{door.url}chat/x"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "first=1" in raw and "second=2" in raw
    # noVNC's files sit at the root of websockify: the prefix goes.
    seen = upstream_saw(http_status(door.port, "/novnc/vnc.html?a=b", {"Cookie": door.cookie})[1])
    assert seen["path"] == "/vnc.html?a=b"


def test_websockets_are_relayed_with_the_doors_origin_for_novnc(door: Door) -> None:
    origin = f"http://127.0.0.1:{door.port}"
    knock = ws_knock(
        f"ws://127.0.0.1:{door.port}/novnc/websockify?token={TOKEN}",
        origin=origin,
        subprotocols=["binary"],
        wait_first=10,
    )
    assert knock.status == 101
    seen = upstream_saw(str(knock.first))
    assert seen["path"] == "/websockify"
    assert seen["headers"]["origin"] == "http://computer-use-door.invalid"
    assert seen["headers"]["sec-websocket-protocol"] == "binary"
    knock = ws_knock(
        f"ws://127.0.0.1:{door.port}/chat/_stcore/stream",
        origin=origin,
        headers=[("Cookie", door.cookie)],
        subprotocols=["streamlit", "xsrf-token-value"],
        wait_first=10,
    )
    seen = upstream_saw(str(knock.first))
    assert seen["path"] == "/chat/_stcore/stream" and "origin" not in seen["headers"]
    assert seen["headers"]["sec-websocket-protocol"] == "streamlit, xsrf-token-value"
    assert "cookie" not in seen["headers"]


def test_a_cross_site_post_is_refused_even_with_the_cookie(door: Door) -> None:
    """A form on another site posting into the chat (the cookie is SameSite, and the Origin
    is checked besides)."""

    def post(origin: str) -> int:
        request = urllib.request.Request(
            f"{door.url}chat/_stcore/upload_file",
            data=b"x",
            method="POST",
            headers={"Cookie": door.cookie, "Origin": origin},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    assert post("http://evil.example") == 403
    assert post(f"http://127.0.0.1:{door.port}") != 403  # same origin: passed on


def test_allowed_hosts_extend_the_local_names(door: Door) -> None:
    cookie = {"Cookie": door.cookie}
    for host in (
        "localhost",
        "127.0.0.1",
        "[::1]",
        "app.localhost",
        "demo.example",
        "Other.Example",
    ):
        assert http_status(door.port, "/", {**cookie, "Host": f"{host}:{door.port}"})[0] == 200, (
            host
        )
    for host in ("evil.example", "demo.example.evil.example", "192.0.2.7"):
        assert http_status(door.port, "/", {**cookie, "Host": f"{host}:{door.port}"})[0] == 403, (
            host
        )


def test_an_empty_token_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    port, upstream = free_ports(2)
    proc = start_door(tmp_path, port, upstream)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "is empty" in out


@pytest.mark.browser
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_page_frames_go_through_the_door(door: Door, host: str) -> None:
    """Loaded under any allowed name, the frames are this page's own paths; the token leaves
    the address bar once the cookie is set."""
    with launch_chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://{host}:{door.port}/?token={TOKEN}", wait_until="domcontentloaded")
        assert page.url == f"http://{host}:{door.port}/"
        assert page.get_attribute("#chat", "src") == "/chat/"
        # The desktop's frame is set once the page asked who has the desktop (/control).
        page.wait_for_function("document.getElementById('vnc').getAttribute('src')")
        vnc = page.get_attribute("#vnc", "src") or ""
        assert vnc.startswith("/novnc/vnc.html?")
        for param in ("autoconnect=1", "reconnect=1", "resize=scale", "view_only=1"):
            assert param in vnc
        assert "path=novnc%2Fwebsockify" in vnc
        # The toggle gives control (view_only=0) and takes it back.
        page.click("#control")
        assert "view_only=0" in (page.get_attribute("#vnc", "src") or "")
        assert page.get_attribute("#control", "aria-pressed") == "true"
        page.click("#control")
        assert "view_only=1" in (page.get_attribute("#vnc", "src") or "")
        page.reload()  # the cookie is enough now
        assert page.get_attribute("#chat", "src") == "/chat/"


def _ask(door: Door, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", door.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers={"Cookie": door.cookie, **headers})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()


def _sentence(body: str) -> str:
    """The error's text (JSON ``error`` or plain), checked to be a sentence, not a key name."""
    with contextlib.suppress(ValueError):
        body = json.loads(body)["error"]
    body = body.strip()
    assert body[:1].isupper() and body.endswith(".") and len(body.split()) >= 4, body
    return body


def test_bad_input_gets_a_4xx_and_a_sentence(door: Door) -> None:
    json_type = {"Content-Type": "application/json"}
    asks = [
        ("POST", "/control", b'{"person": true}', {}),  # not declared JSON
        ("POST", "/control", b"{not json", json_type),
        ("POST", "/control", b"{}", json_type),  # was {"error": "'person'"}
        ("POST", "/control", b'{"person": "yes"}', json_type),
        ("POST", "/control", b"[1, 2]", json_type),
        ("POST", "/control", b'{"person": true, "pad": "' + b"x" * 5000 + b'"}', json_type),
        ("PUT", "/control", b"{}", json_type),
        ("DELETE", "/", b"", {}),
        ("GET", "/no/such/thing", b"", {}),
    ]
    for method, path, body, headers in asks:
        status, text = _ask(door, method, path, body, **headers)
        assert 400 <= status < 500, (method, path, status, text)
        _sentence(text)
    status, text = _ask(door, "POST", "/control", b"{}", **json_type)
    assert "person" in _sentence(text) and "true" in _sentence(text)


def _status(door: Door) -> dict:
    status, body = _ask(door, "GET", "/status")
    assert status == 200, body
    return json.loads(body)


def _start_upstream(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(port)], start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/x", timeout=20)
    return proc


@pytest.mark.browser
def test_the_page_reloads_the_chat_when_it_comes_back(tmp_path: Path) -> None:
    """The chat's server dies and comes back: /status says so, a page of it meanwhile retries
    by itself, and the combined page reloads its frame without anyone touching it."""
    port, upstream_port = free_ports(2)
    upstream = _start_upstream(upstream_port)
    proc = start_door(tmp_path, port, upstream_port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=20)
        door = Door(port, upstream_port)
        assert _status(door) == {"chat": True, "desktop": True, "failed": [], "started": {}}
        with launch_chromium() as browser:
            page = browser.new_page()
            page.goto(f"{door.url}?token={TOKEN}")
            chat = page.frame_locator("#chat")
            chat.locator("body").get_by_text('"path": "/chat/').wait_for(timeout=10_000)
            page.locator("#chat").evaluate("f => { f.contentWindow.before = true; }")

            kill_tree(upstream)
            assert _status(door) == {"chat": False, "desktop": False, "failed": [], "started": {}}
            status, text = _ask(door, "GET", "/chat/", Accept="text/html")
            assert status == 502 and 'http-equiv="refresh"' in text and "crash" in text
            page.wait_for_function("document.body.dataset.chat === 'down'", timeout=10_000)

            upstream = _start_upstream(upstream_port)
            page.wait_for_function("document.body.dataset.chat === 'up'", timeout=10_000)
            page.wait_for_function(
                "document.getElementById('chat').contentWindow.before === undefined",
                timeout=10_000,
            )  # a new document: the frame was reloaded
            chat.locator("body").get_by_text('"path": "/chat/').wait_for(timeout=10_000)
            assert page.locator("#problems").is_hidden()
    finally:
        kill_tree(proc)
        kill_tree(upstream)


SUPERVISOR_CONF = """
[unix_http_server]
file={dir}/supervisor.sock
chmod=0700
[supervisord]
nodaemon=true
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:x11vnc]
command=bash -c "echo it cannot start; exit 3"
startsecs=1
startretries=2
autorestart=true
stdout_logfile={dir}/x11vnc.log
redirect_stderr=true
[program:novnc]
command=sleep 600
stdout_logfile={dir}/novnc.log
"""


@pytest.mark.browser
def test_a_service_the_supervisor_gave_up_on_is_named_with_its_log(tmp_path: Path) -> None:
    """A program that keeps crashing ends FATAL under a real supervisord: /status names it
    with its log, and so does the page."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(SUPERVISOR_CONF.format(dir=tmp_path))
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)], start_new_session=True
    )
    port, upstream_port = free_ports(2)
    upstream = _start_upstream(upstream_port)
    env = {**os.environ, "SUPERVISOR_SOCKET": str(tmp_path / "supervisor.sock")}
    proc = start_door(tmp_path, port, upstream_port, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=20)
        door = Door(port, upstream_port)
        deadline = time.monotonic() + 30
        while not (failed := _status(door)["failed"]):
            assert time.monotonic() < deadline, "the crashing program never ended FATAL"
            time.sleep(0.5)
        (x11vnc,) = failed
        assert x11vnc["name"] == "x11vnc" and x11vnc["log"] == str(tmp_path / "x11vnc.log")
        assert "it cannot start" in Path(x11vnc["log"]).read_text()
        with launch_chromium() as browser:
            page = browser.new_page()
            page.goto(f"{door.url}?token={TOKEN}")
            banner = page.locator("#problems")
            banner.wait_for(state="visible", timeout=10_000)
            text = banner.inner_text()
            assert (
                "VNC server (x11vnc) kept crashing" in text and str(tmp_path / "x11vnc.log") in text
            )
    finally:
        kill_tree(proc)
        kill_tree(upstream)
        kill_tree(supervisor)
