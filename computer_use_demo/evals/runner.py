"""The eval runner: every task of a suite on a fresh desktop, N desktops at once.

Each of the ``parallel`` slots owns a desktop (desktop/virtual.py) and the suite's web pages
server. A task takes a slot's desktop after a reset (every process of the previous task ended,
the home folder emptied, the inbox cleared), runs its setup, hands the job to a worker process
(worker.py) that runs the agent or the oracle headless, waits at most the task's timeout,
checks the outcome and writes the task's folder. ``attempts.jsonl`` records every task
planned, started and finished (with its status): ``--resume`` reads it and runs only what
did not finish.

Statuses: passed, failed (a checker said no), timeout (past the wall-clock limit), error (the
run ended in an API or tool error, or the worker crashed), setup_failed (the task's setup did
not work: the task, not the agent, is at fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..desktop.errors import DesktopError
from ..desktop.processes import signal_group
from ..desktop.virtual import VirtualDesktop, die_with_parent
from ..sessions.replay import render_html
from ..sessions.trajectory import Trajectory
from .checkers import run_checkers
from .pages import PagesServer
from .setup_steps import SetupFailed, run_setup
from .task import Task, pages_dir

STATUSES = ("passed", "failed", "timeout", "error", "setup_failed")
ATTEMPTS = "attempts.jsonl"
RUN_FILE = "run.json"
#: After a timeout's SIGTERM, how long the worker has to save its session and answer.
STOP_GRACE = 10.0
#: After SIGKILL, how long to wait for the worker server to report the exit.
RESULT_GRACE = 5.0
#: How long a new worker server may take to import before it counts as broken.
READY_TIMEOUT = 120.0


@dataclass
class Options:
    """What a run was asked to do (saved in run.json, so a resume does the same)."""

    suite: str
    oracle: bool = False
    model: str | None = None
    provider: str = "anthropic"
    base_url: str | None = None
    tool_version: str | None = None
    approval: dict[str, str] = field(default_factory=dict)  # class -> auto | deny
    parallel: int = 1
    width: int = 1024
    height: int = 768
    only: list[str] = field(default_factory=list)
    system_suffix: str = ""


@dataclass
class TaskResult:
    id: str
    status: str
    reason: str = ""  # how the run ended (end_turn, max_steps, ...) or what went wrong
    detail: str = ""
    answer: str = ""
    steps: int = 0
    cost_usd: float | None = 0.0
    checks: list[dict[str, Any]] = field(default_factory=list)
    session: str | None = None
    replay: str | None = None
    #: The run's process kept its memory from the desktop's processes (worker.py).
    memory_private: bool | None = None
    #: Seconds: the whole task, and its parts (desktop reset, setup, the agent, checking).
    time_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Attempts:
    """attempts.jsonl: one line per planned / started / finished task, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, task: str, event: str, **extra: Any) -> None:
        line = json.dumps({"time": now(), "task": task, "event": event, **extra})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    def finished(self) -> set[str]:
        """Tasks whose last attempt finished (a torn last line is skipped)."""
        done: set[str] = set()
        if not self.path.exists():
            return done
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if line.get("event") == "finished":
                done.add(line["task"])
            elif line.get("event") == "started":
                done.discard(line["task"])
        return done


class WorkerServer:
    """A slot's worker server (worker.py): imports once, forks a child per job."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log
        self.ready = False
        self.child: int | None = None  # the running job's process

    @classmethod
    async def spawn(cls, log: Path) -> WorkerServer:
        # The agent's half: it keeps the provider key (its tools drop it for what they start).
        with _log_file(log) as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "computer_use_demo.evals.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        return cls(proc, log)

    async def _line(self, timeout: float | None) -> dict[str, Any]:
        """The server's next message; EOFError when it has died."""
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise EOFError(f"the worker server died: {_tail(self.log)}")
        return json.loads(raw)

    async def wait_ready(self) -> None:
        while not self.ready:
            self.ready = bool((await self._line(READY_TIMEOUT)).get("ready"))

    async def run(
        self, job: dict[str, Any], timeout: float
    ) -> tuple[dict[str, Any] | None, bool, int | None]:
        """(the job's result or None, whether it ran past ``timeout``, its exit status)."""
        await self.wait_ready()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(job).encode() + b"\n")
        await self.proc.stdin.drain()
        deadline = time.monotonic() + timeout
        result: dict[str, Any] | None = None
        pid: int | None = None
        timed_out = False
        signalled = 0
        while True:
            left = deadline - time.monotonic()
            try:
                message = await self._line(max(0.0, left))
            except TimeoutError:
                if pid is None:
                    continue  # not even forked: the server is busy, keep waiting
                signalled += 1
                timed_out = True
                # SIGTERM first: the run stops cleanly and saves its session.
                _signal(pid, 15 if signalled == 1 else 9)
                deadline = time.monotonic() + (STOP_GRACE if signalled == 1 else RESULT_GRACE)
                if signalled > 2:
                    raise EOFError("the worker did not end after SIGKILL") from None
                continue
            if "pid" in message:
                pid = self.child = int(message["pid"])
            elif "result" in message:
                result = message["result"]
            elif "exit" in message:
                self.child = None
                return result, timed_out, message["exit"]

    async def close(self) -> None:
        """Closing its stdin ends the server; a job still running is stopped first (SIGTERM:
        it saves its session)."""
        if self.child is not None:
            _signal(self.child, 15)
            with contextlib.suppress(TimeoutError, EOFError, json.JSONDecodeError):
                while "exit" not in await self._line(STOP_GRACE):
                    pass
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 2)
        except TimeoutError:
            signal_group(self.proc.pid, 9)


def _log_file(path: Path) -> BinaryIO:
    return open(path, "wb")


def _signal(pid: int, sig: int) -> None:
    """``sig`` to the child's session (it made one), or to the child if not yet."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class Slot:
    """One desktop, its pages server and its worker server, used by one task at a time."""

    def __init__(self, number: int, root: Path, options: Options, pages: Path | None) -> None:
        self.number = number
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.desktop = VirtualDesktop(root / "desktop", width=options.width, height=options.height)
        self.pages = PagesServer(pages, root / "inbox") if pages is not None else None
        self.server: WorkerServer | None = None

    def placeholders(self) -> dict[str, str]:
        return {
            "home": str(self.desktop.home),
            "pages": self.pages.url if self.pages else "",
            "inbox": str(self.pages.inbox) if self.pages else "",
            "display": self.desktop.display,
        }

    async def worker(self) -> WorkerServer:
        """The slot's worker server (started again if it died)."""
        if self.server is None or self.server.proc.returncode is not None:
            self.server = await WorkerServer.spawn(self.root / "worker-server.log")
        return self.server

    async def ready(self) -> float:
        """A fresh desktop: started the first time, reset after; the seconds it took."""
        began = time.monotonic()
        if self.desktop.number is None:
            await self.desktop.start()
        else:
            await self.desktop.reset()
        if self.pages is not None:
            self.pages.clear()
        return time.monotonic() - began

    async def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.close()
        self.desktop.stop()
        if self.pages is not None:
            self.pages.close()


class Runner:
    """Runs ``tasks`` into ``out`` (see the module docstring)."""

    def __init__(
        self,
        tasks: list[Task],
        out: Path,
        options: Options,
        *,
        on_finish: Callable[[TaskResult], None] | None = None,
        on_start: Callable[[Task], None] | None = None,
    ) -> None:
        self.tasks = tasks
        self.out = Path(out)
        self.options = options
        self.attempts = Attempts(self.out / ATTEMPTS)
        self.on_finish = on_finish or (lambda r: None)
        self.on_start = on_start or (lambda t: None)
        self.results: list[TaskResult] = []

    def task_dir(self, task: Task) -> Path:
        return self.out / "tasks" / task.id

    async def run(self, todo: list[Task]) -> list[TaskResult]:
        """Run ``todo`` (planned here) on ``parallel`` desktops; their results."""
        for task in todo:
            self.attempts.add(task.id, "planned")
        queue: asyncio.Queue[Task] = asyncio.Queue()
        for task in todo:
            queue.put_nowait(task)
        parallel = max(1, min(self.options.parallel, len(todo) or 1))
        root = Path(tempfile.mkdtemp(prefix="eval-desktops-"))
        pages = pages_dir(Path(self.options.suite))
        slots = [Slot(i, root / f"slot-{i}", self.options, pages) for i in range(parallel)]
        try:
            for slot in slots:  # their imports overlap the desktops' start
                await slot.worker()
            await asyncio.gather(*(self._drain(slot, queue) for slot in slots))
        finally:
            await asyncio.shield(
                asyncio.gather(*(s.close() for s in slots), return_exceptions=True)
            )
            shutil.rmtree(root, ignore_errors=True)
        return self.results

    async def _drain(self, slot: Slot, queue: asyncio.Queue[Task]) -> None:
        while not queue.empty():
            task = queue.get_nowait()
            self.on_start(task)
            result = await self.run_task(slot, task)
            self.results.append(result)
            self.attempts.add(task.id, "finished", status=result.status, reason=result.reason)
            self.on_finish(result)

    async def run_task(self, slot: Slot, task: Task) -> TaskResult:
        folder = self.task_dir(task)
        shutil.rmtree(folder, ignore_errors=True)  # a resumed task starts over
        folder.mkdir(parents=True)
        began = time.monotonic()
        self.attempts.add(task.id, "started", slot=slot.number)
        timings: dict[str, float] = {}
        try:
            result = await self._attempt(slot, task, folder, timings)
        except (OSError, ValueError, RuntimeError) as e:  # the harness's own failure, said
            result = TaskResult(
                task.id, "error", reason="harness", detail=f"{type(e).__name__}: {e}"
            )
        result.timings = {k: round(v, 3) for k, v in timings.items()}
        result.time_s = round(time.monotonic() - began, 3)
        self._write(folder, result)
        return result

    async def _attempt(
        self, slot: Slot, task: Task, folder: Path, timings: dict[str, float]
    ) -> TaskResult:
        if self.options.oracle and not task.oracle:
            return TaskResult(task.id, "error", reason="no_oracle", detail="the task has no oracle")
        try:
            timings["desktop_s"] = await slot.ready()
        except DesktopError as e:
            return TaskResult(task.id, "error", reason="desktop", detail=str(e))
        filled = task.fill(slot.placeholders())
        env = slot.desktop.env
        agent_env = slot.desktop.agent_env
        began = time.monotonic()
        try:
            await run_setup(filled.setup, env, folder / "apps.log")
        except SetupFailed as e:
            return TaskResult(task.id, "setup_failed", reason="setup", detail=str(e))
        finally:
            timings["setup_s"] = time.monotonic() - began
        job = self._job(filled, agent_env, folder)
        began = time.monotonic()
        try:
            server = await slot.worker()
            await server.wait_ready()
            timings["worker_wait_s"] = time.monotonic() - began
            began = time.monotonic()
            outcome, timed_out, code = await server.run(job, task.limits.timeout_s)
        except (EOFError, TimeoutError, json.JSONDecodeError) as e:
            return TaskResult(task.id, "error", reason="worker", detail=str(e) or "no answer")
        finally:
            timings["run_s"] = time.monotonic() - began
        if outcome is None:
            tail = _tail(folder / "worker.log")
            status = "timeout" if timed_out else "error"
            return TaskResult(
                task.id, status, reason="worker", detail=f"the run died (exit {code}): {tail}"
            )
        timings["agent_s"] = float(outcome.get("agent_s") or 0.0)
        result = TaskResult(
            task.id,
            "timeout" if timed_out else "passed",
            reason="timeout" if timed_out else outcome["reason"],
            detail=outcome.get("detail") or "",
            answer=outcome.get("answer") or "",
            steps=int(outcome.get("steps") or 0),
            cost_usd=outcome.get("cost_usd"),
            session=outcome.get("session"),
            memory_private=outcome.get("memory_private"),
        )
        if timed_out:
            result.detail = f"still running after {task.limits.timeout_s:g}s"
        elif outcome["reason"] in ("error", "stopped"):
            result.status = "error"
            result.detail = outcome.get("error") or result.detail or outcome["reason"]
        else:
            began = time.monotonic()
            checks = await run_checkers(
                filled.checkers, answer=result.answer, env=env, cwd=str(slot.desktop.home)
            )
            timings["check_s"] = time.monotonic() - began
            result.checks = [c.to_json() for c in checks]
            if not all(c.passed for c in checks):
                result.status = "failed"
                result.detail = "; ".join(c.detail for c in checks if not c.passed)
        return result

    def _job(self, task: Task, env: dict[str, str], folder: Path) -> dict[str, Any]:
        o = self.options
        return {
            "mode": "oracle" if o.oracle else "agent",
            "env": env,
            "cwd": env["HOME"],
            "instruction": task.instruction,
            "title": task.id,
            "session_root": str(folder / "session"),
            "oracle": task.oracle,
            "log": str(folder / "worker.log"),
            "config": {
                "model": o.model,
                "provider": o.provider,
                "base_url": o.base_url,
                "tool_version": o.tool_version,
                "max_steps": task.limits.max_steps,
                "max_cost_usd": task.limits.max_cost_usd,
                "approval": o.approval,
                "system_suffix": o.system_suffix,
                "label": f"eval {task.id}",
            },
        }

    def _write(self, folder: Path, result: TaskResult) -> None:
        if result.session:
            with contextlib.suppress(Exception):  # a torn session still gets its result
                trajectory = Trajectory.open(result.session)
                html = render_html(trajectory.events(), title=f"{result.id}: {result.status}")
                (folder / "replay.html").write_text(html, encoding="utf-8")
                result.replay = "replay.html"
            with contextlib.suppress(ValueError):
                result.session = str(Path(result.session).relative_to(folder))
        (folder / "result.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return " | ".join(text.splitlines()[-lines:]) or "(no output)"


def load_results(out: Path) -> list[TaskResult]:
    """Every task result saved in ``out`` (finished tasks only), sorted by id."""
    results = []
    for path in sorted((Path(out) / "tasks").glob("*/result.json")):
        with contextlib.suppress(OSError, json.JSONDecodeError, TypeError):
            results.append(TaskResult(**json.loads(path.read_text())))
    return results
