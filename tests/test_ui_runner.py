"""The chat app's runner: one tool set per session, so bash keeps its state across messages."""

from __future__ import annotations

import time
from pathlib import Path

from computer_use_demo.agent.events import (
    TRANSIENT,
    AssistantBlock,
    BudgetExceeded,
    ToolResultEvent,
)
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions.trajectory import Trajectory
from tests.fake_api import message, text, tool_use
from tests.support.loop import config, fake_api_fixture  # noqa: F401 - fixture

SHELL_STATE = 'echo "$GREETING from $(pwd)"'


def _bash_outputs(run: ui_runner.SessionRun) -> list[str]:
    return [e.result.output for e in run.snapshot()[1] if isinstance(e, ToolResultEvent)]


def test_bash_state_survives_the_next_user_message(fake_api, tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="state")
    cfg = config(fake_api)
    try:
        fake_api.push(
            message(tool_use("bash", {"command": f"cd {tmp_path} && export GREETING=hello"})),
            message(text("Done.")),
        )
        first = ui_runner.send_message(trajectory, cfg, "remember this")
        assert first.wait(60) is not None and first.done.reason == "end_turn"

        fake_api.push(message(tool_use("bash", {"command": SHELL_STATE})), message(text("Ok.")))
        second = ui_runner.send_message(trajectory, cfg, "what do you remember?")
        assert second.wait(60) is not None and second.done.reason == "end_turn"

        assert _bash_outputs(second)[-1] == f"hello from {tmp_path}"
        assert not fake_api.invalid_requests
    finally:
        ui_runner.stop_all(timeout=15)


def test_a_new_tool_version_gets_a_new_shell(fake_api, tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="versions")
    try:
        old = ui_runner.session_tools(
            trajectory.id, config(fake_api, tool_version="computer_use_20250124")
        )
        assert (
            ui_runner.session_tools(
                trajectory.id, config(fake_api, tool_version="computer_use_20250124")
            )
            is old
        )
        new = ui_runner.session_tools(
            trajectory.id, config(fake_api, tool_version="computer_use_20241022")
        )
        assert new is not old
        assert [t.api_type for t in new.tools][-1] == "bash_20241022"
    finally:
        ui_runner.stop_all(timeout=15)


def test_streamed_text_is_live_while_it_streams_and_saved_whole(fake_api, tmp_path: Path) -> None:
    story = "One piece after another, the answer arrives while the page watches it come."
    trajectory = Trajectory.create(tmp_path / "sessions", title="live")
    cfg = config(fake_api, max_session_cost_usd=1.0)
    try:
        fake_api.push(message(text(story), chunk_delay=0.1))
        run = ui_runner.send_message(trajectory, cfg, "talk")
        seen: list[str] = []
        while run.running:
            blocks = run.live()[1]
            if blocks:
                seen.append(blocks[0]["text"])
            time.sleep(0.05)
        assert seen and seen[0] != story and story.startswith(seen[0])  # partial, growing
        assert run.live()[1] == []  # the final block replaced the live text
        saved = Trajectory.open(trajectory.path).events()
        assert not any(isinstance(e, TRANSIENT) for e in saved + run.snapshot()[1])
        assert [e.block["text"] for e in saved if isinstance(e, AssistantBlock)] == [story]
        # The session's spend so far counts against its cap in the next run.
        second = ui_runner.send_message(
            trajectory, config(fake_api, max_session_cost_usd=0.001), "more"
        )
        assert second.wait(30) is not None and second.done.reason == "budget"
        (over,) = [e for e in second.run_events() if isinstance(e, BudgetExceeded)]
        assert over.scope == "session" and over.spent_usd > 0
    finally:
        ui_runner.stop_all(timeout=15)
