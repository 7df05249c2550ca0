"""What the task API and the MCP server do with sessions: open, list, describe, start a run,
stop it, answer its approval, take and hand back the desktop.

A run started here is a real run of the chat's own runner (app/runner.py: the loop in a
thread of its own, every event saved to the session as it comes), in the door's process. The
chat follows it from the session's folder; the one-agent-per-desktop lock holds across both
processes. A run of the chat's process is stopped and approved through the session folder
(sessions/live.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from ..agent.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AssistantBlock,
    Done,
    Event,
    UserMessage,
    redact_event,
)
from ..agent.loop import LoopConfig
from ..agent.pause import PauseGate
from ..agent.redaction import remember_secret
from ..app import runner
from ..app.settings import (
    auth_error,
    default_model,
    load_settings,
    loop_config,
    sessions_dir,
    settings_problem,
)
from ..desktop.lock import DesktopBusy
from ..sessions import live
from ..sessions.summary import usage_totals
from ..sessions.trajectory import Trajectory, TrajectoryInfo, list_trajectories
from . import feed
from .schemas import (
    LastRun,
    PendingApproval,
    RunSettings,
    SessionInfo,
    SessionState,
    UsageSummary,
)

SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TASK_API = "task API"


class ApiError(Exception):
    """A request that cannot be done: its HTTP status, what is wrong, who holds the desktop."""

    def __init__(self, status: int, detail: str, holder: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.holder = holder


def root() -> Path:
    return sessions_dir()


def open_session(session_id: str) -> Trajectory:
    """The saved session ``session_id``; ApiError 404 when there is none."""
    path = root() / session_id
    if not SESSION_ID.match(session_id) or not path.is_dir():
        raise ApiError(404, f"no session {session_id!r}")
    try:
        return Trajectory.open(path)
    except (OSError, ValueError) as e:
        raise ApiError(404, f"session {session_id!r} cannot be read: {e}") from e


def create_session(title: str = "") -> Trajectory:
    try:
        return Trajectory.create(root(), title=title.strip())
    except OSError as e:  # the folder is unusable: the server's problem, said plainly
        raise ApiError(507, f"cannot create the session folder under {root()}: {e}") from e


def runs_in(trajectory: Trajectory) -> str | None:
    """Who runs the session now: ``task API (pid 12)``, ``chat app (pid 34)``, or None."""
    run = runner.active_run(trajectory.id)
    if run is not None:
        return f"{run.owner} (pid {os.getpid()})"
    other = live.running_elsewhere(trajectory.path)
    if other is not None:
        return f"{other.get('owner') or 'another process'} (pid {other['pid']})"
    return None


def info(item: TrajectoryInfo) -> SessionInfo:
    trajectory = Trajectory(item.path, id=item.id, title=item.title)
    where = runs_in(trajectory)
    return SessionInfo(
        id=item.id,
        title=item.title,
        created=item.created,
        updated=item.updated,
        steps=item.steps,
        running=where is not None,
        running_in=where,
    )


def list_sessions() -> list[SessionInfo]:
    return [info(item) for item in list_trajectories(root())]


def events_of(trajectory: Trajectory) -> list[Event]:
    """Every event of the session so far: live from a run of this process, else saved."""
    run = runner.current_run(trajectory)
    if run is not None:
        return run.snapshot()[1]
    return runner.session_events(trajectory)


def pending(trajectory: Trajectory, events: list[Event]) -> ApprovalAsked | None:
    run = runner.active_run(trajectory.id)
    if run is not None:
        return run.pending_approval()
    if live.running_elsewhere(trajectory.path) is None:
        return None
    answered = {e.id for e in events if isinstance(e, ApprovalAnswered)}
    asked = [e for e in events if isinstance(e, ApprovalAsked) and e.id not in answered]
    return asked[-1] if asked else None


def last_run(events: list[Event]) -> LastRun | None:
    done_at = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], Done)), -1)
    if done_at < 0:
        return None
    done = events[done_at]
    assert isinstance(done, Done)
    start = next((i for i in range(done_at, -1, -1) if isinstance(events[i], UserMessage)), 0)
    texts = [
        e.block.get("text", "")
        for e in events[start:done_at]
        if isinstance(e, AssistantBlock) and e.block.get("type") == "text"
    ]
    return LastRun(
        reason=done.reason, steps=done.steps, detail=done.detail, answer=texts[-1] if texts else ""
    )


def state(trajectory: Trajectory, base_url: str = "/api") -> SessionState:
    events = events_of(trajectory)
    totals = usage_totals(events)
    asked = pending(trajectory, events)
    if asked is not None:  # a known secret in the command is not shown
        shown = redact_event(asked)
        asked = shown if isinstance(shown, ApprovalAsked) else asked
    where = runs_in(trajectory)
    item = trajectory.info()
    url = f"{base_url}/sessions/{trajectory.id}"
    return SessionState(
        id=trajectory.id,
        title=trajectory.title,
        created=item.created,
        updated=item.updated,
        steps=item.steps,
        running=where is not None,
        running_in=where,
        paused=runner.desktop_gate().paused,
        pending_approval=PendingApproval(
            id=asked.id,
            tool_name=asked.tool_name,
            action=asked.action,
            action_class=asked.action_class,
            description=asked.description,
            input=asked.input,
            image=asked.image,
        )
        if asked is not None
        else None,
        usage=UsageSummary(
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cache_read_input_tokens=totals.cache_read,
            cache_creation_input_tokens=totals.cache_write,
            responses=totals.responses,
            cost_usd=totals.cost_usd if totals.cost_known else None,
        ),
        last_run=last_run(events),
        links={
            "self": url,
            "events": f"{url}/events",
            "replay": f"{url}/replay",
            "raw": f"{url}/events.jsonl",
            "watch": f"/chat/?session={trajectory.id}",
        },
    )


def run_config(requested: RunSettings) -> LoopConfig:
    """The chat's saved settings with the requested ones on top, checked as the chat checks
    them; ApiError 422 saying what is wrong."""
    base = load_settings()
    given = requested.model_dump(exclude_none=True)
    provider = given.pop("provider", None)
    model = given.pop("model", None)
    max_steps = given.pop("max_steps", None)
    if provider is not None and provider != base.provider:
        base = replace(base, provider=provider).with_model(model or default_model(provider))
    elif model is not None and model.strip() != base.model:
        base = base.with_model(model.strip())
    settings = replace(base, **given)
    remember_secret(
        settings.api_key
    )  # a saved key: redacted wherever it turns up, as the chat does
    problem = settings_problem(settings)
    if problem is None:
        problem = auth_error(settings.provider, settings.api_key)
    if problem is not None:
        raise ApiError(422, problem)
    try:
        config = loop_config(settings)
        if max_steps is not None:
            config = replace(config, max_steps=max_steps)
    except ValueError as e:
        raise ApiError(422, str(e)) from e
    return config


def start_run(
    trajectory: Trajectory,
    text: str,
    config: LoopConfig,
    *,
    interrupt: bool = False,
    owner: str = TASK_API,
) -> runner.SessionRun:
    """Send ``text`` in the session: a run of the agent loop starts. ApiError 409 while an
    agent works (here, in another session, or in another process), 422 for an empty text."""
    mine = runner.active_run(trajectory.id)
    if mine is not None and not interrupt:
        raise ApiError(
            409,
            f"a run is already going in this session (started by the {mine.owner}); stop it "
            "first, or send with interrupt: true",
            holder=f"{mine.owner} (pid {os.getpid()})",
        )
    elsewhere = live.running_elsewhere(trajectory.path)
    if elsewhere is not None:
        who = f"{elsewhere.get('owner') or 'another process'} (pid {elsewhere['pid']})"
        raise ApiError(409, f"this session's agent works in the {who}; stop it first", who)
    try:
        return runner.send_message(
            trajectory,
            config,
            text,
            owner=owner,
            listeners=[feed.feed_for(trajectory).publish],
        )
    except DesktopBusy as e:  # another session here, or another process (chat, CLI)
        holder = e.holder
        if isinstance(e, runner.OtherSessionRunning):
            holder = f"{e.run.owner}, session {e.run.trajectory.id} (pid {os.getpid()})"
        raise ApiError(409, str(e), holder=holder) from e
    except ValueError as e:
        raise ApiError(422, str(e)) from e
    except RuntimeError as e:  # a run that would not stop
        raise ApiError(409, str(e)) from e


def stop(trajectory: Trajectory) -> bool:
    """Stop the session's run (here, or in the chat's process); whether one was running."""
    run = runner.active_run(trajectory.id)
    if run is not None:
        run.stop()
        return True
    if live.running_elsewhere(trajectory.path) is not None:
        live.request_stop(trajectory.path)
        return True
    return False


def answer(trajectory: Trajectory, approval_id: str, approved: bool) -> None:
    """The person's answer to the session's pending approval; ApiError 404 when that
    approval is not the one pending."""
    run = runner.active_run(trajectory.id)
    if run is not None:
        if not run.answer(approval_id, approved):
            raise ApiError(404, f"no pending approval {approval_id!r} in this session")
        return
    asked = pending(trajectory, events_of(trajectory))
    if asked is None or asked.id != approval_id:
        raise ApiError(404, f"no pending approval {approval_id!r} in this session")
    live.send_answer(trajectory.path, approval_id, approved)


def gate() -> PauseGate:
    return runner.desktop_gate()
