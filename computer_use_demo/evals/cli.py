"""``python -m computer_use_demo eval [SUITE] --model … --parallel N --out DIR``.

Loads the suite (refusing a bad task file with the file, the field and why), runs it (runner.py),
shows progress on the terminal, and writes the aggregate and the report (report.py). ``--resume
DIR`` goes on with an interrupted run: the same options, only the tasks that did not finish.
Exit status: 0 every task passed, 1 some did not, 2 usage or a bad suite, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..agent.loop import APIProvider
from ..desktop.virtual import keep_memory_private
from ..tools import TOOL_VERSIONS
from ..tools.approval_policy import ACTION_CLASSES
from . import report
from .runner import (
    ATTEMPTS,
    RUN_FILE,
    STATUSES,
    Attempts,
    Options,
    Runner,
    TaskResult,
    load_results,
)
from .task import STARTER_SUITE, TaskError, load_suite

#: The modes an eval may give a class of actions: nobody is there to ask.
EVAL_MODES = ("auto", "deny")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m computer_use_demo eval",
        description="Measure an agent on a suite of desktop tasks, each on a fresh desktop.",
        epilog="Exit status: 0 every task passed, 1 some did not, 2 usage or a bad suite, "
        "130 interrupted (finish it with --resume DIR).",
    )
    p.add_argument(
        "suite",
        nargs="?",
        help="a folder of task files or one task file (default: the starter suite)",
    )
    p.add_argument("--model", help="model id (default: $ANTHROPIC_MODEL or the provider's default)")
    p.add_argument(
        "--provider",
        choices=[x.value for x in APIProvider],
        default=os.environ.get("API_PROVIDER", "anthropic"),
    )
    p.add_argument("--base-url", help="an Anthropic-compatible endpoint ($ANTHROPIC_BASE_URL)")
    p.add_argument("--tool-version", choices=TOOL_VERSIONS, help="default: the model's")
    p.add_argument(
        "--parallel", type=int, default=1, metavar="N", help="desktops at once (default 1)"
    )
    p.add_argument("--out", type=Path, help="the run's folder (default: eval-runs/<time>)")
    p.add_argument(
        "--oracle",
        action="store_true",
        help="run each task's oracle instead of a model (proves the suite sound)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="finish the interrupted run in DIR (its options; finished tasks are kept)",
    )
    p.add_argument(
        "--task", action="append", default=[], metavar="ID", help="run only this task (repeatable)"
    )
    p.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="CLASS=MODE",
        help="bash, typing or click = auto or deny (default: auto; never ask)",
    )
    p.add_argument(
        "--size", default="1024x768", help="each desktop's screen, WxH (default 1024x768)"
    )
    p.add_argument("--system-suffix", default="", help="text appended to the system prompt")
    return p


def _approval(given: list[str]) -> dict[str, str]:
    modes = {}
    for item in given:
        klass, _, mode = item.partition("=")
        if klass not in ACTION_CLASSES or mode not in EVAL_MODES:
            raise ValueError(
                f"--approve {item!r}: use CLASS=MODE with CLASS one of "
                f"{', '.join(ACTION_CLASSES)} and MODE auto or deny"
            )
        modes[klass] = mode
    return modes


def options_from(args: argparse.Namespace) -> Options:
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"--size {args.size!r}: use WIDTHxHEIGHT, e.g. 1024x768")
    if args.parallel < 1:
        raise ValueError("--parallel must be 1 or more")
    return Options(
        suite=str(Path(args.suite).resolve() if args.suite else STARTER_SUITE),
        oracle=args.oracle,
        model=args.model or os.environ.get("ANTHROPIC_MODEL"),
        provider=args.provider,
        base_url=args.base_url or os.environ.get("ANTHROPIC_BASE_URL"),
        tool_version=args.tool_version,
        approval=_approval(args.approve),
        parallel=args.parallel,
        width=int(width),
        height=int(height),
        only=list(args.task),
        system_suffix=args.system_suffix,
    )


class Progress:
    """A line per finished task; on a terminal, a bar that redraws in place."""

    def __init__(self, total: int, done: int, out: TextIO) -> None:
        self.total, self.done, self.out = total, done, out
        self.counts = dict.fromkeys(STATUSES, 0)
        self.running = 0
        self.began = time.monotonic()
        self.tty = out.isatty()

    def start(self, _task: object) -> None:
        self.running += 1
        self.draw()

    def finish(self, result: TaskResult) -> None:
        self.running -= 1
        self.done += 1
        self.counts[result.status] += 1
        cost = "" if result.cost_usd is None else f", ${result.cost_usd:.4f}"
        why = f": {result.detail[:120]}" if result.status != "passed" and result.detail else ""
        self.clear()
        print(
            f"{result.id}: {result.status} ({result.steps} steps{cost}, {result.time_s:.1f}s){why}",
            file=self.out,
            flush=True,
        )
        self.draw()

    def clear(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[K")

    def draw(self) -> None:
        if not self.tty:
            return
        width = 30
        filled = width * self.done // max(1, self.total)
        counts = " ".join(f"{s.replace('_', ' ')} {n}" for s, n in self.counts.items() if n)
        elapsed = int(time.monotonic() - self.began)
        self.out.write(
            f"\r\x1b[K[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
            f" · {self.running} running · {counts or 'starting'} · "
            f"{elapsed // 60:02d}:{elapsed % 60:02d}"
        )
        self.out.flush()


def _prepare(args: argparse.Namespace) -> tuple[Options, Path]:
    """The options and the run's folder: new, or the one being resumed."""
    if args.resume is not None:
        out = args.resume
        try:
            saved = json.loads((out / RUN_FILE).read_text())
            return Options(**saved), out
        except (OSError, json.JSONDecodeError, TypeError) as e:
            raise ValueError(f"--resume {out}: not an eval run's folder ({e})") from e
    options = options_from(args)
    load_suite(Path(options.suite), options.only or None)  # a bad suite makes no folder
    out = args.out or Path("eval-runs") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out}: the folder is not empty (use --resume {out} to finish it)")
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_FILE).write_text(json.dumps(asdict(options), indent=2) + "\n")
    return options, out


async def run(options: Options, out: Path, err: TextIO) -> int:
    tasks = load_suite(Path(options.suite), options.only or None)
    finished = Attempts(out / ATTEMPTS).finished()
    todo = [t for t in tasks if t.id not in finished]
    progress = Progress(len(tasks), len(tasks) - len(todo), err)
    if finished:
        print(f"resuming: {len(tasks) - len(todo)} finished, {len(todo)} to run", file=err)
    runner = Runner(tasks, out, options, on_finish=progress.finish, on_start=progress.start)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main.cancel)  # type: ignore[union-attr]
    try:
        await runner.run(todo)
    except asyncio.CancelledError:
        progress.clear()
        print(f"\ninterrupted: finish with --resume {out}", file=err)
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    progress.clear()
    ids = {t.id for t in tasks}
    results = [r for r in load_results(out) if r.id in ids]
    mode = "oracle" if options.oracle else (options.model or "default model")
    summary = report.write(
        out, results, planned=len(tasks), title=f"Eval: {Path(options.suite).name} ({mode})"
    )
    counts = ", ".join(f"{s.replace('_', ' ')} {summary[s]}" for s in STATUSES)
    print(
        f"{summary['passed']}/{summary['tasks']} passed ({counts}); "
        f"${summary['cost_usd']:.4f}, {summary['steps']} steps. Report: {out / report.REPORT}",
        file=err,
    )
    return 0 if summary["passed"] == summary["tasks"] else 1


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # sessions and reports are their user's alone
    keep_memory_private()  # the key in our environment stays out of the desktops' reach
    p = parser()
    args = p.parse_args(argv)
    try:
        options, out = _prepare(args)
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        p.error(str(e))
    try:
        return asyncio.run(run(options, out, sys.stderr))
    except KeyboardInterrupt:
        return 130
