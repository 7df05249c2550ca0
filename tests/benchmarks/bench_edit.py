"""Editor speed on a 10,000-line file: view, view_range, str_replace, insert, undo_edit.

Run: ``.venv/bin/python -m tests.benchmarks.bench_edit [--runs N]``. Prints min/median/p95 in
milliseconds. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from computer_use_demo.tools import EditTool20250124, EditTool20250728, ToolCollection
from tests.benchmarks.stats import p95

LINES = 10_000


def report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    print(
        f"{name:<44} min {ms[0]:7.3f} ms   median {statistics.median(ms):7.3f} ms   "
        f"p95 {p95(ms):7.3f} ms   (n={len(ms)})"
    )


async def measure(runs: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - start)
    return samples


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.py"
        text = "".join(
            f"def function_{i}(x):  # line {i} of the benchmark file\n" for i in range(LINES)
        )
        path.write_text(text)
        p = str(path)
        print(f"file: {LINES:,} lines, {len(text):,} bytes; {runs} runs each")
        tool = EditTool20250728()
        tools = ToolCollection(tool)

        report(
            "view (whole file, truncated to 16,000)",
            await measure(runs, lambda i: tool(command="view", path=p)),
        )
        report(
            "view view_range [5000, 5100]",
            await measure(runs, lambda i: tool(command="view", path=p, view_range=[5000, 5100])),
        )

        def swap(i: int) -> Awaitable[object]:
            old, new = ("function_5000(", "renamed_5000(")[:: 1 if i % 2 == 0 else -1]
            return tool(command="str_replace", path=p, old_str=old, new_str=new)

        report("str_replace (one line, middle of file)", await measure(runs, swap))

        def swap_via_collection(i: int) -> Awaitable[object]:
            old, new = ("function_6000(", "renamed_6000(")[:: 1 if i % 2 == 0 else -1]
            return tools.run(
                name=tool.name,
                tool_input={"command": "str_replace", "path": p, "old_str": old, "new_str": new},
            )

        report("str_replace via ToolCollection.run", await measure(runs, swap_via_collection))
        report(
            "insert (after line 5000)",
            await measure(
                runs, lambda i: tool(command="insert", path=p, insert_line=5000, new_str=f"# {i}")
            ),
        )
        path.write_text(text)

        undo_tool = EditTool20250124()

        async def edit_then_undo(i: int) -> None:
            await undo_tool(command="insert", path=p, insert_line=5000, new_str="# undo me")
            await undo_tool(command="undo_edit", path=p)

        report("insert + undo_edit (20250124)", await measure(runs, edit_then_undo))
        assert path.read_text() == text, "undo did not restore the file"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
