"""The person in the loop, end to end in headless Chromium on the real stack (entrypoint.sh)
with the app pointed at the fake Messages API: streamed text appears while the reply is still
coming, and a dollar cap stops a run.

Each test sends its own task; the fake's script answers by what the task says.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.pause import HANDED_BACK
from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.browser import launch_chromium
from tests.support.ui import Stack, entrypoint, free_ports, pointer, stack_env

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

STORY_TASK = "Tell me a story"
STORY = (
    "Once upon a time a small robot learned to use a desktop. "
    "It clicked, it typed, it scrolled through pages of the web. "
    "At the end of the day it wrote down everything it had seen, and the story ends here."
)
BUDGET_TASK = "Keep checking the disk"
TAKEOVER_TASK = "Do something slow on the desktop"
APPROVAL_TASK = "Click the middle, then run a command"
REFUSAL_SEEN = "You denied the command, so I will not run it."
TAKEOVER_DONE = "Thanks for handing the desktop back; I can see the screen again."


def said(body: dict[str, Any]) -> str:
    """Every text the user wrote in the request (the task is in the first message)."""
    first = body["messages"][0]["content"]
    return " ".join(b.get("text", "") for b in first if isinstance(b, dict))


def answered(body: dict[str, Any]) -> bool:
    last = body["messages"][-1]["content"]
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def last_user_texts(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    return " ".join(b.get("text", "") for b in last if isinstance(b, dict))


def scripted(body: dict[str, Any]) -> Reply:
    task = said(body)
    if APPROVAL_TASK in task:
        results = [b for b in body["messages"][-1]["content"] if b.get("type") == "tool_result"]
        if not results:
            click = {"action": "left_click", "coordinate": [512, 384]}
            return message(tool_use("computer", click))
        if len(body["messages"]) == 3:  # the click's result came back
            return message(tool_use("bash", {"command": "echo approval-e2e"}))
        refused = results[0].get("is_error") and "denied this action" in str(results[0])
        return message(text(REFUSAL_SEEN if refused else "The command ran."))
    if TAKEOVER_TASK in task:
        if not answered(body):
            return message(text("Working on it."), tool_use("bash", {"command": "sleep 5"}))
        if HANDED_BACK in last_user_texts(body):
            return message(text(TAKEOVER_DONE))
        return message(text("The run went on without the person's note."))
    if STORY_TASK in task:  # about 20 pieces, 0.4 s apart: 8 s of streaming
        return message(text(STORY), chunk_delay=0.4)
    if BUDGET_TASK in task:  # never ends on its own: only the budget stops it
        return message(tool_use("bash", {"command": "df -h / | tail -1"}))
    return message(text("I do not know this task."))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("person")
    (api_port,) = free_ports(1)
    with FakeAnthropicAPI(port=api_port, default=scripted) as api:
        s = stack_env(
            tmp,
            extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-ant-e2e-person-0123"},
        )
        with entrypoint(s, tmp, Path(artifacts_dir) / "e2e-logs" / "person-stack.log"):
            s.api = api  # type: ignore[attr-defined]
            yield s


def send(page: Any, task: str) -> None:
    page.get_by_role("button", name="New session").click()
    box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
    box.fill(task)
    box.press("Enter")


def test_streamed_text_appears_before_the_reply_ends(stack: Stack, artifacts_dir: str) -> None:
    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(stack.app_url)
        send(page, STORY_TASK)
        chat = page.locator('[data-testid="stChatMessage"]')
        chat.get_by_text(re.compile("Once upon a time")).first.wait_for(timeout=60_000)
        # The first sentence is on the page while the last one has not been sent yet.
        body = page.inner_text("body")
        assert "the story ends here" not in body
        request = next(r for r in api.requests if STORY_TASK in said(r.body))
        assert request.streamed
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-streaming.png"))
        chat.get_by_text(STORY).wait_for(timeout=60_000)
        # Reloaded, the page shows the saved final block (deltas are not saved).
        page.reload()
        page.locator('[data-testid="stChatMessage"]').get_by_text(STORY).wait_for(timeout=60_000)


def test_a_dollar_cap_stops_a_run(stack: Stack, artifacts_dir: str) -> None:
    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(stack.app_url)
        # 1000 output tokens: a call could cost about $0.02, so a few fit under $0.05.
        tokens = page.get_by_role("spinbutton", name="Max Output Tokens")
        tokens.fill("1000")
        tokens.press("Enter")
        page.wait_for_timeout(500)
        cap = page.get_by_role("spinbutton", name="Run budget ($)")
        cap.fill("0.05")
        cap.press("Enter")
        page.wait_for_timeout(500)
        before = len(api.requests)
        send(page, BUDGET_TASK)
        page.get_by_text(
            re.compile(r"Stopped: the run budget of \$0\.05 would be passed")
        ).wait_for(timeout=120_000)
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-budget.png"), full_page=True)
        page.get_by_text(re.compile(r"run cap \$0\.05")).wait_for(timeout=10_000)
        calls = [r for r in api.requests[before:] if BUDGET_TASK in said(r.body)]
        assert 2 <= len(calls) < 50 and all(r.valid for r in calls)
        page.screenshot(path=str(Path(artifacts_dir) / "e2e-budget.png"), full_page=True)
        time.sleep(1)
        assert len(api.requests) == before + len(calls)  # nothing after the stop
        cap.fill("0")
        cap.press("Enter")
        page.wait_for_timeout(500)
        tokens.fill("16384")
        tokens.press("Enter")
        page.wait_for_timeout(500)


def test_take_over_pauses_and_hand_back_resumes(stack: Stack, artifacts_dir: str) -> None:
    from tests.test_e2e_stack import wait_connected

    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    shots = Path(artifacts_dir)
    with launch_chromium() as browser:
        # The combined page (desktop and its toggle) and the chat app in a tab of its own.
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(stack.page_url)
        chat = browser.new_page(viewport={"width": 1400, "height": 1000})
        chat.goto(stack.app_url)
        send(chat, TAKEOVER_TASK)
        chat.get_by_text("Step 1 · bash sleep 5").wait_for(timeout=60_000)

        # Take control while the tool runs: it finishes, then the agent waits.
        page.click("#control")
        assert page.get_attribute("#control", "aria-pressed") == "true"
        chat.get_by_text("You have control of the desktop").wait_for(timeout=30_000)
        chat.get_by_text(re.compile("paused: the person has the desktop")).wait_for(timeout=30_000)
        calls = [r for r in api.requests if TAKEOVER_TASK in said(r.body)]
        assert len(calls) == 1

        # The person's click lands on the desktop (noVNC is no longer view-only).
        page.wait_for_function("document.getElementById('vnc').src.includes('view_only=0')")
        time.sleep(1)
        frame = wait_connected(page, stack)
        canvas = frame.locator("#noVNC_container canvas")
        area = canvas.bounding_box()
        assert area is not None
        canvas.click(position={"x": area["width"] * 0.25, "y": area["height"] * 0.5})
        deadline = time.monotonic() + 10
        while abs(pointer(stack)[0] - 256) > 12 and time.monotonic() < deadline:
            time.sleep(0.2)
        x, y = pointer(stack)
        assert abs(x - 256) <= 12 and abs(y - 384) <= 12, (x, y)

        # A reload while paused: the run and the pause are still there, on both pages.
        page.reload()
        page.wait_for_function("document.getElementById('control').textContent === 'Hand back'")
        chat.reload()
        chat.get_by_text("You have control of the desktop").wait_for(timeout=60_000)
        chat.get_by_text(re.compile("paused: the person has the desktop")).wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "e2e-taken-over.png"))
        chat.screenshot(path=str(shots / "e2e-taken-over-chat.png"))
        time.sleep(2)
        assert len([r for r in api.requests if TAKEOVER_TASK in said(r.body)]) == 1  # none paused

        # Hand back: the same run goes on, and Claude is told, with a fresh screenshot.
        page.click("#control")
        chat.get_by_text(TAKEOVER_DONE).wait_for(timeout=60_000)
        calls = [r for r in api.requests if TAKEOVER_TASK in said(r.body)]
        assert len(calls) == 2 and all(r.valid for r in calls)
        last = calls[1].body["messages"][-1]["content"]
        assert last[0]["type"] == "tool_result"
        assert any(b.get("text") == HANDED_BACK for b in last)
        image = next(b for b in last if b.get("type") == "image")
        assert len(image["source"]["data"]) > 1000
        assert page.get_attribute("#control", "aria-pressed") == "false"
        page.screenshot(path=str(shots / "e2e-handed-back.png"))


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar's selectbox ``label``."""
    field = page.get_by_label(label)
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(500)


def test_an_ask_shows_the_action_and_deny_reaches_the_model(
    stack: Stack, artifacts_dir: str
) -> None:
    api: FakeAnthropicAPI = stack.api  # type: ignore[attr-defined]
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(stack.app_url)
        choose(page, "Approve bash commands", "ask")
        choose(page, "Approve clicks", "ask")
        try:
            send(page, APPROVAL_TASK)
            # The click: its exact action, and a crop of the screen around the target.
            box = page.locator(".st-key-approval")
            box.get_by_text("computer: left_click coordinate=[512, 384]").wait_for(timeout=60_000)
            box.locator("img").wait_for(timeout=10_000)
            page.screenshot(path=str(Path(artifacts_dir) / "e2e-approval-click.png"))
            calls = [r for r in api.requests if APPROVAL_TASK in said(r.body)]
            assert len(calls) == 1  # waiting for the person
            box.get_by_role("button", name="Approve").click()
            # The command: Deny, and the model reads the refusal.
            box.get_by_text("bash command: echo approval-e2e").wait_for(timeout=60_000)
            page.screenshot(path=str(Path(artifacts_dir) / "e2e-approval-bash.png"))
            box.get_by_role("button", name="Deny").click()
            page.get_by_text(REFUSAL_SEEN).wait_for(timeout=60_000)
            calls = [r for r in api.requests if APPROVAL_TASK in said(r.body)]
            assert len(calls) == 3 and all(r.valid for r in calls)
            clicked = calls[1].body["messages"][-1]["content"][0]
            assert not clicked.get("is_error")
            refused = calls[2].body["messages"][-1]["content"][0]
            assert refused["is_error"] and "denied this action" in str(refused["content"])
            page.get_by_text("Denied: Claude was told it may not").first.wait_for(timeout=10_000)
        finally:
            choose(page, "Approve bash commands", "default (auto)")
            choose(page, "Approve clicks", "default (auto)")
