"""The task API's event latency and the MCP server's screenshot round trip, on a real Xvfb,
with the door (task API and MCP mounted) served by uvicorn and the fake Messages API.

Run: ``python -m tests.benchmarks.bench_api``. Prints min/median/p95 in milliseconds.
Goals: an event reaches each of 20 SSE clients following one session within 50 ms (p95) of
the loop reporting it; an MCP screenshot (streamable HTTP through the door) takes at most
twice an in-process screenshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.benchmarks.stats import p95
from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.net import port_free
from tests.support.xvfb import xvfb

DISPLAYS = range(60, 70)
CLIENTS = 20
STEPS = 15
TASK = "benchmark: many small steps"


def report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    print(
        f"{name:<52} min {ms[0]:7.1f}  median {statistics.median(ms):7.1f}  p95 {p95(ms):7.1f} ms"
        f"  (n={len(ms)})"
    )


def script(body: dict[str, Any]) -> Reply:
    done = sum(
        1
        for m in body["messages"]
        if m["role"] == "user"
        and isinstance(m["content"], list)
        and any(b.get("type") == "tool_result" for b in m["content"])
    )
    if done < STEPS:
        return message(text(f"Step {done + 1}."), tool_use("bash", {"command": "true"}))
    return message(text("All steps done."))


def free_port() -> int:
    return next(p for p in range(18150, 18200) if port_free(p))


@contextlib.contextmanager
def door(token: str) -> Iterator[str]:
    """The door with the task API and the MCP server, in a thread of this process."""
    from computer_use_demo.api.mount import door_apps
    from computer_use_demo.door.server import Door, DoorConfig

    port = free_port()
    config = DoorConfig(token=token, port=port, streamlit_port=1, novnc_port=1)
    mounts, lifespan = door_apps(config)
    server = uvicorn.Server(
        uvicorn.Config(
            Door(config, mounts, lifespan), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


async def follow(
    url: str, token: str, got: list[tuple[float, str, bool]], ready: asyncio.Event
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(timeout=120, trust_env=False) as http,
        http.stream("GET", f"{url}?until_done=true", headers=headers) as response,
    ):
        ready.set()
        event_id = ""
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                got.append((time.perf_counter(), line[7:], "." in event_id))
                if line[7:] == "done":
                    return


async def event_latency(base: str, token: str) -> None:
    from computer_use_demo.agent.events import TRANSIENT
    from computer_use_demo.api import feed, service
    from computer_use_demo.api.schemas import RunSettings
    from computer_use_demo.app import runner

    trajectory = service.create_session(TASK)
    url = f"{base}/api/sessions/{trajectory.id}/events"
    clients: list[list[tuple[float, str, bool]]] = [[] for _ in range(CLIENTS)]
    readies = [asyncio.Event() for _ in range(CLIENTS)]
    tasks = [
        asyncio.ensure_future(follow(url, token, got, ready))
        for got, ready in zip(clients, readies, strict=True)
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    stamped: list[tuple[float, str, bool]] = []
    save = trajectory.append

    def append(event: Any) -> Any:  # the loop reported an event: the runner saves it first
        stamped.append((time.perf_counter(), event.kind, False))
        return save(event)

    trajectory.append = append  # type: ignore[method-assign]

    def stamp(event: Any) -> None:  # deltas are not saved: the runner's listeners hear them
        if isinstance(event, TRANSIENT):
            stamped.append((time.perf_counter(), event.kind, True))

    config = service.run_config(RunSettings(max_steps=STEPS + 5))
    # What POST /messages does (service.start_run), with the stamps added.
    run = runner.send_message(
        trajectory,
        config,
        TASK,
        owner="benchmark",
        listeners=[stamp, feed.feed_for(trajectory).publish],
    )
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    run.wait(30)
    samples: list[float] = []
    for got in clients:
        for delta in (False, True):
            sent = [(t, k) for t, k, d in stamped if d == delta]
            # The user message was saved before the listeners were attached: not stamped.
            seen = [(t, k) for t, k, d in got if d == delta][-len(sent) :] if sent else []
            assert [k for _, k in seen] == [k for _, k in sent], (seen[:5], sent[:5])
            samples += [r - s for (r, _), (s, _) in zip(seen, sent, strict=True)]
    report(f"event latency, loop to SSE ({CLIENTS} clients, {len(stamped)} events)", samples)


async def screenshots(base: str, token: str) -> None:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from computer_use_demo.tools.computer import ComputerTool20251124

    tool = ComputerTool20251124()
    local: list[float] = []
    await tool(action="screenshot")
    for _ in range(30):
        started = time.perf_counter()
        await tool(action="screenshot")
        local.append(time.perf_counter() - started)
    report("screenshot in process (ComputerTool20251124)", local)
    remote: list[float] = []
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        await mcp.call_tool("screenshot", {})
        for _ in range(30):
            started = time.perf_counter()
            result = await mcp.call_tool("screenshot", {})
            remote.append(time.perf_counter() - started)
            assert not result.is_error
    report("screenshot over MCP (streamable HTTP, the door)", remote)
    ratio = statistics.median(remote) / statistics.median(local)
    print(f"{'MCP / in-process screenshot, median':<52} {ratio:.2f}x (goal: at most 2x)")


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("httpx", "httpx2", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    token = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory() as tmp,
        xvfb(DISPLAYS, 1024, 768) as display,
        FakeAnthropicAPI(port=free_port(), default=script) as api,
    ):
        os.environ.update(
            HOME=tmp,
            DISPLAY=display.name,
            DISPLAY_NUM=str(display.number),
            WIDTH="1024",
            HEIGHT="768",
            BIND_ADDR="127.0.0.1",
            AGENT_LOCK_DIR=str(Path(tmp) / "lock"),
            CONTROL_FILE=str(Path(tmp) / "person-in-control"),
            ANTHROPIC_BASE_URL=api.url,
            ANTHROPIC_API_KEY="sk-ant-bench-0123456789",
        )
        os.environ.pop("CONFIG_DIR", None)
        os.environ.pop("XAUTHORITY", None)
        with door(token) as base:
            await event_latency(base, token)
            await screenshots(base, token)


if __name__ == "__main__":
    asyncio.run(main())
