"""End to end, in headless Chromium: the real stack started by image/entrypoint.sh (desktop,
VNC, noVNC, the chat app, the combined page) with the app pointed at the fake Messages API.

Ports come from the UI range (18100-18199) and the display from :80-:89, so the test never
touches a stack someone is using. Screenshots of the pages go to the artifacts folder.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.browser import launch_chromium
from tests.support.procs import kill_tree
from tests.support.ui import IMAGE, Stack, free_ports, run_script, stack_env, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

TASK = "Take a screenshot of the desktop"
FINAL = "I took a screenshot of the desktop: step complete."
SLOW_TASK = "Wait for two minutes"


def scripted(body: dict[str, Any]) -> Reply:
    """Claude's part: ask for a screenshot, then answer once the screenshot came back."""
    last = body["messages"][-1]["content"]
    answered = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    said = " ".join(b.get("text", "") for b in last if isinstance(b, dict))
    if not answered and SLOW_TASK in said:
        return message(tool_use("bash", {"command": "sleep 120"}))
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
        s = stack_env(
            tmp,
            extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-ant-e2e-0123456789"},
        )
        assert api_port not in (s.http_port, s.streamlit_port, s.novnc_port, s.vnc_port)
        log = open(tmp / "entrypoint.log", "w")
        proc = subprocess.Popen(
            ["bash", str(IMAGE / "entrypoint.sh")],
            env=s.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_http(s.page_url, timeout=120)
            wait_http(f"{s.app_url}_stcore/health", timeout=120)
            s.api = api  # type: ignore[attr-defined]
            yield s
        finally:
            kill_tree(proc, grace=60)
            # Whatever the entrypoint left behind (it should be nothing).
            for script in ("stop_webapp.sh", "stop_desktop.sh"):
                run_script(s, script, timeout=60)
            log.close()
            logs = Path(artifacts_dir) / "e2e-logs"
            logs.mkdir(exist_ok=True)
            (logs / "stack.log").write_text(
                (tmp / "entrypoint.log").read_text(errors="replace") + "\n" + s.logs()
            )


def vnc_frame(page: Any, stack: Stack) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for frame in page.frames:
            if f":{stack.novnc_port}/vnc.html" in frame.url:
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
        page.goto(stack.page_url)

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
            src if src.startswith("http") else stack.app_url + src.lstrip("/")
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

        # Reload: the conversation is still there (read from disk).
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
        app_page.goto(stack.app_url)
        app_page.get_by_text(FINAL).wait_for(timeout=60_000)
        with app_page.expect_download(timeout=60_000) as download:
            app_page.get_by_text("Download HTML replay").click()
        replay = tmp_path / "replay.html"
        download.value.save_as(replay)
        app_page.screenshot(path=str(shots / "e2e-chat-app.png"), full_page=True)
        app_page.get_by_role("tab", name="HTTP Exchange Logs").click()
        app_page.get_by_text(re.compile(r"#2 POST .*v1/messages")).click()
        app_page.get_by_text("[REDACTED]").first.wait_for(timeout=10_000)
        assert "sk-ant-e2e-0123456789" not in app_page.inner_text("body")
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
