"""The real stack (desktop, chat app, the door with the task API and the MCP server) with the
fake Messages API behind it, for the task API's and the MCP server's tests; and a small
Server-Sent Events reader over httpx."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.ui import Stack, free_ports, running_stack, stack_env

KEY = "sk-ant-taskapi-0123456789"
#: Tasks the fake Claude knows (by the first user message), and what it answers.
SHOT = "API: take a screenshot"
SHOT_FINAL = "I looked at the desktop: all done."
SLOW = "API: sleep a long time"
SLOW_FINAL = "The long sleep ended."
APPROVE = "API: run a command that needs approval"
APPROVE_FINAL_OK = "The command ran."
APPROVE_FINAL_DENIED = "You denied the command."
STREAM = "API: write a long answer"
STREAM_FINAL = "word " * 60


def first_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if isinstance(b, dict))


def last_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = body["messages"][-1]["content"]
    if not isinstance(last, list):
        return []
    return [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]


def scripted(body: dict[str, Any]) -> Reply:
    """Claude's part in the tasks above."""
    task = first_text(body)
    results = last_results(body)
    if SLOW in task:
        if not results:
            return message(text("Sleeping."), tool_use("bash", {"command": "sleep 60"}))
        return message(text(SLOW_FINAL))
    if APPROVE in task:
        if not results:
            return message(tool_use("bash", {"command": "echo approved-command-ran"}))
        return message(
            text(APPROVE_FINAL_DENIED if results[0].get("is_error") else APPROVE_FINAL_OK)
        )
    if STREAM in task:
        return message(text(STREAM_FINAL), chunk_delay=0.01)
    if not results:
        return message(text("Let me look."), tool_use("computer", {"action": "screenshot"}))
    return message(text(SHOT_FINAL))


@contextlib.contextmanager
def api_stack(tmp: Path, script: Callable[[dict[str, Any]], Reply] = scripted) -> Iterator[Stack]:
    """The stack started by image/ scripts, the chat and the door pointed at the fake API."""
    (api_port,) = free_ports(1)
    with FakeAnthropicAPI(port=api_port, default=script) as api:
        stack = stack_env(tmp, extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY})
        with running_stack(stack) as s:
            s.api = api  # type: ignore[attr-defined]
            yield s


def client(stack: Stack, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
    """A client of the door with the token as a bearer header (none: token "")."""
    token = stack.token if token is None else token
    return httpx.Client(
        base_url=stack.door_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=timeout,
        trust_env=False,
    )


@dataclass
class SSE:
    id: str
    event: str
    data: dict[str, Any]


def read_sse(
    http: httpx.Client,
    path: str,
    *,
    stop: Callable[[SSE], bool] = lambda e: False,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> list[SSE]:
    """The events of an SSE stream until ``stop`` says so (it is then closed) or it ends."""
    got: list[SSE] = []
    deadline = time.monotonic() + timeout
    with http.stream("GET", path, headers=headers or {}, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"no end within {timeout}s: {got[-3:]}"
            if line == "":
                if "data" in fields:
                    event = SSE(
                        fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"])
                    )
                    got.append(event)
                    if stop(event):
                        return got
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return got


def wait_state(
    http: httpx.Client, session_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = http.get(f"/api/sessions/{session_id}").json()
        if done(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def start(http: httpx.Client, task: str, **settings: Any) -> str:
    """A new session with ``task`` sent in it; its id."""
    created = http.post("/api/sessions", json={})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    sent = http.post(
        f"/api/sessions/{session_id}/messages", json={"text": task, "settings": settings}
    )
    assert sent.status_code == 202, sent.text
    return session_id


def idle(http: httpx.Client, session_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_state(http, session_id, lambda s: not s["running"], timeout)
