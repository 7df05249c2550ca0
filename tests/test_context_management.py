"""The API's context management on long runs: clearing old tool results and compaction, as
settings, validated by the fake API like the real one, shown in the usage line when they
trigger; compaction blocks kept in the history and sent back as they came."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.context import COMPACTION_BETA, CONTEXT_MANAGEMENT_BETA
from computer_use_demo.agent.events import AssistantBlock, Usage, UserMessage
from computer_use_demo.agent.loop import LoopConfig
from computer_use_demo.agent.models import model_info
from computer_use_demo.sessions.summary import usage_line, usage_totals
from computer_use_demo.sessions.trajectory import Trajectory
from computer_use_demo.tools import FunctionTool, ToolCollection, ToolResult
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.fake_api.validate import Invalid, validate_request
from tests.support.loop import (
    collect,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    of,
    screenshot_tool,
    user,
)
from tests.support.ui import app, ui_home  # noqa: F401 - fixture

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def big_output_tool(chars: int = 240_000) -> FunctionTool:
    """A tool whose output alone passes a 50,000-token prompt (4 characters a token)."""

    async def dump() -> ToolResult:
        return ToolResult(output="log line\n" * (chars // 9))

    return FunctionTool(
        name="dump",
        description="Print the logs",
        input_schema={"type": "object", "properties": {}},
        function=dump,
    )


def test_models_tell_whether_they_support_it_and_default_to_no() -> None:
    info = model_info("some-future-model")
    assert info.context_management is False and info.compaction is False
    cfg = LoopConfig(model="some-future-model")
    assert not cfg.context.active and "context_management" not in cfg.context.request_fields()
    table = LoopConfig(model="claude-sonnet-4-5")
    assert table.model_info.context_management and table.context.clear_tool_uses
    elsewhere = LoopConfig(model="claude-sonnet-4-5", provider="bedrock")  # type: ignore[arg-type]
    assert not elsewhere.context.active, "auto: on the Anthropic API only"


async def test_clearing_is_sent_validated_and_shown_when_it_triggers(
    fake_api: FakeAnthropicAPI,
) -> None:
    steps = 6
    fake_api.push(*(message(tool_use("snap", {})) for _ in range(steps)), message(text("Done.")))
    cfg = config(
        fake_api,
        context_editing=True,
        context_edit_trigger_tokens=200,
        context_edit_keep_tool_uses=2,
    )
    events = await collect(cfg, user("look around"), tools=ToolCollection(screenshot_tool()))
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    first = fake_api.valid_requests[0]
    assert first.body["context_management"] == {
        "edits": [
            {
                "type": "clear_tool_uses_20250919",
                "trigger": {"type": "input_tokens", "value": 200},
                "keep": {"type": "tool_uses", "value": 2},
            }
        ]
    }
    assert CONTEXT_MANAGEMENT_BETA in first.headers["anthropic-beta"]
    last = fake_api.valid_requests[-1].body["messages"]
    images = [
        i
        for m in last
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
        for i in b["content"]
        if i.get("type") == "image"
    ]
    assert 0 < len(images) <= 3 + 2, "our truncation stays: it bounds the request's size"

    usages = of(events, Usage)
    assert usages[0].cleared_tool_uses == 0
    assert usages[-1].cleared_tool_uses == steps - 2 and usages[-1].cleared_input_tokens > 0
    line = usage_line(usage_totals(events))
    assert "old tool results cleared" in line


async def test_compaction_blocks_stay_in_the_history_and_go_back_as_they_came(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    fake_api.push(message(tool_use("dump", {})), message(text("The logs are long.")))
    cfg = config(fake_api, compaction=True, compaction_trigger_tokens=50_000)
    trajectory = Trajectory.create(tmp_path)
    trajectory.append(UserMessage(text="read the logs"))
    events = await collect(cfg, user("read the logs"), tools=ToolCollection(big_output_tool()))
    for event in events:
        trajectory.append(event)
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    requests = fake_api.valid_requests
    assert requests[0].body["context_management"]["edits"] == [
        {"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 50_000}}
    ]
    assert COMPACTION_BETA in requests[0].headers["anthropic-beta"]

    compactions = [e.block for e in of(events, AssistantBlock) if e.block["type"] == "compaction"]
    assert len(compactions) == 1
    history = done(events).messages
    assert history[3]["content"][0] == compactions[0], "kept where it came: first in its answer"
    assert sum(u.compactions for u in of(events, Usage)) == 1
    assert "conversation compacted once" in usage_line(usage_totals(events))

    # Saved and loaded, the session goes on; the block goes back as it came (the fake checks
    # its signature) and the API reads the conversation from it on: no second compaction.
    fake_api.push(message(text("Still here.")))
    again = Trajectory.open(trajectory.path).messages()
    more = await collect(cfg, [*again, *user("and?")], tools=ToolCollection(big_output_tool()))
    assert done(more).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    sent_back = fake_api.valid_requests[-1].body["messages"][3]["content"][0]
    assert {k: v for k, v in sent_back.items() if k != "cache_control"} == compactions[0]
    assert not [e for e in of(more, AssistantBlock) if e.block["type"] == "compaction"]


def test_settings_are_checked_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="at least 50,000"):
        LoopConfig(model="m", compaction_trigger_tokens=10)
    with pytest.raises(ValueError, match="context editing"):
        LoopConfig(model="m", context_edit_keep_tool_uses=-1)


def _body(management: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "context_management": management,
    }


BOTH = {"anthropic-beta": f"{CONTEXT_MANAGEMENT_BETA},{COMPACTION_BETA}"}


@pytest.mark.parametrize(
    ("management", "headers", "error"),
    [
        ({"edits": [{"type": "clear_everything"}]}, BOTH, "does not match any of the expected"),
        ({"edits": [{"type": "clear_tool_uses_20250919"}]}, {}, CONTEXT_MANAGEMENT_BETA),
        (
            {"edits": [{"type": "compact_20260112"}]},
            {"anthropic-beta": CONTEXT_MANAGEMENT_BETA},
            COMPACTION_BETA,
        ),
        (
            {
                "edits": [
                    {"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 9}}
                ]
            },
            BOTH,
            "at least 50000",
        ),
        (
            {
                "edits": [
                    {"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": -1}}
                ]
            },
            BOTH,
            "at least 0",
        ),
        ({"edits": [{"type": "clear_tool_uses_20250919", "after": 3}]}, BOTH, "Extra inputs"),
        (
            {"edits": [{"type": "clear_tool_uses_20250919"}, {"type": "clear_tool_uses_20250919"}]},
            BOTH,
            "once",
        ),
        ({"strategy": "auto"}, BOTH, "an object with `edits`"),
    ],
)
def test_the_fake_api_refuses_bad_context_management(
    management: Any, headers: dict[str, str], error: str
) -> None:
    with pytest.raises(Invalid, match=error) as refused:
        validate_request({**HEADERS, **headers}, _body(management), secret=b"s")
    assert refused.value.status == 400


def test_the_fake_api_refuses_a_compaction_block_changed_on_the_way_back() -> None:
    from tests.fake_api.validate import sign

    block = {"type": "compaction", "content": "Summary.", "signature": sign(b"s", "Summary.")}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [block]},
            {"role": "user", "content": "go on"},
        ],
    }
    validate_request(HEADERS, body, secret=b"s")
    body["messages"][1]["content"] = [{**block, "content": "Edited summary."}]
    with pytest.raises(Invalid, match="signature"):
        validate_request(HEADERS, body, secret=b"s")


def test_cli_flags_become_the_settings() -> None:
    from computer_use_demo.cli import _config, _parser

    args = _parser().parse_args(
        [
            *("--context-editing", "on", "--clear-at", "5000", "--keep-tool-uses", "1"),
            *("--compaction", "off", "--compact-at", "60000", "task"),
        ]
    )
    cfg = _config(args)
    assert (cfg.context_editing, cfg.context_edit_trigger_tokens) == (True, 5000)
    assert cfg.context_edit_keep_tool_uses == 1
    assert (cfg.compaction, cfg.compaction_trigger_tokens) == (False, 60000)
    assert cfg.context.edits()[0]["trigger"]["value"] == 5000
    defaults = _config(_parser().parse_args(["task"]))
    assert defaults.context_editing is None and defaults.compaction is None


def test_the_app_has_the_settings_and_shows_what_the_api_did(
    ui_home: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from computer_use_demo import streamlit as app_module
    from computer_use_demo.app.settings import Settings

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-4242424242")
    trajectory = Trajectory.create(ui_home / "sessions", title="long")
    for event in (
        UserMessage(text="go"),
        Usage(
            input_tokens=120_000, output_tokens=10, cleared_tool_uses=7, cleared_input_tokens=9000
        ),
        Usage(input_tokens=60_000, output_tokens=10, compactions=1),
        AssistantBlock(
            block={"type": "compaction", "content": "The user asked to go.", "signature": "s"}
        ),
    ):
        trajectory.append(event)
    at = app()
    labels = [c.label for c in at.sidebar.checkbox]
    assert "Let the API clear old tool results" in labels
    assert "Let the API compact the conversation" in labels
    captions = " ".join(c.value for c in at.caption)
    assert "7 old tool results cleared (9,000 tokens)" in captions
    assert "conversation compacted once" in captions
    assert "Context compacted by the API" in [e.label for e in at.expander]
    assert "Unrecognised block type" not in captions

    off = app_module.loop_config(
        Settings(model="claude-sonnet-4-5", context_editing=False, compaction=False)
    )
    assert off.context_editing is False and off.compaction is False
    auto = app_module.loop_config(Settings(model="claude-sonnet-4-5"))
    assert auto.context_editing is None and auto.compaction is None
