"""End to end, in headless Chromium: the real stack started by image/entrypoint.sh (desktop,
VNC, noVNC, the chat app, the door with the combined page) with the app pointed at the fake
Messages API. Everything goes through the door with the token the start printed; the tests
also knock without it, with a foreign Host or Origin, and from another network namespace.

Ports come from the UI range (18100-18199) and the display from :80-:89, so the test never
touches a stack someone is using. Screenshots of the pages go to the artifacts folder.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.tools._toolsets._runnable import HALT_TEXT
from PIL import Image

from computer_use_demo.agent.events import AssistantBlock, Done, UserMessage
from computer_use_demo.agent.models import MODELS, TOOLSET_VERSION
from computer_use_demo.app.settings import default_model
from computer_use_demo.sessions.trajectory import Trajectory
from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.fake_api.toolset import member_use
from tests.support.browser import launch_chromium
from tests.support.door import connects, http_status, other_host, ws_knock
from tests.support.ui import Stack, entrypoint, free_ports, pointer, run_script, stack_env

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

TASK = "Take a screenshot of the desktop"
FINAL = "I took a screenshot of the desktop: step complete."
SLOW_TASK = "Wait for two minutes"
ENV_TASK = "Show me your environment"
KEY = "sk-ant-e2e-0123456789"
AWS_SECRET = "wJalrXUtnFEMI-e2e-aws-secret-0123"
TOOLSET_TASK = "Move the pointer around in three steps"
TOOLSET_MODEL = "claude-sonnet-5-5"  # takes only the toolset: the fake refuses it anything else
TOOLSET_DONE = "The click was off the screen, so I stopped there."
HALT = HALT_TEXT["computer"]


def toolset_batch() -> Reply:
    """One turn of three member calls: a move that works, a click off the screen (1024x768),
    and a move that must not run once the click failed."""
    return message(
        text("Three steps."),
        member_use("mouse_move", {"coordinate": [300, 200]}, "toolu_e2e_move"),
        member_use("left_click", {"coordinate": [5000, 5000]}, "toolu_e2e_click"),
        member_use("mouse_move", {"coordinate": [700, 500]}, "toolu_e2e_halted"),
    )


def scripted(body: dict[str, Any]) -> Reply:
    """Claude's part: ask for a screenshot, then answer once the screenshot came back."""
    last = body["messages"][-1]["content"]
    answered = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    said = " ".join(b.get("text", "") for b in last if isinstance(b, dict))
    if TOOLSET_TASK in json.dumps(body["messages"][0]):
        return message(text(TOOLSET_DONE)) if answered else toolset_batch()
    if not answered and SLOW_TASK in said:
        return message(tool_use("bash", {"command": "sleep 120"}))
    if not answered and ENV_TASK in said:
        return message(tool_use("bash", {"command": "env; echo KEY-IS: $ANTHROPIC_API_KEY"}))
    if answered and ENV_TASK in json.dumps(body["messages"][0]):
        return message(text("That was the environment."))
    if not answered:
        return message(
            text("Let me look at the desktop."), tool_use("computer", {"action": "screenshot"})
        )
    return message(text(FINAL))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    (api_port,) = free_ports(1)
    with FakeAnthropicAPI(port=api_port, default=scripted) as api:
        # No ACCESS_TOKEN: the start makes one and prints the URL with it.
        s = stack_env(
            tmp,
            extra={
                "ANTHROPIC_BASE_URL": api.url,
                "ANTHROPIC_API_KEY": KEY,
                "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            },
        )
        del s.env["ACCESS_TOKEN"]
        assert api_port not in (s.http_port, s.streamlit_port, s.novnc_port, s.vnc_port)
        with entrypoint(s, tmp, Path(artifacts_dir) / "e2e-logs" / "stack.log") as out:
            deadline = time.monotonic() + 60
            while "Open http" not in out.read_text():
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.2)
            s.printed = out.read_text()  # type: ignore[attr-defined]
            s.api = api  # type: ignore[attr-defined]
            yield s


def printed_url(stack: Stack) -> str:
    """The URL with the token that the start printed."""
    printed = re.search(r"Open (http://localhost:\d+/\?token=\S+)", stack.printed)  # type: ignore[attr-defined]
    assert printed, stack.printed  # type: ignore[attr-defined]
    return printed.group(1)


def vnc_frame(page: Any, stack: Stack) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame.url.startswith(f"{stack.door_url}novnc/vnc.html"):
                return frame
        time.sleep(0.2)
    raise AssertionError("the noVNC frame never loaded")


def wait_connected(page: Any, stack: Stack) -> Any:
    frame = vnc_frame(page, stack)
    frame.wait_for_function(
        "document.documentElement.classList.contains('noVNC_connected')", timeout=45_000
    )
    canvas = frame.locator("#noVNC_container canvas")
    canvas.wait_for(state="visible", timeout=15_000)
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    return frame


def test_the_whole_stack_in_a_browser(stack: Stack, artifacts_dir: str, tmp_path: Path) -> None:
    shots = Path(artifacts_dir)
    with launch_chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1600, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        # The URL the start printed: the token, then a cookie; the address bar drops it.
        assert printed_url(stack) == f"http://localhost:{stack.http_port}/?token={stack.token}"
        assert len(stack.token) >= 32
        page.goto(stack.page_url)
        page.wait_for_function("!window.location.search.includes('token')")
        assert page.url == stack.door_url
        cookie = next(c for c in context.cookies() if c["name"].startswith("computer-use-demo-"))
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert stack.token not in cookie["value"]

        # Both frames load: the chat app and the live desktop, connected and view-only.
        chat = page.frame_locator("#chat")
        chat.get_by_text("Claude Computer Use Demo").wait_for(timeout=60_000)
        frame = wait_connected(page, stack)
        assert "view_only=1" in frame.url

        # A task: the scripted run takes a real screenshot of the real desktop.
        box = chat.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(TASK)
        box.press("Enter")
        chat.get_by_text(FINAL).wait_for(timeout=90_000)
        image = chat.locator('[data-testid="stChatMessage"] img').first
        image.wait_for(timeout=30_000)
        src = image.get_attribute("src") or ""
        png = page.request.get(
            src if src.startswith("http") else stack.door_url + src.lstrip("/")
        ).body()
        shot = Image.open(io.BytesIO(png))
        assert shot.size == (1024, 768)
        colors = shot.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colors) > 5, "the screenshot is blank: not the real desktop"
        page.screenshot(path=str(shots / "e2e-combined-page.png"))

        # The requests were valid, and the screenshot went back to Claude as an image.
        api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
        assert not api.invalid_requests, api.invalid_requests[0].error
        result = api.valid_requests[-1].body["messages"][-1]["content"][0]
        assert result["type"] == "tool_result" and result["content"][0]["type"] == "image"

        # The key is nowhere in the chat's page: not in its DOM, not in any field's value.
        chat_frame = next(f for f in page.frames if f.url.startswith(f"{stack.door_url}chat/"))
        chat.get_by_text("Claude API key: set, from the environment (ANTHROPIC_API_KEY)").wait_for(
            timeout=10_000
        )
        dom = chat_frame.evaluate(
            "() => document.documentElement.outerHTML + [...document.querySelectorAll("
            "'input, textarea')].map(e => e.value).join('\\n')"
        )
        assert "ANTHROPIC_API_KEY" in dom and KEY not in dom and AWS_SECRET not in dom
        assert chat_frame.locator('input[type="password"]').input_value() == ""

        # Reload: the conversation is still there (read from disk), the cookie lets us in.
        page.reload()
        chat = page.frame_locator("#chat")
        chat.get_by_text(FINAL).wait_for(timeout=60_000)
        chat.locator('[data-testid="stChatMessage"]').get_by_text(TASK).wait_for(timeout=10_000)
        chat.locator('[data-testid="stChatMessage"] img').first.wait_for(timeout=30_000)
        wait_connected(page, stack)
        page.screenshot(path=str(shots / "e2e-after-reload.png"))

        # Take control: the desktop reconnects without view-only.
        page.click("#control")
        page.wait_for_function("document.getElementById('vnc').src.includes('view_only=0')")
        time.sleep(1)
        frame = wait_connected(page, stack)
        assert "view_only=0" in frame.url
        # Hand it back (taking control pauses the agent: the next test's run must go on).
        page.click("#control")
        page.wait_for_function("document.getElementById('vnc').src.includes('view_only=1')")
        assert not (stack.state_dir / "person-in-control").exists()

        # The chat app on its own port, and its HTML replay download.
        app_page = context.new_page()
        app_page.goto(f"{stack.door_url}chat/")
        app_page.get_by_text(FINAL).wait_for(timeout=60_000)
        with app_page.expect_download(timeout=60_000) as download:
            app_page.get_by_text("Download HTML replay").click()
        replay = tmp_path / "replay.html"
        download.value.save_as(replay)
        app_page.screenshot(path=str(shots / "e2e-chat-app.png"), full_page=True)
        app_page.get_by_role("tab", name="HTTP Exchange Logs").click()
        app_page.get_by_text(re.compile(r"#2 POST .*v1/messages")).click()
        app_page.get_by_text("[REDACTED]").first.wait_for(timeout=10_000)
        assert KEY not in app_page.inner_text("body") and KEY not in app_page.content()
        app_page.screenshot(path=str(shots / "e2e-http-log.png"), full_page=True)

        viewer = context.new_page()
        viewer.goto(replay.as_uri())
        body = viewer.inner_text("body")
        for expected in (
            TASK,
            "Step 1",
            "Let me look at the desktop.",
            '"action": "screenshot"',
            FINAL,
        ):
            assert expected in body, expected
        assert body.index(TASK) < body.index("Step 1") < body.index(FINAL)
        img = viewer.locator("img.shot").first
        assert (img.get_attribute("src") or "").startswith("data:image/png;base64,")
        assert viewer.evaluate("document.querySelector('img.shot').naturalWidth") == 1024
        viewer.screenshot(path=str(shots / "e2e-replay.png"), full_page=True)
        context.close()


def test_start_webapp_is_idempotent(stack: Stack) -> None:
    pid_file = stack.state_dir / "webapp" / "streamlit.pid"
    before = pid_file.read_text()
    done = run_script(stack, "start_webapp.sh")
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stderr
    assert pid_file.read_text() == before
    if (stack.state_dir / "desktop").is_dir():  # two users: the desktop still passes through
        assert stat.S_IMODE(stack.state_dir.stat().st_mode) == 0o711


def test_progress_and_stop_in_the_browser(stack: Stack, artifacts_dir: str) -> None:
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(stack.app_url)
        page.get_by_role("button", name="New session").click()
        box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(SLOW_TASK)
        box.press("Enter")
        # The page polls the running agent: the progress line shows the step and the action.
        page.get_by_text("Step 1 · bash sleep 120").wait_for(timeout=60_000)
        stop = page.locator(".st-key-stop_agent button")
        color = stop.evaluate("b => getComputedStyle(b).backgroundColor")
        assert color == "rgb(255, 75, 75)"  # the stop button is highlighted
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-running.png"))
        started = time.monotonic()
        stop.click()
        page.get_by_text("Stopped by the user after 1 step(s).").wait_for(timeout=30_000)
        assert time.monotonic() - started < 20
        assert page.locator(".st-key-stop_agent").count() == 0


def long_session(stack: Stack, exchanges: int) -> Trajectory:
    """A saved session of ``exchanges`` questions and answers, the newest of the stack's."""
    trajectory = Trajectory.create(stack.home / ".anthropic" / "sessions", title="a long one")
    history: list[dict[str, Any]] = []
    for n in range(exchanges):
        question, answer = f"Question {n}: what now?", f"Answer {n}.\n\n" + "A line. " * 40
        trajectory.append(UserMessage(text=question))
        trajectory.append(AssistantBlock(block={"type": "text", "text": answer}))
        history += [
            {"role": "user", "content": [{"type": "text", "text": question}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
        trajectory.append(Done(reason="end_turn", steps=1, messages=list(history)))
    return trajectory


def test_stop_stays_in_view_in_a_long_conversation(stack: Stack, artifacts_dir: str) -> None:
    """After 50 messages the running agent's Stop is inside the viewport of the combined
    page, where the conversation was read down to its end (it used to be 1,600 px above)."""
    trajectory = long_session(stack, 50)
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(stack.page_url)
        chat = page.frame_locator("#chat")
        chat.get_by_text("Question 49: what now?").wait_for(timeout=60_000)
        box = chat.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(SLOW_TASK)
        box.press("Enter")
        chat.get_by_text("Step 1 · bash sleep 120").wait_for(timeout=60_000)
        stop = chat.locator(".st-key-stop_agent button")
        # Read down to the end of the conversation, as a person following it would.
        chat.get_by_text(SLOW_TASK).last.scroll_into_view_if_needed()
        page.mouse.move(300, 500)
        page.mouse.wheel(0, 100_000)
        time.sleep(1.5)  # the progress bar redraws every second: still in view after it
        where = None
        for _ in range(20):  # None while a redraw replaces it
            where = stop.bounding_box()
            if where is not None:
                break
            time.sleep(0.1)
        assert where is not None
        assert 0 <= where["y"] and where["y"] + where["height"] <= 900, where
        assert 0 <= where["x"] and where["x"] + where["width"] <= 1400, where
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-long-stop.png"))
        stop.click()
        chat.get_by_text("Stopped by the user after 1 step(s).").wait_for(timeout=30_000)
    assert Trajectory.open(trajectory.path).events()[-1].reason == "stopped"  # type: ignore[union-attr]


# --- the door ---------------------------------------------------------------------------------


def test_no_token_no_entry(stack: Stack) -> None:
    """Without the token: a 401 page that says how to get in, on the page and on both
    websockets; with it, all of them open (the desktop's websocket relays the VNC banner)."""
    port = stack.http_port
    for path in (
        "/",
        "/index.html",
        "/control",
        "/chat/",
        "/chat/_stcore/health",
        "/novnc/vnc.html",
    ):
        status, body, headers = http_status(port, path)
        assert status == 401, path
        assert (
            "/?token=" in body and "ACCESS_TOKEN" in body and headers["cache-control"] == "no-store"
        )
    assert http_status(port, "/?token=wrong-token")[0] == 401
    assert http_status(port, "/", {"Cookie": f"computer-use-demo-{port}={stack.token}"})[0] == 401

    origin = f"http://127.0.0.1:{port}"
    chat, novnc = (
        f"ws://127.0.0.1:{port}/chat/_stcore/stream",
        f"ws://127.0.0.1:{port}/novnc/websockify",
    )
    assert ws_knock(chat, origin=origin, subprotocols=["streamlit"]).status == 401
    assert ws_knock(novnc, origin=origin, subprotocols=["binary"]).status == 401

    # With the token (as the browser has it: the cookie that ?token= set).
    status, _, headers = http_status(port, f"/?token={stack.token}")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=strict" in headers["set-cookie"]
    for path in ("/", "/chat/", "/chat/_stcore/health", "/novnc/vnc.html"):
        assert http_status(port, path, {"Cookie": cookie})[0] == 200, path
    assert (
        ws_knock(
            chat, origin=origin, headers=[("Cookie", cookie)], subprotocols=["streamlit"]
        ).status
        == 101
    )
    opened = ws_knock(
        novnc, origin=origin, headers=[("Cookie", cookie)], subprotocols=["binary"], wait_first=10
    )
    assert opened.status == 101 and isinstance(opened.first, bytes)
    assert opened.first.startswith(b"RFB 003.")
    # A script may use the header instead of the cookie.
    assert (
        http_status(port, "/chat/_stcore/health", {"Authorization": f"token {stack.token}"})[0]
        == 200
    )


def test_foreign_host_or_origin_is_refused(stack: Stack) -> None:
    """DNS rebinding (a foreign Host) and cross-site pages (a foreign Origin) get nowhere,
    even with the token; nor does a page that talks to websockify's port directly."""
    port = stack.http_port
    cookie = (
        f"computer-use-demo-{port}="
        + http_status(port, f"/?token={stack.token}")[2]["set-cookie"]
        .split(";", 1)[0]
        .split("=", 1)[1]
    )
    evil = f"evil.example:{port}"
    status, body, _ = http_status(port, "/", {"Host": evil, "Cookie": cookie})
    assert status == 403 and "ALLOWED_HOSTS" in body
    assert http_status(port, f"/?token={stack.token}", {"Host": evil})[0] == 403
    assert http_status(port, "/", {"Host": f"localhost:{port}", "Cookie": cookie})[0] == 200
    rebinding = ws_knock(
        f"ws://{evil}/chat/_stcore/stream",
        origin=f"http://{evil}",
        headers=[("Cookie", cookie)],
        subprotocols=["streamlit"],
        via=("127.0.0.1", port),
    )
    assert rebinding.status == 403
    for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null"):
        for path, proto in (("/chat/_stcore/stream", "streamlit"), ("/novnc/websockify", "binary")):
            knock = ws_knock(
                f"ws://127.0.0.1:{port}{path}",
                origin=origin,
                headers=[("Cookie", cookie)],
                subprotocols=[proto],
            )
            assert knock.status == 403, (origin, path)
    # websockify itself (inside only) accepts no browser's Origin, only the door's.
    direct = f"ws://127.0.0.1:{stack.novnc_port}/websockify"
    assert (
        ws_knock(
            direct, origin=f"http://127.0.0.1:{stack.novnc_port}", subprotocols=["binary"]
        ).status
        == 403
    )


def test_inside_ports_refuse_other_hosts(stack: Stack) -> None:
    """From another network namespace (another host, as far as the network goes), the ports
    behind the door refuse; a listener on all addresses answers, so the path itself works."""
    probe = socket.socket()
    probe.bind(("0.0.0.0", 0))
    probe.listen()
    try:
        try:
            with other_host() as other:
                assert other.connects(probe.getsockname()[1]), "the namespace cannot reach us"
                for port in (stack.novnc_port, stack.vnc_port):
                    assert not other.connects(port), f"port {port} answers another host"
                assert not other.connects(stack.http_port)  # BIND_ADDR=127.0.0.1 (scripts/start)
        except RuntimeError as e:
            pytest.skip(str(e))
    finally:
        probe.close()
    for port in (stack.novnc_port, stack.vnc_port, stack.http_port):
        assert connects("127.0.0.1", port), port  # they do listen, on loopback
    # The chat app has no port at all: a unix socket in the agent's private folder.
    chat = stack.state_dir / "webapp" / "chat.sock"
    assert stat.S_ISSOCK(chat.stat().st_mode) and stat.S_IMODE(chat.stat().st_mode) == 0o600
    assert stat.S_IMODE(chat.parent.stat().st_mode) == 0o700


def test_the_agents_shell_sees_no_secret(stack: Stack) -> None:
    """`env` in the agent's bash: no key, no AWS secret; what it printed reaches neither the
    model nor the saved session with a secret in it; the session files are private."""
    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    with launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(stack.page_url)  # the cookie; then the chat on its own, through the door
        page.goto(f"{stack.door_url}chat/")
        chat = page
        chat.get_by_role("button", name="New session").click()
        box = chat.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(ENV_TASK)
        box.press("Enter")
        chat.get_by_text("That was the environment.").wait_for(timeout=90_000)
        context.close()
    request = next(
        r for r in reversed(api.valid_requests) if ENV_TASK in json.dumps(r.body["messages"][0])
    )
    output = request.body["messages"][-1]["content"][0]["content"][0]["text"]
    result = json.dumps(request.body["messages"][-1]["content"])
    assert "PATH=" in output and output.rstrip().endswith("KEY-IS:")  # the variable is unset
    assert KEY not in result and AWS_SECRET not in result
    assert "ANTHROPIC_API_KEY" not in result.replace("$ANTHROPIC_API_KEY", "")
    sessions = stack.home / ".anthropic" / "sessions"
    folders = [p for p in sessions.iterdir() if p.is_dir()]
    assert folders
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for file in folder.rglob("*"):
            if file.is_file():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
                assert KEY.encode() not in file.read_bytes(), file
    assert stat.S_IMODE(os.stat(stack.state_dir / "webapp" / "access-token").st_mode) == 0o600


# --- the computer toolset ---------------------------------------------------------------------


def pick_model(page: Any, model: str) -> None:
    """Type ``model`` into the sidebar's Model field, as a user would."""
    field = page.get_by_label("Model", exact=True)
    field.fill(model)
    field.press("Enter")
    page.wait_for_function(
        f"[...document.querySelectorAll('input')].some(i => i.value === {model!r})"
    )
    page.wait_for_timeout(500)


def test_a_toolset_batch_in_the_browser(stack: Stack, artifacts_dir: str) -> None:
    """The computer toolset with a model that uses it, chosen in the sidebar: a batch of three
    member calls whose second fails shows ok, error, halt text, each in its own result, and
    the follow-up request answers the batch as the API wants (the fake accepts every request)."""
    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    assert MODELS[TOOLSET_MODEL].tool_version == TOOLSET_VERSION
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(printed_url(stack))  # the token, then a cookie: the chat through the door
        page.goto(f"http://localhost:{stack.http_port}/chat/")
        pick_model(page, TOOLSET_MODEL)
        try:
            radio = page.locator('[data-testid="stRadio"]').filter(has_text="Tool Versions")
            radio.get_by_text(TOOLSET_VERSION, exact=True).click()
            page.wait_for_timeout(500)
            assert page.get_by_role("radio", name=TOOLSET_VERSION).is_checked()
            page.get_by_role("button", name="New session").click()
            box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
            before = len(api.requests)
            box.fill(TOOLSET_TASK)
            box.press("Enter")
            page.get_by_text(TOOLSET_DONE).wait_for(timeout=90_000)

            # The chat: the three calls, then their results in order: ok, error, halt.
            chat = page.locator('[data-testid="stChatMessage"]')
            for call in ("mouse_move", "left_click"):
                chat.get_by_text(f"Tool Use: computer.{call}").first.wait_for(timeout=10_000)
            moved = chat.filter(has_text="Moved the mouse.")
            refused = chat.filter(has_text="Coordinates 5000, 5000 are out of bounds")
            halted = chat.filter(has_text=HALT)
            assert (moved.count(), refused.count(), halted.count()) == (1, 1, 1)
            assert moved.locator('[data-testid="stAlert"]').count() == 0
            assert refused.locator('[data-testid="stAlert"]').count() == 1
            assert halted.locator('[data-testid="stAlert"]').inner_text().strip() == HALT
            texts = chat.all_inner_texts()
            where = [
                next(i for i, t in enumerate(texts) if needle in t)
                for needle in ("Moved the mouse.", "out of bounds", HALT, TOOLSET_DONE)
            ]
            assert where == sorted(where), texts
            page.screenshot(path=str(Path(artifacts_dir) / "e2e-toolset.png"), full_page=True)
        finally:
            pick_model(page, default_model("anthropic"))  # the module's other runs use it

    # The first move ran on the desktop; the halted one did not.
    assert pointer(stack) == (300, 200)
    # At the fake: every request valid; the follow-up answers the batch ok, error, halt.
    run = api.requests[before:]
    assert run and all(r.valid for r in run), [r.error for r in run]
    calls = [r for r in run if TOOLSET_TASK in json.dumps(r.body["messages"][0])]
    assert len(calls) == 2
    first, follow_up = calls
    assert first.body["model"] == TOOLSET_MODEL
    assert {"type": TOOLSET_VERSION} in first.body["tools"]
    one, two, three = follow_up.body["messages"][-1]["content"]
    assert [r["tool_use_id"] for r in (one, two, three)] == [
        "toolu_e2e_move",
        "toolu_e2e_click",
        "toolu_e2e_halted",
    ]
    assert [r["toolset_name"] for r in (one, two, three)] == ["computer"] * 3
    assert not one.get("is_error") and two["is_error"] and three["is_error"]
    assert "out of bounds" in json.dumps(two["content"])
    assert three["content"] == HALT
