"""Headless runs in the terminal: ``python -m computer_use_demo "task"`` (and ``… mcp``: the
desktop as an MCP server on stdio, mcp_server/).

Prints each step (Claude's text, tool calls, results, token usage), saves the run as a
trajectory folder, and stops cleanly on Ctrl+C: the running tool is cancelled, the history is
healed and saved. ``--continue PATH`` loads a saved trajectory and goes on with it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import os
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .agent import shutdown
from .agent.events import (
    TRANSIENT,
    ApiExchange,
    AssistantBlock,
    BudgetExceeded,
    Done,
    ErrorEvent,
    Event,
    Paused,
    Resumed,
    RetryWait,
    StepStarted,
    TextDelta,
    ThinkingDelta,
    ToolResultEvent,
    ToolStarted,
    Usage,
    UserMessage,
    redact_event,
    to_json,
)
from .agent.loop import APIProvider, LoopConfig, agent_events
from .agent.models import DEFAULT_MODELS
from .agent.pause import PauseGate
from .agent.redaction import remember_secret, scrub, stream_safe
from .agent.thinking import THINKING_EFFORTS, THINKING_MODES
from .sessions.trajectory import Trajectory
from .tools import TOOL_VERSIONS
from .tools.approval_policy import ACTION_CLASSES, MODES, ApprovalPolicy, ApprovalRequest

#: Exit status per Done reason; 5: the model's response ended the run (a refusal, a cut-off
#: answer, a full context window, an unknown stop reason), said in the last line.
EXIT_CODES = {
    "end_turn": 0,
    "error": 1,
    "max_steps": 3,
    "budget": 4,
    "refusal": 5,
    "max_tokens": 5,
    "context_window_exceeded": 5,
    "unknown_stop_reason": 5,
    "stopped": 130,
    "interrupted": 143,  # SIGTERM: 128 + 15, as a shell reports it
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m computer_use_demo",
        description="Let Claude do a task on this desktop, in the terminal.",
        epilog="Press p to take control of the desktop (the agent pauses after the running "
        "action) and p again to hand it back. "
        "Ctrl+C stops the agent cleanly (twice: at once). Exit status: 0 done, "
        "1 error, 2 usage, 3 step limit reached, 4 budget reached, 5 ended by the model's "
        "response (refusal, cut-off answer, full context window, unknown stop reason), "
        "130 stopped. Evals: python -m computer_use_demo eval --help.",
    )
    p.add_argument("task", nargs="?", help="what Claude should do (optional with --continue)")
    p.add_argument(
        "--provider",
        choices=[x.value for x in APIProvider],
        default=os.environ.get("API_PROVIDER", "anthropic"),
        help="API provider (default: $API_PROVIDER or anthropic)",
    )
    p.add_argument("--model", help="model id (default: $ANTHROPIC_MODEL or the provider's default)")
    p.add_argument("--tool-version", choices=TOOL_VERSIONS, help="default: the model's")
    p.add_argument("--max-steps", type=int, default=200, help="API calls per run (default 200)")
    p.add_argument("--max-tokens", type=int, help="output tokens per step (default: the model's)")
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop before a call that could make this run cost more (dollars)",
    )
    p.add_argument(
        "--max-session-cost",
        type=float,
        metavar="USD",
        help="the same for the whole session, earlier runs of a --continue'd one included",
    )
    p.add_argument("--no-stream", action="store_true", help="print answers only when complete")
    p.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="CLASS=MODE",
        help="bash, typing or click = auto, ask (y/n on the terminal) or deny; repeatable. "
        "Default: ask before bash and typing unless BIND_ADDR is a loopback address",
    )
    p.add_argument(
        "--thinking",
        choices=THINKING_MODES,
        help="thinking mode (default: extended with --thinking-budget, adaptive with --effort, "
        "else the model's default)",
    )
    p.add_argument(
        "--effort",
        choices=THINKING_EFFORTS,
        help="adaptive thinking's effort (default: the model's)",
    )
    p.add_argument("--thinking-budget", type=int, help="extended thinking's budget, in tokens")
    p.add_argument(
        "--keep-images",
        default="3",
        help="send only the N most recent screenshots ('all' sends every one; default 3)",
    )
    p.add_argument(
        "--context-editing",
        choices=("auto", "on", "off"),
        default="auto",
        help="let the API clear old tool results on long runs (auto: where the model supports it)",
    )
    p.add_argument(
        "--clear-at",
        type=int,
        default=100_000,
        metavar="TOKENS",
        help="clear old tool results once the prompt passes this many tokens (default 100000)",
    )
    p.add_argument(
        "--keep-tool-uses",
        type=int,
        default=5,
        metavar="N",
        help="tool uses whose results are never cleared: the newest N (default 5)",
    )
    p.add_argument(
        "--compaction",
        choices=("auto", "on", "off"),
        default="auto",
        help="let the API summarize the conversation on long runs (auto: where supported)",
    )
    p.add_argument(
        "--compact-at",
        type=int,
        default=150_000,
        metavar="TOKENS",
        help="compact once the prompt passes this many tokens (at least 50000; default 150000)",
    )
    p.add_argument("--system-suffix", default="", help="text appended to the system prompt")
    p.add_argument("--api-key", help="default: $ANTHROPIC_API_KEY")
    p.add_argument("--base-url", help="an Anthropic-compatible endpoint ($ANTHROPIC_BASE_URL)")
    p.add_argument(
        "--trajectory-dir",
        type=Path,
        help="where runs are saved (default ~/.anthropic/sessions)",
    )
    p.add_argument("--continue", dest="resume", metavar="PATH", help="continue a saved trajectory")
    p.add_argument("--no-save", action="store_true", help="do not save a trajectory")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    return p


def _approval(given: list[str]) -> ApprovalPolicy:
    modes: dict[str, str] = {}
    for item in given:
        klass, _, mode = item.partition("=")
        if klass not in ACTION_CLASSES or mode not in MODES:
            raise ValueError(
                f"--approve {item!r}: use CLASS=MODE with CLASS one of "
                f"{', '.join(ACTION_CLASSES)} and MODE one of {', '.join(MODES)}"
            )
        modes[klass] = mode
    return ApprovalPolicy.default().with_modes(**modes)


def _config(args: argparse.Namespace) -> LoopConfig:
    provider = APIProvider(args.provider)
    model = args.model or os.environ.get("ANTHROPIC_MODEL") or DEFAULT_MODELS[provider.value]
    keep: int | None
    if str(args.keep_images).lower() == "all":
        keep = None
    else:
        keep = int(args.keep_images)
    return LoopConfig(
        model=model,
        provider=provider,
        api_key=args.api_key,
        base_url=args.base_url,
        tool_version=args.tool_version,
        system_prompt_suffix=args.system_suffix,
        max_tokens=args.max_tokens,
        thinking_mode=args.thinking,
        thinking_effort=args.effort,
        thinking_budget=args.thinking_budget,
        only_n_most_recent_images=keep,
        max_steps=args.max_steps,
        max_run_cost_usd=args.max_cost,
        max_session_cost_usd=args.max_session_cost,
        stream=not args.no_stream,
        approval=_approval(args.approve),
        context_editing=_tristate(args.context_editing),
        context_edit_trigger_tokens=args.clear_at,
        context_edit_keep_tool_uses=args.keep_tool_uses,
        compaction=_tristate(args.compaction),
        compaction_trigger_tokens=args.compact_at,
    )


def _tristate(value: str) -> bool | None:
    """auto / on / off as the loop's None / True / False."""
    return {"auto": None, "on": True, "off": False}[value]


# ---------------------------------------------------------------- printing


def _png_size(data: str) -> str:
    try:
        head = base64.b64decode(data[:44])
    except (binascii.Error, ValueError):
        return "image"
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return f"screenshot {w}x{h}"
    return "image"


def _clip(text: str, lines: int = 12, width: int = 2000) -> str:
    text = text[:width]
    rows = text.splitlines()
    if len(rows) > lines:
        rows = [*rows[:lines], f"… ({len(rows) - lines} more lines)"]
    return "\n".join(rows)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _content(block: dict[str, Any]) -> tuple[Any, Any]:
    return block.get("type"), block.get("text", block.get("thinking"))


class Printer:
    """Turns events into readable lines."""

    def __init__(self, out: TextIO, *, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json
        # What streamed in this step, per block index: (kind, text so far, characters printed:
        # only what may be shown, so a secret split across pieces never is).
        self.streamed: dict[int, tuple[str, str, int]] = {}
        self.line_open = False  # a streamed line is waiting for its end

    def __call__(self, event: Event) -> None:
        event = redact_event(event)  # a key the model echoed, a token a command printed
        if self.as_json:
            data = to_json(event)
            print(json.dumps(data, default=str), file=self.out, flush=True)
            return
        if isinstance(event, (TextDelta, ThinkingDelta)):
            self.stream(event)
            return
        if self.line_open:
            print(file=self.out, flush=True)
            self.line_open = False
        if isinstance(event, AssistantBlock):
            for index, (kind, raw, shown) in self.streamed.items():
                if (kind, scrub(raw)) == _content(event.block):
                    # Printed while it streamed, but for what was held back at its end.
                    if rest := scrub(raw)[shown:]:
                        print(rest, file=self.out, flush=True)
                    self.streamed[index] = (kind, raw, len(scrub(raw)))
                    return
        if isinstance(event, StepStarted):
            self.streamed.clear()
        text = self.render(event)
        if text is not None:
            print(text, file=self.out, flush=True)

    async def count_down(self, wait: RetryWait) -> None:
        """Rewrite a retry's line each second until it goes out (a terminal only; the next
        event cancels this)."""
        width = 0
        while True:
            line = f"  (API {wait.text(time.time())})"
            self.out.write("\r" + line.ljust(width))
            self.out.flush()
            width = len(line)
            self.line_open = True
            if wait.left(time.time()) <= 0:
                return
            await asyncio.sleep(min(1.0, wait.left(time.time())) or 1.0)

    def stream(self, event: TextDelta | ThinkingDelta) -> None:
        """Print a piece of the answer as it arrives, each block on its own line."""
        kind, piece = (
            ("text", event.text) if isinstance(event, TextDelta) else ("thinking", event.thinking)
        )
        new = event.index not in self.streamed
        _, raw, shown = self.streamed.get(event.index, (kind, "", 0))
        raw += piece
        visible = stream_safe(raw)
        piece = visible[shown:]
        self.streamed[event.index] = (kind, raw, len(visible))
        if new:  # a new block begins
            if self.line_open:
                print(file=self.out)
            piece = ("Claude: " if kind == "text" else "    (thinking) ") + piece
        self.out.write(piece)
        self.out.flush()
        self.line_open = True

    def render(self, event: Event) -> str | None:
        match event:
            case UserMessage(text=text):
                return f"You: {text}"
            case StepStarted(step=step):
                return f"\n── step {step} ──"
            case AssistantBlock(block=block):
                kind = block.get("type")
                if kind == "text":
                    return f"Claude: {block['text']}"
                if kind == "thinking":
                    return _indent(f"(thinking) {_clip(block.get('thinking', ''), 6, 600)}")
                if kind == "redacted_thinking":
                    return "    (redacted thinking)"
                if kind == "tool_use":
                    return None  # shown by ToolStarted, with its input
                return f"    ({kind})"
            case ToolStarted(name=name, input=tool_input, toolset_name=toolset):
                args = json.dumps(tool_input, ensure_ascii=False)
                label = f"{toolset}.{name}" if toolset else name  # computer.left_click
                return f"→ {label} {args if len(args) < 300 else args[:300] + '…'}"
            case ToolResultEvent(result=result):
                parts = []
                if result.error:
                    parts.append(f"← error: {_clip(result.error)}")
                if result.output:
                    parts.append("← " + _clip(result.output).replace("\n", "\n  "))
                if result.base64_image:
                    parts.append(f"← [{_png_size(result.base64_image)}]")
                if result.system:
                    parts.append(f"  ({result.system})")
                return "\n".join(parts) or "← (no output)"
            case Usage() as u:
                cost = f" · ${u.cost_usd:.4f} (run ${u.total_cost_usd:.4f})" if u.cost_usd else ""
                if u.cost_usd is None:
                    cost = " · no price for this model"
                cache = ""
                if u.cache_creation_input_tokens or u.cache_read_input_tokens:
                    cache = (
                        f" (cache: +{u.cache_creation_input_tokens} written, "
                        f"{u.cache_read_input_tokens} read)"
                    )
                context = ""
                if u.cleared_tool_uses:
                    context += f" · {u.cleared_tool_uses} old tool results cleared"
                if u.compactions:
                    context += " · conversation compacted"
                return f"  tokens: in {u.input_tokens}{cache}, out {u.output_tokens}{cost}{context}"
            case ApiExchange(status=status, error=error) if (status or 0) >= 400 or error:
                return f"  (API: {status or error})"  # a RetryWait follows if it is retried
            case RetryWait() as wait:
                return f"  (API {wait.text(time.time())})"
            case BudgetExceeded() as over:
                return over.message
            case Paused(skipped=skipped):
                note = f" ({skipped} action(s) not run)" if skipped else ""
                return f"⏸ Paused{note}: the desktop is yours. Press p to hand it back."
            case Resumed(screenshot=screenshot):
                shot = " and a fresh screenshot" if screenshot else ""
                return f"▶ Handed back: Claude is told{shot}."
            case ErrorEvent(message=message, status=status):
                return f"Error{f' {status}' if status else ''}: {message}"
            case Done(reason=reason, steps=steps, detail=detail):
                line = f"\nDone: {reason} after {steps} step{'s' if steps != 1 else ''}."
                return f"{line}\n{detail}" if detail else line
        return None


# ---------------------------------------------------------------- running


class TerminalKeys:
    """Single key presses from the terminal while the agent runs (cbreak mode: Ctrl+C still
    interrupts). Does nothing when stdin is not a terminal."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_key: Callable[[str], None]) -> None:
        self.loop = loop
        self.on_key = on_key
        self.fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
        self.saved: Any = None

    def __enter__(self) -> TerminalKeys:
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
            self.loop.add_reader(self.fd, self._read)
        return self

    def _read(self) -> None:
        data = os.read(self.fd, 32) if self.fd is not None else b""  # type: ignore[arg-type]
        for key in data.decode(errors="ignore"):
            self.on_key(key)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.loop.remove_reader(self.fd)
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


async def run(args: argparse.Namespace, config: LoopConfig, out: TextIO) -> int:
    printer = Printer(out, as_json=args.json)
    trajectory: Trajectory | None = None
    messages: list[Any] = []
    spent = 0.0  # by the earlier runs of a continued session (for --max-session-cost)
    if args.resume:
        trajectory = Trajectory.open(args.resume)
        trajectory.close_interrupted()  # a run the app's (or our) death cut off: say so
        messages = list(trajectory.messages())
        spent = sum(e.cost_usd or 0.0 for e in trajectory.events() if isinstance(e, Usage))
    elif not args.no_save:
        title = (args.task or "")[:80]
        trajectory = Trajectory.create(args.trajectory_dir, title=title)

    def record(event: Event, *, show: bool = True) -> None:
        if show:
            printer(event)
        if trajectory is not None and not isinstance(event, TRANSIENT):
            try:
                trajectory.append(event)
            except OSError as e:  # a full disk must not stop the run
                print(f"(could not save the trajectory: {e})", file=sys.stderr)

    if args.task:
        messages.append({"role": "user", "content": [{"type": "text", "text": args.task}]})
        record(UserMessage(text=args.task))
    elif not messages or messages[-1]["role"] != "user":
        print("nothing to continue: give a task", file=sys.stderr)
        return 2
    if trajectory is not None:
        print(f"trajectory: {trajectory.path}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    presses = 0

    def on_signal() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            print("\nStopping… (Ctrl+C again to quit at once)", file=sys.stderr, flush=True)
            stop.set()
        elif main_task is not None:
            main_task.cancel()

    gate = PauseGate()
    answer: asyncio.Future[bool] | None = None

    async def ask(request: ApprovalRequest) -> bool:
        """An action the policy puts to the person: y runs it, any other key refuses it."""
        nonlocal answer
        # On the terminal (stderr: stdout stays the run's record, JSON lines with --json).
        what = scrub(request.description)
        print(f"\n? Allow {what} ? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = loop.create_future()
        try:
            approved = await answer
        finally:
            answer = None
        verdict = "yes" if approved else "no (Claude is told you denied it)"
        print(verdict, file=sys.stderr, flush=True)
        return approved

    def on_key(key: str) -> None:
        if answer is not None and not answer.done():
            answer.set_result(key.lower() == "y")
            return
        if key.lower() != "p":
            return
        if gate.paused:
            gate.hand_back()
            print("\nHanding the desktop back…", file=sys.stderr, flush=True)
        else:
            gate.take()
            print(
                "\nTaking control: the agent pauses after the running action…",
                file=sys.stderr,
                flush=True,
            )

    def on_term() -> None:
        """SIGTERM: the machine or container is going down, and the desktop with it. No API
        call leaves from now on (not even a retry); the run ends interrupted."""
        shutdown.begin()
        stop.set()

    loop.add_signal_handler(signal.SIGINT, on_signal)
    loop.add_signal_handler(signal.SIGTERM, on_term)
    reason = "error"
    keys = TerminalKeys(loop, on_key)
    events = agent_events(
        config,
        messages,
        stop=stop,
        session_spent_usd=spent,
        pause=gate,
        ask=ask if keys.fd is not None else None,  # no terminal: nobody to ask, so refused
    )
    held = trajectory.running() if trajectory is not None else contextlib.nullcontext()
    ticker: asyncio.Task[None] | None = None
    live = not args.json and out.isatty()
    try:
        with held, keys:
            async for event in events:
                if ticker is not None:
                    ticker.cancel()
                    ticker = None
                counting = isinstance(event, RetryWait) and live
                record(event, show=not counting)
                if counting:  # the wait counts down in place
                    ticker = asyncio.create_task(printer.count_down(event))  # type: ignore[arg-type]
                if isinstance(event, Done):
                    reason = event.reason
    except asyncio.CancelledError:
        reason = "stopped"
    finally:
        if ticker is not None:
            ticker.cancel()
        await events.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if trajectory is not None:
        print(f"saved: {trajectory.path}", file=sys.stderr, flush=True)
    return EXIT_CODES.get(reason, 1)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:  # python -m computer_use_demo eval …: evals/cli.py
        from .evals.cli import main as eval_main

        return eval_main(argv[1:])
    if argv == ["mcp"]:  # python -m computer_use_demo mcp: this desktop as an MCP server, stdio
        from .mcp_server.server import run_stdio

        os.umask(0o077)  # the sessions run_task saves are this user's alone
        return run_stdio()
    # What the run saves (session folders, events, screenshots) is its user's alone.
    os.umask(0o077)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.task is not None and not args.task.strip():
        args.task = None  # whitespace only: the API refuses it, so it is no task
    if not args.task and not args.resume:
        parser.error("give a task (or --continue PATH)")
    try:
        config = _config(args)
    except ValueError as e:
        parser.error(str(e))
    remember_secret(config.api_key)  # redacted from what is printed and saved
    try:
        return asyncio.run(run(args, config, sys.stdout))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a Ctrl+C before the handlers were installed
        return EXIT_CODES["stopped"]
