"""Approvals: the policy per action class (auto / ask / deny), its default by the setup's bind
address, and the loop's refusals the model can act on, for the single tools and the computer
toolset's confirm hook, with a crop of the real screen for a click."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
from PIL import Image

from computer_use_demo.tools import ComputerTool20250124, ComputerToolset20260801, ToolCollection
from computer_use_demo.tools.approval_policy import (
    CROP_SIZE,
    DENIED,
    POLICY_DENIED,
    ApprovalPolicy,
    ApprovalRequest,
    PolicyApprover,
    action_class,
    describe,
    loopback_only,
    screen_crop,
)
from computer_use_demo.tools.bash import BashTool20250124
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.loop import (
    DISPLAYS,
    collect,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    user,
)
from tests.support.xvfb import xvfb


def test_action_classes() -> None:
    assert action_class("bash", "bash", {"command": "ls"}) == "bash"
    for verb in ("type", "key", "hold_key"):
        assert action_class("computer", verb, {"action": verb}) == "typing"
    for verb in ("left_click", "double_click", "left_click_drag", "left_mouse_down"):
        assert action_class("computer", verb, {"action": verb}) == "click"
    assert action_class("computer", "left_click", {}) == "click"  # a toolset member
    for verb in ("screenshot", "mouse_move", "scroll", "zoom"):
        assert action_class("computer", verb, {"action": verb}) is None
    assert action_class("str_replace_based_edit_tool", "view", {"command": "view"}) is None


@pytest.mark.parametrize(
    ("bind", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        (None, False),
    ],
)
def test_loopback_only_is_the_bind_address(bind: str | None, local: bool) -> None:
    env = {} if bind is None else {"BIND_ADDR": bind}
    assert loopback_only(env) is local
    policy = ApprovalPolicy.default(loopback=local)
    expected = ("auto", "auto") if local else ("ask", "ask")
    assert (policy.bash, policy.typing) == expected and policy.click == "auto"


def test_a_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="approval for bash"):
        ApprovalPolicy(bash="maybe")  # type: ignore[arg-type]


def run_bash(api: FakeAnthropicAPI, policy: ApprovalPolicy, ask: Any = None) -> list[Any]:
    api.push(
        message(text("Let me look."), tool_use("bash", {"command": "echo approved-ran"})),
        message(text("Understood.")),
    )
    tools = ToolCollection(BashTool20250124())

    async def main() -> list[Any]:
        try:
            return await collect(config(api, approval=policy), user("list"), tools=tools, ask=ask)
        finally:
            await tools.stop()

    return asyncio.run(main())


def sent_result(api: FakeAnthropicAPI) -> dict[str, Any]:
    return api.requests[-1].body["messages"][-1]["content"][0]


def result_text(block: dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else " ".join(c.get("text", "") for c in content)


def test_deny_refuses_with_a_reason_the_model_reads(fake_api: FakeAnthropicAPI) -> None:
    events = run_bash(fake_api, ApprovalPolicy(bash="deny"))
    block = sent_result(fake_api)
    assert block["is_error"] and "not allowed by the approval policy" in result_text(block)
    assert not result_text(block).startswith("approved-ran")  # not run
    assert done(events).reason == "end_turn" and not fake_api.invalid_requests


def test_ask_puts_the_exact_action_to_the_person(fake_api: FakeAnthropicAPI) -> None:
    asked: list[ApprovalRequest] = []

    async def say_no(request: ApprovalRequest) -> bool:
        asked.append(request)
        return False

    run_bash(fake_api, ApprovalPolicy(bash="ask"), ask=say_no)
    (request,) = asked
    assert request.description == "bash command: echo approved-ran"
    assert request.action_class == "bash" and request.image is None
    block = sent_result(fake_api)
    what = "bash command: echo approved-ran"
    assert block["is_error"] and result_text(block) == DENIED.format(what=what)

    async def say_yes(request: ApprovalRequest) -> bool:
        return True

    run_bash(fake_api, ApprovalPolicy(bash="ask"), ask=say_yes)
    block = sent_result(fake_api)
    assert not block.get("is_error") and result_text(block).startswith("approved-ran")


def test_ask_without_anyone_to_ask_refuses(fake_api: FakeAnthropicAPI) -> None:
    run_bash(fake_api, ApprovalPolicy(bash="ask"))
    block = sent_result(fake_api)
    assert block["is_error"] and "Nobody could be asked" in result_text(block)
    assert POLICY_DENIED.split("(")[0] not in result_text(block)


@pytest.mark.desktop
def test_a_click_is_shown_with_a_crop_of_the_screen_around_it() -> None:
    asked: list[ApprovalRequest] = []

    async def say_no(request: ApprovalRequest) -> bool:
        asked.append(request)
        return False

    async def main(tool: Any) -> Any:
        tools = ToolCollection(tool)
        approver = PolicyApprover(ApprovalPolicy(click="ask"), ask=say_no, crop=screen_crop(tools))
        tools.approve = approver
        call = {"action": "left_click", "coordinate": [1000, 20]}
        if isinstance(tool, ComputerToolset20260801):
            block = {
                "type": "tool_use",
                "id": "toolu_c",
                "name": "left_click",
                "input": {"coordinate": [1000, 20]},
                "toolset_name": "computer",
            }
        else:
            block = {"type": "tool_use", "id": "toolu_c", "name": "computer", "input": call}
        results: list[dict[str, Any]] = []
        async for _ in tools.run_turn([block], results=results, stop=asyncio.Event()):
            pass
        return results[0]

    with xvfb(DISPLAYS) as d:
        size = {"width": d.width, "height": d.height, "display_num": d.number}
        plain = asyncio.run(main(ComputerTool20250124(**size)))
        member = asyncio.run(main(ComputerToolset20260801(**size)))
    assert plain["is_error"] and "denied this action (computer: left_click" in result_text(plain)
    assert member["is_error"] and "did not grant permission" in result_text(member)
    for request in asked:
        assert request.action_class == "click"
        crop = Image.open(io.BytesIO(base64.b64decode(request.image or "")))
        assert crop.size == CROP_SIZE  # clamped inside the screen near its top right corner
        red = crop.convert("RGB").getpixel((CROP_SIZE[0] - (1024 - 1000) - 14, 20))
        assert red == (255, 0, 0)  # the ring around the target
    assert describe("computer", "left_click", {"coordinate": [1000, 20]}).endswith("[1000, 20]")
