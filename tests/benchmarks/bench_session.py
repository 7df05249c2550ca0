"""A long session made the way the chat app makes it, then shown: disk, load time, memory.

    python -m tests.benchmarks.bench_session [--runs 50] [--steps 10] [--repeat 5]

The session is ``runs`` user messages, each answered by ``steps`` tool calls that return a
screenshot (``runs x steps`` screenshots, 500 by default), recorded by the app's own runner
(``ui_runner.send_message``) against the fake Messages API. Then, as after an app restart, a
new browser session opens it cold ("first load") and reruns it ("rerun"); "app RSS" is the
resident memory of that process (runner, caches and Streamlit) after each first load.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_render import APP, screenshot
from tests.benchmarks.stats import p95


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary(name: str, values: list[float], unit: str) -> str:
    values = sorted(values)
    return (
        f"{name:<11} n={len(values):<3} min {values[0]:.3f} {unit}  "
        f"median {statistics.median(values):.3f} {unit}  p95 {p95(values):.3f} {unit}"
    )


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_session(root: Path, runs: int, steps: int) -> Path:
    """The session, recorded by the app's runner; returns its folder."""
    from computer_use_demo.agent.loop import LoopConfig
    from computer_use_demo.app import runner as ui_runner
    from computer_use_demo.sessions.trajectory import Trajectory
    from computer_use_demo.tools import FunctionTool, ToolCollection, ToolResult
    from tests.fake_api import FakeAnthropicAPI, message, text, tool_use

    shots = iter(range(1, 1_000_000))

    async def snap() -> ToolResult:
        return ToolResult(output="done", base64_image=screenshot(next(shots)))

    tools = ToolCollection(
        FunctionTool(
            name="snap",
            description="Click and take a screenshot",
            input_schema={"type": "object", "properties": {}},
            function=snap,
        )
    )
    trajectory = Trajectory.create(root, title="benchmark session")
    with FakeAnthropicAPI() as api:
        config = LoopConfig(
            model="claude-sonnet-4-5-20250929",
            api_key="sk-ant-bench-000000000",
            base_url=api.url,
            max_steps=steps + 1,
        )
        for run in range(runs):
            api.push(*(message(text(f"Step {s}."), tool_use("snap", {})) for s in range(steps)))
            api.push(message(text(f"Task {run} done.")))
            started = ui_runner.send_message(trajectory, config, f"Task {run}", tools=tools)
            done = started.wait(120)
            assert done is not None and done.reason == "end_turn", done
        assert not api.invalid_requests, api.invalid_requests[0].error
    return trajectory.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        os.environ.update(HOME=home, ANTHROPIC_API_KEY="sk-ant-bench-000000000")
        os.environ.pop("CONFIG_DIR", None)
        os.environ.pop("API_PROVIDER", None)
        started = time.perf_counter()
        path = make_session(Path(home) / ".anthropic" / "sessions", args.runs, args.steps)
        shots = args.runs * args.steps
        print(
            f"made a {shots}-screenshot session ({args.runs} messages) in "
            f"{time.perf_counter() - started:.1f} s; app RSS {rss_mb():.0f} MB"
        )
        events_file = path / "messages.jsonl"
        print(
            f"saved size  {folder_size(path) / 1e6:.1f} MB "
            f"(events file {events_file.stat().st_size / 1e6:.2f} MB)"
        )

        from streamlit.testing.v1 import AppTest

        from computer_use_demo.app import runner as ui_runner

        warm = AppTest.from_file(APP, default_timeout=300)
        warm.run()
        assert not warm.exception, warm.exception
        first: list[float] = []
        rerun: list[float] = []
        memory: list[float] = []
        for _ in range(args.repeat):
            ui_runner.stop_all()
            with ui_runner._RUNS_LOCK:  # as after a restart: nothing of the session in memory
                ui_runner._RUNS.clear()
                for cache in (ui_runner._SAVED, ui_runner._LISTED):
                    cache.clear()
            gc.collect()
            at = AppTest.from_file(APP, default_timeout=300)
            t0 = time.perf_counter()
            at.run()
            first.append(time.perf_counter() - t0)
            assert not at.exception, at.exception
            images = sum(1 for _ in at.main.get("image"))
            assert images >= shots, f"only {images} screenshots rendered"
            for _ in range(args.reruns):
                t0 = time.perf_counter()
                at.run()
                rerun.append(time.perf_counter() - t0)
            gc.collect()
            memory.append(rss_mb())
        print(summary("first load", first, "s"))
        print(summary("rerun", rerun, "s"))
        print(summary("app RSS", memory, "MB"))


if __name__ == "__main__":
    main()
