"""The eval harness's own cost: desktop start, overhead per task, the oracle suite's wall time.

    python -m tests.benchmarks.bench_evals [--starts 10] [--parallel 1 2] [--suite DIR]

- "desktop start": a private desktop (Xvfb, mutter, tint2) from nothing to ready, then the
  reset that readies it for the next task (goal: ready in 3 s or less);
- "overhead": per task of an oracle run, the task's time minus its own setup and the run of
  its agent (here the oracle): the desktop's reset, handing the job to the worker and getting
  its answer, checking, the replay and the result files (goal: 1 s or less a task);
- "wall": ``python -m computer_use_demo eval --oracle --parallel N`` on the suite (the starter
  suite by default), from the command to its exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from computer_use_demo.desktop.virtual import VirtualDesktop
from computer_use_demo.evals.task import STARTER_SUITE
from tests.benchmarks.stats import p95

ROOT = Path(__file__).resolve().parents[2]


def line(name: str, values: list[float], unit: str = "s") -> str:
    values = sorted(values)
    return (
        f"{name:<22} n={len(values):<3} min {values[0]:.3f} {unit}  "
        f"median {statistics.median(values):.3f} {unit}  p95 {p95(values):.3f} {unit}"
    )


async def desktop_starts(count: int, root: Path) -> tuple[list[float], list[float]]:
    starts, resets = [], []
    for i in range(count):
        desktop = VirtualDesktop(root / f"d{i}")
        await desktop.start()
        try:
            starts.append(desktop.start_seconds)
            began = time.monotonic()
            await desktop.reset()
            resets.append(time.monotonic() - began)
        finally:
            desktop.stop()
    return starts, resets


def oracle_run(suite: Path, parallel: int, out: Path) -> tuple[float, list[dict]]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "computer_use_demo", "eval", str(suite), "--oracle",
         "--parallel", str(parallel), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - began
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    results = [json.loads(p.read_text()) for p in (out / "tasks").glob("*/result.json")]
    return wall, results


def overheads(results: list[dict]) -> list[float]:
    return [
        r["time_s"] - r["timings"].get("setup_s", 0.0) - r["timings"].get("agent_s", 0.0)
        for r in results
        if "agent_s" in r["timings"]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--suite", type=Path, default=STARTER_SUITE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evals-") as tmp:
        root = Path(tmp)
        starts, resets = asyncio.run(desktop_starts(args.starts, root))
        print(line("desktop start", starts))
        print(line("desktop reset", resets))
        for parallel in args.parallel:
            wall, results = oracle_run(args.suite, parallel, root / f"run-{parallel}")
            passed = sum(r["status"] == "passed" for r in results)
            print(f"oracle suite --parallel {parallel}: wall {wall:.1f} s, "
                  f"{passed}/{len(results)} passed, {wall / max(1, len(results)):.2f} s a task")  # fmt: skip
            print(line(f"  overhead (p={parallel})", overheads(results)))
            print(line(f"  task time (p={parallel})", [r["time_s"] for r in results]))
            setup = [r["timings"].get("setup_s", 0.0) for r in results]
            print(line(f"  setup (p={parallel})", setup))


if __name__ == "__main__":
    main()
