"""The pure history transforms: healing, image truncation, cache breakpoints, the request body.

A history is "valid" here when the fake Messages API's validator (written independently from
the API's rules) accepts a request carrying it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from anthropic.types.beta import BetaMessage

from computer_use_demo.agent import history as h
from computer_use_demo.agent.request import RequestBody
from computer_use_demo.tools import CLIResult, ToolFailure, ToolResult
from tests.fake_api.server import DEFAULT_SECRET
from tests.fake_api.validate import Invalid, count_cache_control, sign, validate_request
from tests.support.images import png_b64

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def accepted(messages: list[dict[str, Any]]) -> bool:
    body = {"model": "m", "max_tokens": 100, "messages": messages}
    try:
        validate_request(HEADERS, body, secret=DEFAULT_SECRET)
    except Invalid as e:
        pytest.fail(f"the API would refuse this history: {e.message}")
    return True


def tool_use(id: str, name: str = "bash") -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": {"command": "ls"}}


def result(id: str, text: str = "ok") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": id, "content": text, "is_error": False}


def shot_result(id: str, image: str) -> dict[str, Any]:
    return h.tool_result_block(ToolResult(output=f"shot {id}", base64_image=image), id)


def screenshot_run(steps: int) -> list[dict[str, Any]]:
    """A history of ``steps`` tool calls, each answered with a screenshot."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": "go"}]}]
    for i in range(steps):
        messages.append({"role": "assistant", "content": [tool_use(f"t{i}", "computer")]})
        messages.append({"role": "user", "content": [shot_result(f"t{i}", png_b64(8 + i, 8))]})
    return messages


# ---------------------------------------------------------------- tool results and responses


def response(*content: dict[str, Any]) -> BetaMessage:
    """An API response with these content blocks, as the SDK parses it."""
    return BetaMessage.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "content": list(content),
        }
    )


def test_tool_result_block_carries_output_image_and_system_note() -> None:
    image = png_b64()
    block = h.tool_result_block(ToolResult(output="done", base64_image=image, system="s"), "id1")
    assert block["tool_use_id"] == "id1" and block["is_error"] is False
    assert block["content"][0] == {"type": "text", "text": "<system>s</system>\ndone"}
    assert block["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": image,
    }


def test_tool_result_block_of_a_tool_error_is_an_error_string() -> None:
    block = h.tool_result_block(ToolFailure(error="boom"), "id2")
    assert block["is_error"] is True and block["content"] == "boom"
    # the reference's convention for a tool's own ToolResult(error=...) holds too
    assert h.tool_result_block(ToolResult(error="boom"), "id2")["is_error"] is True


def test_a_command_gets_stdout_and_stderr_both_error_only_on_a_failing_exit() -> None:
    # `curl URL | head`: curl's progress meter on stderr, the page on stdout, exit 0
    ok = h.tool_result_block(CLIResult(output="<html>", error="% Total", exit_code=0), "a")
    assert ok["is_error"] is False
    assert ok["content"] == [{"type": "text", "text": "stdout:\n<html>\nstderr:\n% Total"}]
    # `ls file /missing`: the listing and the complaint, exit 2
    bad = h.tool_result_block(
        CLIResult(output="file\n", error="ls: cannot access '/missing'", exit_code=2), "b"
    )
    assert bad["is_error"] is True
    assert bad["content"] == (
        "stdout:\nfile\n\nstderr:\nls: cannot access '/missing'\nexit status 2"
    )
    assert h.tool_result_block(CLIResult(exit_code=1), "c")["content"] == "exit status 1"


def test_a_screenshot_with_warnings_is_no_failure_and_keeps_both() -> None:
    image = png_b64()
    block = h.tool_result_block(ToolResult(error="xdotool: warning", base64_image=image), "w")
    assert block["is_error"] is False
    assert block["content"][0] == {"type": "text", "text": "xdotool: warning"}
    assert block["content"][1]["source"]["data"] == image


def test_a_system_note_alone_is_sent_not_an_empty_result() -> None:
    block = h.tool_result_block(ToolResult(system="tool has been restarted."), "r")
    assert block["content"] == [
        {"type": "text", "text": "<system>tool has been restarted.</system>"}
    ]
    assert block["is_error"] is False


def test_no_whitespace_only_text_leaves_a_tool_result() -> None:
    for result in (CLIResult(output="\n", exit_code=0), ToolResult(output=" \t", error="\n")):
        block = h.tool_result_block(result, "x")
        assert block["content"] == [] and block["is_error"] is False
    block = h.tool_result_block(CLIResult(output="\n", error="oops", exit_code=0), "y")
    assert block["content"] == [{"type": "text", "text": "oops"}]


def test_jpeg_screenshots_are_labelled_jpeg() -> None:
    assert h.image_media_type("/9j/4AAQSkZJRg") == "image/jpeg"
    assert h.image_media_type(png_b64()) == "image/png"


def test_response_to_params_keeps_thinking_signature_and_drops_empty_text() -> None:
    message = response(
        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": ""},
        {"type": "text", "text": "Let me look."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "computer",
            "input": {"action": "screenshot"},
        },
    )
    assert h.response_to_params(message.content) == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Let me look."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "computer",
            "input": {"action": "screenshot"},
        },
    ]


def test_toolset_member_calls_keep_their_toolset_name() -> None:
    """A member tool_use keeps ``toolset_name`` when sent back; its result echoes it."""
    message = response(
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "left_click",
            "input": {"coordinate": [1, 2]},
            "toolset_name": "computer",
        },
        {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"command": "ls"}},
    )
    member, plain = h.response_to_params(message.content)
    assert member["toolset_name"] == "computer" and "toolset_name" not in plain
    block = h.tool_result_block(ToolResult(output="Clicked."), "toolu_1", toolset_name="computer")
    assert block["toolset_name"] == "computer"
    assert "toolset_name" not in h.tool_result_block(ToolResult(output="x"), "toolu_2")
    # A stop leaves both unanswered: heal answers each, the member's with its toolset_name.
    healed = h.heal(
        [{"role": "user", "content": "go"}, {"role": "assistant", "content": [member, plain]}]
    )
    answers = healed[-1]["content"]
    assert [(a["tool_use_id"], a.get("toolset_name")) for a in answers] == [
        ("toolu_1", "computer"),
        ("toolu_2", None),
    ]


# ---------------------------------------------------------------- healing


def test_heal_answers_every_tool_use_of_a_stopped_turn() -> None:
    messages = [
        {"role": "user", "content": "do two things"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "ok"}, tool_use("a"), tool_use("b")],
        },
    ]
    original = copy.deepcopy(messages)
    healed = h.heal(messages)
    assert messages == original, "heal must not mutate its input"
    assert healed[-1]["role"] == "user"
    assert [(b["tool_use_id"], b["content"], b["is_error"]) for b in healed[-1]["content"]] == [
        ("a", h.STOPPED_BY_USER, True),
        ("b", h.STOPPED_BY_USER, True),
    ]
    assert accepted(healed)


def test_heal_completes_partial_results_and_puts_them_before_the_new_text() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {"role": "assistant", "content": [tool_use("a"), tool_use("b")]},
        {"role": "user", "content": [result("a", "first done")]},
        {"role": "user", "content": [{"type": "text", "text": "actually, stop"}]},
    ]
    healed = h.heal(messages)
    assert len(healed) == 3, "consecutive user messages are merged"
    content = healed[-1]["content"]
    assert [b["type"] for b in content] == ["tool_result", "tool_result", "text"]
    assert content[0]["content"] == "first done"
    assert content[1] == {
        "type": "tool_result",
        "tool_use_id": "b",
        "content": h.STOPPED_BY_USER,
        "is_error": True,
    }
    assert accepted(healed)


def test_heal_turns_orphan_results_into_text_and_drops_empty_messages() -> None:
    messages = [
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        {"role": "user", "content": []},
        {"role": "user", "content": [result("ghost", "lost output"), {"type": "text", "text": ""}]},
        {"role": "assistant", "content": ""},
        {"role": "system", "content": "not a role"},
    ]
    healed = h.heal(messages)
    assert healed[0]["role"] == "user", "the first message must be the user's"
    texts = [b.get("text") for m in healed for b in m["content"]]
    assert any("lost output" in (t or "") for t in texts), "an orphan result's text is kept"
    assert not any(b.get("type") == "tool_result" for m in healed for b in m["content"])
    assert accepted(healed)


def test_heal_leaves_a_valid_history_alone() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {"role": "assistant", "content": [tool_use("a")]},
        {"role": "user", "content": [result("a")]},
        {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
    ]
    assert h.heal(messages) == messages


# ---------------------------------------------------------------- image truncation


@pytest.mark.parametrize(("keep", "chunk"), [(3, 3), (3, 1), (1, 4), (5, 2), (0, 1)])
def test_truncation_keeps_at_most_n_plus_chunk_over_50_steps(keep: int, chunk: int) -> None:
    history = screenshot_run(50)
    previous: list[dict[str, Any]] | None = None
    for step in range(1, 51):
        current = history[: 1 + 2 * step]
        sent = h.truncate_images(current, keep, chunk)
        kept = h.count_images(sent)
        assert kept <= keep + chunk - 1 <= keep + chunk, (step, kept)
        assert kept >= min(keep, step), (step, kept)
        # the newest screenshots are the ones kept: exactly the last ``kept`` user turns
        with_images = [i for i, m in enumerate(sent) if h.image_count(m)]
        assert with_images == list(range(len(sent) - 2 * kept + 1, len(sent), 2))
        if previous is not None and kept == h.count_images(previous) + 1:
            # no removal this step: everything sent before is sent again unchanged (cache hit)
            assert sent[: len(previous)] == previous
        previous = sent
    assert h.count_images(history) == 50, "the history itself keeps every screenshot"


def test_truncation_replaces_removed_screenshots_with_text_and_keeps_output() -> None:
    sent = h.truncate_images(screenshot_run(6), keep=2, chunk=1)
    first = sent[2]["content"][0]["content"]
    assert first == [
        {"type": "text", "text": "shot t0"},
        {"type": "text", "text": h.IMAGE_REMOVED},
    ]
    assert accepted(sent)


# ---------------------------------------------------------------- cache breakpoints


def test_breakpoints_on_the_last_three_user_turns_only() -> None:
    history = screenshot_run(6)
    history[2] = h.prepare_message(history[2], breakpoint=True)  # a stale breakpoint
    original = copy.deepcopy(history)
    marked = h.with_cache_breakpoints(history)
    assert history == original, "must not mutate"
    carriers = [i for i, m in enumerate(marked) if count_cache_control(m)]
    assert carriers == [8, 10, 12]
    assert count_cache_control(marked) == 3
    assert marked[12]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_breakpoint_on_a_plain_string_user_message() -> None:
    marked = h.with_cache_breakpoints([{"role": "user", "content": "hi"}])
    assert marked == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
        }
    ]


def test_a_request_never_carries_more_than_four_breakpoints() -> None:
    history = screenshot_run(20)
    # a history full of old breakpoints (the reference leaves them in place)
    history = [h.prepare_message(m, breakpoint=m["role"] == "user", strip=False) for m in history]
    sent = h.request_messages(history, keep_images=3, image_chunk=3, caching=True)
    system = h.system_blocks("prompt", cache=True)
    assert count_cache_control(sent) + count_cache_control(system) == 4
    assert (
        count_cache_control(
            h.request_messages(history, keep_images=3, image_chunk=3, caching=False)
        )
        == 0
    )


# ---------------------------------------------------------------- the serialized request


def test_request_body_json_matches_the_transforms_step_after_step() -> None:
    history = screenshot_run(12)
    static = {"model": "m", "max_tokens": 10, "system": h.system_blocks("s", cache=True)}
    body = RequestBody(static, keep_images=2, image_chunk=2, caching=True)
    for step in range(1, 13):
        current = history[: 1 + 2 * step]
        request, raw = body.build(current)
        expected = h.request_messages(current, keep_images=2, image_chunk=2, caching=True)
        assert json.loads(raw) == {**static, "messages": expected} == request
        validate_request(HEADERS, json.loads(raw), secret=DEFAULT_SECRET)


def test_thinking_blocks_survive_healing_and_preparation() -> None:
    thinking = {"type": "thinking", "thinking": "plan", "signature": sign(DEFAULT_SECRET, "plan")}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [thinking, tool_use("a")]},
    ]
    sent = h.request_messages(h.heal(messages), keep_images=None, image_chunk=1, caching=True)
    assert sent[1]["content"][0] == thinking
    body = {
        "model": "m",
        "max_tokens": 4000,
        "messages": sent,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    validate_request(HEADERS, body, secret=DEFAULT_SECRET)
