"""The stack under its supervisor (image/supervisord.conf), started by image/entrypoint.sh as a
user starts it, with the chat app pointed at the fake Messages API:

- kill -9 of each service in turn, during a run, brings it back within seconds; the page in
  headless Chromium reconnects by itself (the chat's frame, noVNC) and a new message works;
- SIGTERM during a run: no API call after it (the fake counts), all gone within 10 s;
- a second start on the same display or ports exits non-zero, says what runs there, and the
  first stack still serves; a start on other ones runs beside it.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_api import FakeAnthropicAPI, Reply, error, message, text, tool_use
from tests.support.browser import launch_chromium
from tests.support.net import port_free
from tests.support.supervision import (
    PARTS,
    kill_and_wait_back,
    wait_all_running,
)
from tests.support.ui import IMAGE, Stack, entrypoint, stack_env, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

KEY = "sk-ant-supervision-0123456789"
SLOW_TASK = "Wait for two minutes"
TASK = "Take a screenshot of the desktop"
FINAL = "I took a screenshot: the desktop is there."
INTERRUPTED = "This run was interrupted: the app stopped."
STOPPED = "Stopped by the user after 1 step(s)."
WAITED = "Done waiting."
#: The frames the page reloads when a part was restarted (noVNC reconnects by itself to a
#: restarted x11vnc or X server).
RELOADED = {"streamlit": ("chat",), "webpage": ("chat", "vnc"), "novnc": ("vnc",)}


def scripted(body: dict[str, Any]) -> Reply:
    """Claude's part: a slow command for SLOW_TASK, a screenshot then an answer for TASK."""
    last = body["messages"][-1]["content"]
    said = " ".join(b.get("text", "") for b in last if isinstance(b, dict) and b["type"] == "text")
    if SLOW_TASK in said:  # a fresh shell first (a stop ended the last one)
        return message(
            tool_use("bash", {"restart": True}), tool_use("bash", {"command": "sleep 120"})
        )
    if TASK in said:
        return message(text("Let me look."), tool_use("computer", {"action": "screenshot"}))
    if SLOW_TASK in json.dumps(body["messages"][-3:]):  # the command came back
        return message(text(WAITED))
    return message(text(FINAL))


@contextlib.contextmanager
def start(tmp: Path, api: FakeAnthropicAPI, name: str) -> Iterator[Stack]:
    """A stack of its own, up (the ready line printed); stopped afterwards."""
    stack = stack_env(tmp, extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY})
    logs = Path(__file__).resolve().parents[1] / "test-artifacts" / "supervision" / f"{name}.log"
    with entrypoint(stack, tmp, logs) as out:
        deadline = time.monotonic() + 90
        while "Open http" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text() + stack.logs()
            time.sleep(0.2)
        yield stack


@pytest.fixture(scope="module")
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(default=scripted) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, api: FakeAnthropicAPI) -> Iterator[Stack]:
    with start(tmp_path_factory.mktemp("supervised"), api, "first") as first:
        yield first


def send(chat: Any, words: str) -> None:
    box = chat.get_by_placeholder(re.compile("Type a message to send to Claude"))
    box.wait_for(timeout=60_000)
    box.fill(words)
    box.press("Enter")


def vnc_connected(page: Any) -> bool:
    for frame in page.frames:
        if "/novnc/vnc.html" in frame.url:
            try:
                script = "() => document.documentElement.classList.contains('noVNC_connected')"
                return bool(frame.evaluate(script))
            except Exception:
                return False
    return False


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def test_each_service_killed_during_a_run_comes_back(stack: Stack, artifacts_dir: str) -> None:
    wait_all_running(stack)
    back: dict[str, float] = {}
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(stack.page_url)
        chat = page.frame_locator("#chat")
        wait_until(lambda: vnc_connected(page), 60, "noVNC never connected")
        for part in PARTS:  # one session: each message goes on from the last
            seen = {t: chat.get_by_text(t).count() for t in (INTERRUPTED, STOPPED, FINAL, WAITED)}

            def more(words: str) -> Any:
                return lambda: chat.get_by_text(words).count() > seen[words]  # noqa: B023

            send(chat, SLOW_TASK)
            chat.get_by_text("Step 1 · bash sleep 120").wait_for(timeout=60_000)
            for frame in ("chat", "vnc"):  # a mark in each frame's document
                page.locator(f"#{frame}").evaluate("f => { f.contentWindow.before = 1; }")
            back[part] = kill_and_wait_back(stack, part)
            wait_all_running(stack)
            # The page reloads by itself the frames whose server was restarted.
            for frame in RELOADED.get(part, ()):
                page.wait_for_function(
                    f"document.getElementById('{frame}').contentWindow.before === undefined",
                    timeout=30_000,
                )
            if part == "streamlit":  # the run died with the app: told as a crash
                wait_until(more(INTERRUPTED), 60, "the crash is not told")
            elif part == "desktop-server":  # its shell died with it: Claude is told, and ends
                wait_until(more(WAITED), 60, "the run did not go on after the tools came back")
            else:  # the run goes on; the page is usable again, Stop ends it
                chat.locator(".st-key-stop_agent button").click(timeout=60_000)
                wait_until(more(STOPPED), 60, f"Stop did not stop the run after {part}")
            wait_until(lambda: vnc_connected(page), 60, f"noVNC did not reconnect after {part}")
            send(chat, TASK)  # a new message works: a screenshot of the desktop, an answer
            wait_until(more(FINAL), 60, f"no answer to a new message after {part}")
            page.screenshot(path=str(Path(artifacts_dir) / f"supervision-{part}.png"))
    print("back after kill -9 (s):", {k: round(v, 1) for k, v in back.items()})
    assert all(seconds < 15 for seconds in back.values()), back


def test_a_rate_limit_wait_counts_down_in_the_browser(
    stack: Stack, api: FakeAnthropicAPI, artifacts_dir: str
) -> None:
    """A 429 with retry-after 12: the progress line says it is a rate limit and counts the
    seconds down to the retry, which then answers."""
    api.push(
        error(429, "Number of requests has exceeded your rate limit", retry_after=12),
        message(text("Answered after the wait.")),
    )
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(stack.app_url)
        page.get_by_role("button", name="New session").click()
        box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill("Say something")
        box.press("Enter")
        line = page.get_by_text(re.compile(r"rate limited \(429\): retry 1 of \d+ in \d+ s"))
        line.wait_for(timeout=30_000)
        first = int(re.search(r"in (\d+) s", line.inner_text()).group(1))  # type: ignore[union-attr]
        assert 8 <= first <= 12, first
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-rate-limit.png"))
        time.sleep(3)
        later = page.get_by_text(re.compile(r"rate limited \(429\): retry 1 of \d+ in \d+ s"))
        second = int(re.search(r"in (\d+) s", later.inner_text()).group(1))  # type: ignore[union-attr]
        assert second < first  # it counts down
        page.get_by_text("Answered after the wait.").wait_for(timeout=30_000)


def test_a_second_start_on_the_same_display_refuses_and_changes_nothing(
    stack: Stack, tmp_path: Path, api: FakeAnthropicAPI
) -> None:
    before = wait_all_running(stack)
    token = stack.token
    done = subprocess.run(
        ["bash", str(IMAGE / "entrypoint.sh")],
        env={**stack.env, "ACCESS_TOKEN": "a-new-token-that-must-not-win"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    said = done.stderr
    assert f"display :{stack.display}" in said and f"port {stack.http_port}" in said
    assert f"already runs there: http://localhost:{stack.http_port}/" in said
    assert f"state folder {stack.state_dir}" in said
    assert token not in said and "Open http" not in done.stdout
    # The first stack serves as before: same processes, same token.
    assert wait_all_running(stack) == before
    assert stack.token == token
    wait_http(f"{stack.door_url}healthz")
    request = urllib.request.Request(
        f"{stack.door_url}status", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        status = json.load(r)
    assert (status["chat"], status["desktop"], status["failed"]) == (True, True, [])
    assert set(status["started"]) == set(PARTS)

    # Other display and ports: a second stack beside the first.
    used = {stack.http_port, stack.novnc_port, stack.vnc_port}  # the chat app: a socket
    with start(tmp_path, api, "beside") as second:
        assert second.display != stack.display
        assert not {second.http_port, second.novnc_port, second.vnc_port} & used
        wait_all_running(second)
        assert wait_all_running(stack) == before


def test_sigterm_during_a_run_makes_no_api_call_after_it(
    tmp_path: Path, api: FakeAnthropicAPI
) -> None:
    stack = stack_env(tmp_path, extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY})
    out = tmp_path / "out.log"
    with open(out, "w") as log:
        proc = subprocess.Popen(
            ["bash", str(IMAGE / "entrypoint.sh")],
            env=stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while "Open http" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        with launch_chromium() as browser:
            page = browser.new_page()
            page.goto(stack.app_url)
            page.get_by_role("button", name="New session").click()
            send(page, SLOW_TASK)
            page.get_by_text("Step 1 · bash sleep 120").wait_for(timeout=60_000)
            calls = len(api.requests)
            proc.send_signal(signal.SIGTERM)  # what docker stop does
            stopping = time.monotonic()
            proc.wait(15)
            took = time.monotonic() - stopping
        time.sleep(3)  # a late call would have come by now
        assert len(api.requests) == calls, [r.body["messages"][-1] for r in api.requests[calls:]]
        assert took < 10, took
        assert proc.returncode == 0
        for port in (stack.http_port, stack.streamlit_port, stack.novnc_port, stack.vnc_port):
            assert port_free(port), port
        marker = f"@{stack.state_dir}".encode()
        left = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker in environ.read_bytes():
                    left.append(environ.parent.name)
            except OSError:
                pass
        assert not left, f"processes left behind: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["bash", str(IMAGE / "stop_webapp.sh")], env=stack.env, check=False)
        subprocess.run(["bash", str(IMAGE / "stop_desktop.sh")], env=stack.env, check=False)
