"""Bash tool speed: `python -m tests.benchmarks.bench_bash [--runs N]`.

Prints min/median/p95 per case. Targets (issue 2): `echo` round trip under 5 ms median, a 1 MB
output command under 50 ms median. The reference polls every 0.2 s (about 200 ms for `echo`)
and never finishes 1 MB of output.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from computer_use_demo.tools.bash import BashTool
from computer_use_demo.tools.run import TRUNCATED_MESSAGE
from tests.benchmarks.stats import p95

CASES: list[tuple[str, str, int]] = [
    # (label, command, runs as a multiple of --runs divided by this)
    ("echo round trip", "echo hi", 1),
    ("1 MB output (head | tr)", "head -c 1000000 /dev/zero | tr '\\0' x", 4),
    ("1 MB output (printf builtin)", 'printf %s "$MB"', 4),
    ("10 MB output (head | tr)", "head -c 10000000 /dev/zero | tr '\\0' x", 20),
]


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"min {ms[0]:7.2f}  median {statistics.median(ms):7.2f}  p95 {p95(ms):7.2f} ms"


async def main(runs: int) -> None:
    tool = BashTool()
    try:
        # Start the shell and make a 1 MB variable for the builtin case (not timed).
        await tool(command="MB=$(head -c 1000000 /dev/zero | tr '\\0' x)")
        for label, command, divisor in CASES:
            n = max(5, runs // divisor)
            for _ in range(3):  # warm up
                await tool(command=command)
            samples = []
            for _ in range(n):
                start = time.perf_counter()
                result = await tool(command=command)
                samples.append(time.perf_counter() - start)
            if "MB" in label:
                assert result.output and result.output.endswith(TRUNCATED_MESSAGE), result
            else:
                assert result.output == "hi", result
            print(f"{label:30s} n={n:4d}  {summary(samples)}")
    finally:
        await tool.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs of the echo case")
    asyncio.run(main(parser.parse_args().runs))
