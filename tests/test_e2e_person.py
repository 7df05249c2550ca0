"""The person in the loop, end to end in headless Chromium on the real stack (entrypoint.sh)
with the app pointed at the fake Messages API: streamed text appears while the reply is still
coming, and a dollar cap stops a run.

Each test sends its own task; the fake's script answers by what the task says.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.browser import launch_chromium
from tests.support.procs import kill_tree
from tests.support.ui import IMAGE, Stack, free_ports, run_script, stack_env, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

STORY_TASK = "Tell me a story"
STORY = (
    "Once upon a time a small robot learned to use a desktop. "
    "It clicked, it typed, it scrolled through pages of the web. "
    "At the end of the day it wrote down everything it had seen, and the story ends here."
)
BUDGET_TASK = "Keep checking the disk"


def said(body: dict[str, Any]) -> str:
    """Every text the user wrote in the request (the task is in the first message)."""
    first = body["messages"][0]["content"]
    return " ".join(b.get("text", "") for b in first if isinstance(b, dict))


def answered(body: dict[str, Any]) -> bool:
    last = body["messages"][-1]["content"]
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def scripted(body: dict[str, Any]) -> Reply:
    task = said(body)
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
            for script in ("stop_webapp.sh", "stop_desktop.sh"):
                run_script(s, script, timeout=60)
            log.close()
            logs = Path(artifacts_dir) / "e2e-logs"
            logs.mkdir(exist_ok=True)
            (logs / "person-stack.log").write_text(
                (tmp / "entrypoint.log").read_text(errors="replace") + "\n" + s.logs()
            )


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
