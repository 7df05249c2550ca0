"""Time to render a saved 200-step session (a screenshot per step) in the chat app.

    python -m tests.benchmarks.bench_render [--steps 200] [--repeat 5]

"first load" is a new browser session on a cold cache (the events are read from disk);
"rerun" is the next script run of that session (what every click and every poll costs).
Rendering goes through Streamlit's AppTest, i.e. the real script minus the browser. Target:
first load under 2 s.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from tests.benchmarks.stats import p95

APP = str(Path(__file__).resolve().parents[2] / "computer_use_demo" / "streamlit.py")


def screenshot(step: int) -> str:
    """A distinct, desktop-like 1024x768 PNG (panel, window, text)."""
    img = Image.new("RGB", (1024, 768), (20, 60, 110))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 738, 1024, 768), fill=(40, 40, 40))
    x = 40 + (step * 37) % 500
    draw.rectangle((x, 80, x + 420, 520), fill=(235, 235, 235), outline=(0, 0, 0))
    for line in range(12):
        draw.text((x + 12, 100 + line * 30), f"step {step} line {line} " * 2, fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def make_session(root: Path, steps: int) -> None:
    from computer_use_demo.agent.events import (
        ApiExchange,
        AssistantBlock,
        Done,
        StepStarted,
        ToolResultEvent,
        ToolStarted,
        Usage,
        UserMessage,
    )
    from computer_use_demo.sessions.trajectory import Trajectory
    from computer_use_demo.tools.base import ToolResult

    t = Trajectory.create(root, title="benchmark session")
    t.append(UserMessage(text="Do a long task"))
    for step in range(1, steps + 1):
        t.append(StepStarted(step=step))
        t.append(
            ApiExchange(
                method="POST",
                url="https://api.anthropic.com/v1/messages",
                request_headers={"x-api-key": "[REDACTED]"},
                request_body={"model": "m", "messages": [{"role": "user", "content": "..."}]},
                status=200,
                response_body={"content": [{"type": "text", "text": f"step {step}"}]},
            )
        )
        t.append(Usage(input_tokens=1000, output_tokens=50, cost_usd=0.004))
        t.append(AssistantBlock(block={"type": "text", "text": f"Step {step}: clicking."}))
        use = {"action": "left_click", "coordinate": [step % 1024, step % 768]}
        t.append(
            AssistantBlock(
                block={"type": "tool_use", "id": f"t{step}", "name": "computer", "input": use}
            )
        )
        t.append(ToolStarted(tool_use_id=f"t{step}", name="computer", input=use))
        t.append(
            ToolResultEvent(
                tool_use_id=f"t{step}",
                name="computer",
                result=ToolResult(base64_image=screenshot(step)),
            )
        )
    t.append(AssistantBlock(block={"type": "text", "text": "All done."}))
    t.append(Done(reason="end_turn", steps=steps))


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    return (
        f"{name:<11} n={len(values):<3} min {values[0]:.3f} s  "
        f"median {statistics.median(values):.3f} s  p95 {p95(values):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        os.environ.update(HOME=home, ANTHROPIC_API_KEY="sk-ant-bench-000000000")
        os.environ.pop("CONFIG_DIR", None)
        os.environ.pop("API_PROVIDER", None)
        started = time.perf_counter()
        make_session(Path(home) / ".anthropic" / "sessions", args.steps)
        print(f"made a {args.steps}-step session in {time.perf_counter() - started:.1f} s")

        from streamlit.testing.v1 import AppTest

        from computer_use_demo.app import runner as ui_runner

        warm = AppTest.from_file(APP, default_timeout=120)
        warm.run()  # imports, first compile: not what a user waits for on a running server
        assert not warm.exception, warm.exception
        first: list[float] = []
        rerun: list[float] = []
        for _ in range(args.repeat):
            ui_runner._SAVED.clear()  # cold: read the session from disk again
            at = AppTest.from_file(APP, default_timeout=120)
            t0 = time.perf_counter()
            at.run()
            first.append(time.perf_counter() - t0)
            assert not at.exception, at.exception
            images = sum(1 for _ in at.main.get("image"))
            assert images >= args.steps, f"only {images} screenshots rendered"
            for _ in range(args.reruns):
                t0 = time.perf_counter()
                at.run()
                rerun.append(time.perf_counter() - t0)
        print(summary("first load", first))
        print(summary("rerun", rerun))
        print("target: first load < 2 s")


if __name__ == "__main__":
    main()
