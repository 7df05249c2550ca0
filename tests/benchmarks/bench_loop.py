"""The agent loop's own overhead per step: everything but the API round trip and the tools.

The loop talks to an in-process instant Messages API (an httpx2 MockTransport inside the real
SDK client, so request building, serialization, retries machinery, response parsing and
exchange recording all run) and calls a custom tool that returns at once. What the fake API
handler and the tool spend is timed separately and subtracted.

Two workloads: ``text`` (the tool answers with a line of text) and ``screenshot`` (each result
carries a real-sized PNG, so image truncation and prompt caching work on every step).

    python -m tests.benchmarks.bench_loop [--steps 10 100 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import itertools
import json
import random
import statistics
import string
import time
from typing import Any

import httpx2
from anthropic import AsyncAnthropic
from PIL import Image, ImageDraw

from computer_use_demo.agent.events import Done, StepStarted
from computer_use_demo.agent.loop import LoopConfig, agent_events
from computer_use_demo.tools import FunctionTool, ToolCollection, ToolResult
from tests.benchmarks.stats import p95


def _screenshot_b64() -> str:
    """A 1024x768 PNG that looks like a busy desktop (windows, lines of text), about the size
    of a real screenshot."""
    rng = random.Random(7)
    image = Image.new("RGB", (1024, 768), (46, 52, 64))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(0, 800), rng.randrange(0, 600)
        colour = tuple(rng.randrange(150, 256) for _ in range(3))
        draw.rectangle(
            (x, y, x + rng.randrange(150, 500), y + rng.randrange(100, 350)), fill=colour
        )
    for row in range(0, 768, 14):
        words = "".join(
            rng.choice(string.ascii_letters + "    ") for _ in range(rng.randrange(20, 150))
        )
        draw.text((rng.randrange(0, 200), row), words, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class Clock:
    """Time spent outside the loop (fake API handler, tool), to subtract."""

    def __init__(self) -> None:
        self.outside = 0.0


def _client(clock: Clock, steps: int) -> AsyncAnthropic:
    ids = itertools.count()
    remaining = [steps]

    def handler(request: httpx2.Request) -> httpx2.Response:
        started = time.perf_counter()
        remaining[0] -= 1
        if remaining[0] > 0:
            content = [
                {"type": "text", "text": "Next step."},
                {"type": "tool_use", "id": f"toolu_{next(ids)}", "name": "noop", "input": {}},
            ]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "Done."}], "end_turn"
        body = {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
        response = httpx2.Response(200, json=body)
        clock.outside += time.perf_counter() - started
        return response

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return AsyncAnthropic(api_key="bench", base_url="http://fake.invalid", http_client=http)


def _tool(clock: Clock, image: str | None) -> FunctionTool:
    async def noop() -> ToolResult:
        started = time.perf_counter()
        result = ToolResult(output="ok", base64_image=image)
        clock.outside += time.perf_counter() - started
        return result

    return FunctionTool(
        name="noop",
        description="does nothing",
        input_schema={"type": "object", "properties": {}},
        function=noop,
    )


async def _run(steps: int, image: str | None) -> tuple[list[float], float]:
    """One run of ``steps`` steps: per-step loop overhead (s) and the whole run's."""
    clock = Clock()
    tools = ToolCollection(_tool(clock, image))
    config = LoopConfig(model="claude-sonnet-4-5-20250929", max_steps=steps + 1)
    per_step: list[float] = []
    mark = time.perf_counter()
    outside_mark = 0.0
    messages: list[Any] = [{"role": "user", "content": "benchmark"}]
    run_started = time.perf_counter()
    async for event in agent_events(config, messages, tools=tools, client=_client(clock, steps)):
        if isinstance(event, StepStarted | Done):
            now = time.perf_counter()
            if event.kind == "done" or event.step > 1:
                per_step.append((now - mark) - (clock.outside - outside_mark))
            mark, outside_mark = now, clock.outside
        if isinstance(event, Done):
            assert event.reason == "end_turn" and event.steps == steps, event
    total = time.perf_counter() - run_started - clock.outside
    return per_step, total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    image = _screenshot_b64()
    print(f"screenshot: {len(image) / 1024:.0f} KiB base64; target < 5 ms/step at 500 steps")
    print(f"{'workload':<11} {'steps':>5} {'min ms':>8} {'median':>8} {'p95':>8} {'mean/run':>9}")
    for workload, img in (("text", None), ("screenshot", image)):
        for steps in args.steps:
            samples: list[float] = []
            totals: list[float] = []
            for _ in range(args.repeat):
                per_step, total = asyncio.run(_run(steps, img))
                samples += per_step
                totals.append(total / steps)
            ms = [s * 1000 for s in samples]
            print(
                f"{workload:<11} {steps:>5} {min(ms):>8.2f} {statistics.median(ms):>8.2f} "
                f"{p95(ms):>8.2f} {statistics.mean(totals) * 1000:>9.2f}"
            )
    print(json.dumps({"note": "ms per step, loop only (API handler and tool time subtracted)"}))


if __name__ == "__main__":
    main()
