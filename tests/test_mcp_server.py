"""The desktop as an MCP server, driven by the official MCP client (the ``mcp`` package) over
both transports: streamable HTTP through the door of the real stack, and stdio
(``python -m computer_use_demo mcp``). The tools act on the real desktop; run_task runs the
agent against the fake Messages API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult, ImageContent, TextContent
from PIL import Image

from computer_use_demo.agent import history as h
from computer_use_demo.sessions.trajectory import Trajectory
from tests.support.taskapi import KEY, SHOT, SHOT_FINAL, SLOW, api_stack, client, idle
from tests.support.ui import Stack, pointer

pytestmark = [pytest.mark.desktop]

REPO = Path(__file__).resolve().parent.parent
DESKTOP_TOOLS = {
    "screenshot",
    "click",
    "double_click",
    "type",
    "key",
    "scroll",
    "drag",
    "move",
    "zoom",
    "cursor_position",
    "wait",
    "bash",
    "view_file",
    "create_file",
    "edit_file",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with api_stack(tmp_path_factory.mktemp("mcp")) as s:
        yield s


@contextlib.asynccontextmanager
async def over_http(stack: Stack, **session: Any) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(f"{stack.door_url}mcp", http_client=http) as (read, write),
        ClientSession(read, write, **session) as mcp,
    ):
        await mcp.initialize()
        yield mcp


def stdio_env(stack: Stack, home: Path | None = None) -> dict[str, str]:
    state = stack.state_dir
    env = {
        k: stack.env[k]
        for k in (
            "PATH",
            "LANG",
            "WIDTH",
            "HEIGHT",
            "DISPLAY_NUM",
            "BIND_ADDR",
            "ANTHROPIC_BASE_URL",
        )
        if k in stack.env
    }
    env.update(
        HOME=str(home or stack.home),
        DISPLAY=f":{stack.display}",
        XAUTHORITY=str(state / "Xauthority"),
        STATE_DIR=str(state),
        # The agent's state, shared with the chat and the door: the one-agent lock, the pause.
        AGENT_LOCK_DIR=str(state / "webapp"),
        CONTROL_FILE=str(state / "webapp" / "person-in-control"),
        ANTHROPIC_API_KEY=KEY,
    )
    return env


@contextlib.asynccontextmanager
async def over_stdio(
    stack: Stack, home: Path | None = None, **session: Any
) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "computer_use_demo", "mcp"],
        env=stdio_env(stack, home),
        cwd=str(REPO),
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, **session) as mcp,
    ):
        await mcp.initialize()
        yield mcp


def texts(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def image_of(result: Any) -> Image.Image:
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert images, result
    import base64
    import io

    return Image.open(io.BytesIO(base64.b64decode(images[0].data)))


async def check_tools_and_screenshot(mcp: ClientSession) -> None:
    tools = {t.name: t for t in (await mcp.list_tools()).tools}
    assert DESKTOP_TOOLS | {"run_task"} <= set(tools), sorted(tools)
    assert "screenshot pixels" in json.dumps(tools["click"].input_schema)
    assert "instruction" in tools["run_task"].input_schema["properties"]
    shot = await mcp.call_tool("screenshot", {})
    assert not shot.is_error, texts(shot)
    image = image_of(shot)
    assert image.size == (1024, 768) and image.format == "PNG"


async def test_http_lists_the_tools_and_takes_a_screenshot(stack: Stack) -> None:
    async with over_http(stack) as mcp:
        await check_tools_and_screenshot(mcp)


async def test_http_clicks_and_types_on_the_real_desktop(stack: Stack, tmp_path: Path) -> None:
    typed = tmp_path / "typed.txt"
    async with over_http(stack) as mcp:
        started = await mcp.call_tool(
            "bash",
            {"command": "setsid xterm -geometry 70x12+40+40 >/dev/null 2>&1 & sleep 2; echo up"},
        )
        assert "up" in texts(started), texts(started)
        before = image_of(await mcp.call_tool("screenshot", {}))
        clicked = await mcp.call_tool("click", {"x": 200, "y": 100})
        assert not clicked.is_error, texts(clicked)
        assert pointer(stack) == (200, 100)
        where = await mcp.call_tool("cursor_position", {})
        assert "200" in texts(where) and "100" in texts(where)
        await mcp.call_tool("type", {"text": f"echo typed-over-mcp > {typed}"})
        await mcp.call_tool("key", {"keys": "Return"})
        deadline = time.monotonic() + 15
        while not typed.exists():
            assert time.monotonic() < deadline, "the typing never reached the terminal"
            await asyncio.sleep(0.1)
        assert typed.read_text().strip() == "typed-over-mcp"
        after = image_of(await mcp.call_tool("screenshot", {}))
        assert before.tobytes() != after.tobytes()
        moved = await mcp.call_tool("move", {"x": 600, "y": 500})
        assert not moved.is_error and pointer(stack) == (600, 500)
        await mcp.call_tool("bash", {"command": "pkill -f 'xterm -geometry 70x12' || true"})
        bad = await mcp.call_tool("click", {"x": 5000, "y": 5000})
        assert bad.is_error and "5000" in texts(bad)


async def test_http_bash_runs_in_one_persistent_shell(stack: Stack, tmp_path: Path) -> None:
    async with over_http(stack) as mcp:
        r = await mcp.call_tool("bash", {"command": "echo $((6 * 7))"})
        assert not r.is_error and texts(r).strip() == "42"
        await mcp.call_tool("bash", {"command": f"cd {tmp_path}"})
        r = await mcp.call_tool("bash", {"command": "pwd"})
        assert texts(r).strip() == str(tmp_path)
        path = str(tmp_path / "notes.txt")
        r = await mcp.call_tool("create_file", {"path": path, "file_text": "one\ntwo\n"})
        assert not r.is_error, texts(r)
        r = await mcp.call_tool("edit_file", {"path": path, "old_str": "two", "new_str": "three"})
        assert not r.is_error, texts(r)
        r = await mcp.call_tool("view_file", {"path": path})
        assert "three" in texts(r) and "two" not in texts(r)
        r = await mcp.call_tool("edit_file", {"path": path, "old_str": "nope", "new_str": "x"})
        assert r.is_error


async def test_http_run_task_reaches_its_final_answer(stack: Stack) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async with over_http(stack) as mcp:
        result = await mcp.call_tool(
            "run_task", {"instruction": SHOT, "max_steps": 5}, progress_callback=on_progress
        )
    assert not result.is_error, texts(result)
    summary = result.structured_content
    assert summary["answer"] == SHOT_FINAL and summary["reason"] == "end_turn"
    assert summary["watch_url"].endswith(f"/chat/?session={summary['session_id']}")
    assert SHOT_FINAL in texts(result)
    assert any("step 1" in (m or "") for _, m in progress), progress
    assert any("computer" in (m or "") for _, m in progress), progress
    with client(stack) as http:  # the same session, as the task API and the chat see it
        state = http.get(f"/api/sessions/{summary['session_id']}").json()
        assert state["last_run"]["answer"] == SHOT_FINAL and not state["running"]


async def test_http_cancelled_run_task_stops_the_run(stack: Stack) -> None:
    with client(stack) as http:
        before = {s["id"] for s in http.get("/api/sessions").json()}
        async with over_http(stack) as mcp:
            call = asyncio.ensure_future(mcp.call_tool("run_task", {"instruction": SLOW}))
            deadline = time.monotonic() + 30
            while True:
                new = [
                    s
                    for s in http.get("/api/sessions").json()
                    if s["id"] not in before and s["running"] and s["steps"] >= 1
                ]
                if new:
                    break
                assert time.monotonic() < deadline and not call.done()
                await asyncio.sleep(0.2)
            session_id = new[0]["id"]
            assert new[0]["running_in"].startswith("MCP client")
            await asyncio.sleep(0.5)  # the bash call is under way
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            state = await asyncio.to_thread(idle, http, session_id, 30)
    assert state["last_run"]["reason"] == "stopped"
    history = Trajectory.open(stack.home / ".anthropic" / "sessions" / session_id).messages()
    assert history == h.heal(history)
    assert any(b.get("type") == "tool_result" for m in history for b in m["content"])


async def test_stdio_tools_and_run_task(stack: Stack) -> None:
    async with over_stdio(stack) as mcp:
        await check_tools_and_screenshot(mcp)
        r = await mcp.call_tool("bash", {"command": "echo stdio-$((2 + 3))"})
        assert texts(r).strip() == "stdio-5"
        result = await mcp.call_tool("run_task", {"instruction": SHOT})
        assert not result.is_error, texts(result)
        assert result.structured_content["answer"] == SHOT_FINAL


async def test_an_ask_approval_uses_elicitation_or_is_refused(stack: Stack, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".anthropic").mkdir(parents=True)
    (home / ".anthropic" / "settings.json").write_text(json.dumps({"approve_bash": "ask"}))
    asked: list[str] = []

    def answering(action: str, approve: bool) -> Any:
        async def elicit(context: Any, params: Any) -> ElicitResult:
            asked.append(params.message)
            return ElicitResult(
                action=action, content={"approve": approve} if action == "accept" else None
            )

        return elicit

    async with over_stdio(stack, home, elicitation_callback=answering("accept", True)) as mcp:
        r = await mcp.call_tool("bash", {"command": "echo asked-and-approved"})
        assert not r.is_error and "asked-and-approved" in texts(r)
    assert asked and "echo asked-and-approved" in asked[0]
    async with over_stdio(stack, home, elicitation_callback=answering("decline", False)) as mcp:
        r = await mcp.call_tool("bash", {"command": "echo never"})
        assert r.is_error and "denied" in texts(r)
    async with over_stdio(stack, home) as mcp:  # no elicitation: refused, and why
        r = await mcp.call_tool("bash", {"command": "echo never"})
        assert r.is_error and "elicitation" in texts(r), texts(r)
        shot = await mcp.call_tool("screenshot", {})  # not a class that asks
        assert not shot.is_error


async def test_take_control_refuses_desktop_actions(stack: Stack) -> None:
    with client(stack) as http:
        http.post("/api/control", json={"person": True})
        try:
            async with over_http(stack) as mcp:
                r = await mcp.call_tool("click", {"x": 10, "y": 10})
                assert r.is_error and "taken control" in texts(r)
        finally:
            http.post("/api/control", json={"person": False})


def test_unauthenticated_mcp_is_refused(stack: Stack) -> None:
    with httpx.Client(trust_env=False) as c:
        r = c.post(f"{stack.door_url}mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert r.status_code == 401
        r = c.post(
            f"{stack.door_url}mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "Authorization": "Bearer nope",
                "Accept": "application/json, text/event-stream",
            },
        )
        assert r.status_code == 401
