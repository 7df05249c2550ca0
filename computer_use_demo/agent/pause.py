"""Take over and hand back: the person pauses the agent at a step boundary, uses the desktop,
and gives it back; the run then goes on with a note and a fresh screenshot.

A ``PauseGate`` is set and cleared from any thread (the chat app's buttons, the combined
page's toggle through its server, the CLI's key reader). The loop looks at it at two step
boundaries: before an API call (the running tool has finished) and before a turn's tool calls
run (the API call in flight has finished; its calls are answered "not run" rather than done
on a picture the person has since changed). While paused no API call is made.

With a ``path`` the gate's state is a file (the combined page's server and the chat app share
the desktop's state folder), so a reload, a second tab or the other page sees it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from ..tools.base import ToolFailure
from . import history as h
from . import private_files
from .events import Paused, Resumed, ToolResultEvent

#: Where the person's control of the desktop is noted (image/start_webapp.sh sets it).
CONTROL_FILE_ENV = "CONTROL_FILE"
POLL_SECONDS = 0.1

HANDED_BACK = (
    "(The person took control of the desktop and has now handed it back. They may have "
    "moved the mouse, typed, or opened and closed windows: do not rely on earlier "
    "screenshots. This is the screen now.)"
)
NOT_RUN = (
    "Not run: the person took control of the desktop before this action. The screen may "
    "have changed; look at the new screenshot and decide again."
)


def control_file(env: Mapping[str, str] | None = None) -> Path:
    """The desktop's control file: ``$CONTROL_FILE``, else next to the desktop's state
    (the default STATE_DIR of image/lib.sh)."""
    env = os.environ if env is None else env
    if env.get(CONTROL_FILE_ENV):
        return Path(env[CONTROL_FILE_ENV])
    state = env.get("STATE_DIR") or f"/tmp/computer-use-{env.get('DISPLAY_NUM', '1')}"
    return Path(state) / "person-in-control"


class PauseGate:
    """Whether the person holds the desktop. Thread-safe; the loop only reads it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._held = threading.Event()

    @property
    def paused(self) -> bool:
        if self.path is not None:
            return self.path.exists()
        return self._held.is_set()

    def take(self) -> None:
        """The person takes the desktop: the agent pauses at its next step boundary."""
        if self.path is not None:
            private_files.private_dir(self.path.parent)
            private_files.touch(self.path)
        self._held.set()

    def hand_back(self) -> None:
        """The person gives the desktop back: a paused run goes on."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._held.clear()

    async def wait_released(self, stop: asyncio.Event) -> bool:
        """Wait until handed back (True) or a stop request (False)."""
        while self.paused:
            if stop.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        return not stop.is_set()


async def fresh_screenshot(tools: Any) -> str | None:
    """A screenshot of the desktop as the model's computer tool sees it (its scaling), or None
    when the run has no computer tool or the screen cannot be read."""
    for tool in getattr(tools, "tools", ()):
        screen = getattr(tool, "screen", None)
        if screen is not None and hasattr(screen, "screenshot"):
            try:
                return await screen.screenshot(settle=True)
            except Exception:
                return None
    return None


def note_blocks(text: str, screenshot: str | None) -> list[dict[str, Any]]:
    """What the model reads when the desktop comes back: the note, and the screen now."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if screenshot:
        media = h.image_media_type(screenshot)
        source = {"type": "base64", "media_type": media, "data": screenshot}
        blocks.append({"type": "image", "source": source})
    return blocks


async def hold(
    gate: PauseGate,
    run: Any,
    tools: Any,
    stop: asyncio.Event,
    *,
    pending: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> AsyncIterator[Paused | Resumed | ToolResultEvent]:
    """Pause ``run`` (its ``history`` and ``steps``) until the gate opens or a stop.

    ``pending`` are tool_use blocks that will not run: each is answered ``NOT_RUN`` at once,
    so the history stays valid whatever happens next. On hand-back the note and a fresh
    screenshot join the last user turn.
    """
    answers = h.not_run_results(pending, NOT_RUN)  # a toolset's batch: the rest halted
    for call, answer in zip(pending, answers, strict=True):
        yield ToolResultEvent(
            tool_use_id=call["id"],
            name=call["name"],
            result=ToolFailure(error=answer["content"]),
            toolset_name=call.get("toolset_name"),
        )
    if answers:
        run.history = [*run.history, {"role": "user", "content": answers}]
    yield Paused(step=run.steps, skipped=len(pending))
    if not await gate.wait_released(stop):
        return
    screenshot = await fresh_screenshot(tools)
    blocks = note_blocks(HANDED_BACK, screenshot)
    run.history = h.heal([*run.history, {"role": "user", "content": blocks}])
    yield Resumed(text=HANDED_BACK, screenshot=screenshot)
