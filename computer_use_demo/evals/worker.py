"""Each task's run in a process of its own: ``python -m computer_use_demo.evals.worker``.

Why a process per task: the tools read their desktop from the process's environment (the
display and screen size, the desktop backend, the lock's folder, the system prompt's display
number), so parallel tasks in one process would share one desktop; a process of its own also
keeps a crash or a hung tool to one task, and a timeout can always end it.

Starting Python and importing the SDK costs 1-3 s, more than the harness may spend on a task,
so each desktop slot starts one server (``serve``) that imports once and forks a child per
job (a JSON line on stdin). The child takes the desktop's environment from the job, runs the
agent headless through the loop and tools of the chat (or the task's oracle through the same
tools, with no model), saves the session, and prints one ``{"result": ...}`` line. SIGTERM
stops the run cleanly (the session is saved whole, as on a stop in the chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from ..agent import history as h
from ..agent.events import (
    TRANSIENT,
    AssistantBlock,
    Done,
    ErrorEvent,
    Event,
    StepStarted,
    ToolResultEvent,
    Usage,
    UserMessage,
)
from ..agent.loop import APIProvider, LoopConfig, agent_events
from ..agent.models import DEFAULT_MODELS
from ..desktop.select import use_desktop
from ..desktop.virtual import die_with_parent, keep_memory_private, memory_private
from ..sessions.trajectory import Trajectory
from ..tools import TOOL_GROUPS_BY_VERSION, ToolCollection, ToolFailure
from ..tools.approval_policy import ApprovalPolicy
from .setup_steps import SetupFailed, wait_window

#: The tools an oracle drives (its steps name them: computer, editor, bash).
ORACLE_TOOL_VERSION = "computer_use_20250124"


def final_answer(messages: list[Any]) -> str:
    """The text of Claude's last message (its answer), or ""."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(
                b.get("text", "")
                for b in content or []
                if isinstance(b, dict) and b.get("type") == "text"
            )
    return ""


def loop_config(spec: dict[str, Any]) -> LoopConfig:
    provider = APIProvider(spec.get("provider") or "anthropic")
    return LoopConfig(
        model=spec.get("model") or DEFAULT_MODELS[provider.value],
        provider=provider,
        base_url=spec.get("base_url"),
        tool_version=spec.get("tool_version"),  # type: ignore[arg-type]
        max_steps=spec["max_steps"],
        max_run_cost_usd=spec.get("max_cost_usd"),
        approval=ApprovalPolicy(**spec.get("approval", {})),
        system_prompt_suffix=spec.get("system_suffix", ""),
        max_retries=spec.get("max_retries", 4),
        run_label=spec.get("label", "eval"),
    )


class Recorder:
    """The session on disk, and what the result line needs from the events."""

    def __init__(self, trajectory: Trajectory) -> None:
        self.trajectory = trajectory
        self.cost = 0.0
        self.priced = True
        self.error: str | None = None
        self.done: Done | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Usage):
            if event.cost_usd is None:
                self.priced = False
            self.cost += event.cost_usd or 0.0
        elif isinstance(event, ErrorEvent):
            self.error = event.message
        elif isinstance(event, Done):
            self.done = event
        if not isinstance(event, TRANSIENT):
            try:
                self.trajectory.append(event)
            except OSError as e:  # a full disk must not end the run
                print(f"could not save the session: {e}", file=sys.stderr)


async def run_agent(job: dict[str, Any], record: Recorder, stop: asyncio.Event) -> None:
    config = loop_config(job["config"])
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": job["instruction"]}]}
    ]
    # Approvals are auto or deny (the config's policy): with no one to ask, ask=None.
    events = agent_events(config, messages, stop=stop, ask=None)
    try:
        async for event in events:
            record(event)
    finally:
        await events.aclose()


async def run_oracle(job: dict[str, Any], record: Recorder, stop: asyncio.Event) -> None:
    """The task's oracle, step by step through the same tools as a model's calls."""
    group = TOOL_GROUPS_BY_VERSION[ORACLE_TOOL_VERSION]
    tools = ToolCollection(*(cls() for cls in group.tools))
    names = {("editor" if "edit" in t.name else t.name): t.name for t in tools.tools}
    history: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": job["instruction"]}]}
    ]
    steps = 0
    reason, detail = "end_turn", ""
    try:
        for number, step in enumerate(job["oracle"], 1):
            if stop.is_set():
                reason = "stopped"
                break
            steps += 1
            record(StepStarted(step=steps))
            kind = step["type"]
            if kind == "answer":
                block = {"type": "text", "text": step["text"]}
                history.append({"role": "assistant", "content": [block]})
                record(AssistantBlock(block=block))
                continue
            if kind == "wait_window":
                try:
                    await wait_window(step, os.environ)
                except SetupFailed as e:
                    record(ErrorEvent(message=f"oracle step {number}: {e}", error_type="oracle"))
                    reason, detail = "error", str(e)
                    break
                continue
            tool_input = {k: v for k, v in step.items() if k != "type"}
            call = {
                "type": "tool_use",
                "id": f"toolu_oracle_{number:03d}",
                "name": names[kind],
                "input": tool_input,
            }
            history.append({"role": "assistant", "content": [call]})
            record(AssistantBlock(block=call))
            results: list[Any] = []
            failed = None
            async for event in tools.run_turn([call], results=results, stop=stop):
                record(event)
                if isinstance(event, ToolResultEvent) and isinstance(event.result, ToolFailure):
                    failed = event.result.error
            history.append({"role": "user", "content": results})
            if stop.is_set():
                reason = "stopped"
                break
            if failed is not None:
                record(
                    ErrorEvent(
                        message=f"oracle step {number} failed: {failed}", error_type="oracle"
                    )
                )
                reason, detail = "error", failed
                break
    finally:
        await tools.stop()
    record(Done(reason=reason, steps=steps, messages=h.heal(history), detail=detail))  # type: ignore[arg-type]


async def main_async(job: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    trajectory = Trajectory.create(job["session_root"], title=job.get("title", ""))
    record = Recorder(trajectory)
    record(UserMessage(text=job["instruction"]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        if job["mode"] == "oracle":
            await run_oracle(job, record, stop)
        else:
            await run_agent(job, record, stop)
    except Exception as e:  # reported as the task's error, with the session kept
        record(ErrorEvent(message=f"{type(e).__name__}: {e}", error_type="client_error"))
    done = record.done
    return {
        "reason": done.reason if done else "error",
        "detail": done.detail if done else "",
        "steps": done.steps if done else 0,
        "answer": final_answer(done.messages) if done else "",
        "cost_usd": record.cost if record.priced else None,
        "error": record.error,
        "session": str(trajectory.path),
        "agent_s": time.monotonic() - started,
        "memory_private": memory_private(),
    }


def run_job(job: dict[str, Any], out: int) -> int:
    """One job, in a child of the server: the desktop's environment, then the run; the
    result line goes to the file descriptor ``out``."""
    os.environ.update(job["env"])
    use_desktop()  # chosen again, from this desktop's environment (its desktop server)
    os.chdir(job["cwd"])
    result = asyncio.run(main_async(job))
    os.write(out, (json.dumps({"result": result}) + "\n").encode())
    return 0


def _child(job: dict[str, Any]) -> None:
    """The forked child: a session of its own (a timeout ends it and all it started), dies
    with the server, stderr to the job's log; never returns."""
    code = 1
    try:
        os.setsid()
        die_with_parent()
        out = os.dup(1)  # the server's answer pipe, for the result line only
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)  # whatever else is printed goes to the log
        os.dup2(log, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        code = run_job(job, out)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Read jobs (JSON lines) from stdin and run each in a forked child; say its pid, then its
    exit status. The imports are paid once, here, not per task."""
    _say({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job)
        _say({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _say({"exit": os.waitstatus_to_exitcode(status)})
    return 0


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    os.umask(0o077)
    keep_memory_private()  # it holds the key: the desktop's processes must not read it
    raise SystemExit(serve())
