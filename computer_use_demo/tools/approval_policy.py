"""The approval policy behind the approval seam (approval.py): per action class, ``auto``
runs, ``ask`` asks the person (the chat's Approve / Deny, the CLI's y/n), ``deny`` refuses.

Action classes: ``bash`` (every bash command), ``typing`` (type, key, hold_key) and ``click``
(every click, drag and mouse button press). Other actions (screenshots, moves, scrolls, the
editor) always run. The same policy answers for every tool version: the single tools through
ToolCollection, the computer toolset's members through its ``confirm`` hook.

The default asks before bash and typing unless the setup is *loopback-only*. The stack's
only door to the outside (the page server on 8080, and x11vnc when it has a password) binds
``$BIND_ADDR``; everything else listens on 127.0.0.1. So the setup is loopback-only exactly
when ``BIND_ADDR`` is a loopback address (127.0.0.0/8, ::1, localhost). Unset, the scripts
bind 0.0.0.0 (the container's published port): not loopback-only, and whoever gets through
the door could drive the desktop through the agent. The CLI and the chat app apply the same
rule (the CLI's terminal answers the asks).

A denial answers the model with an is_error tool_result that says the person refused the
action, so that it can choose another way or ask.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .approval import APPROVED, Approval

Mode = Literal["auto", "ask", "deny"]
ActionClass = Literal["bash", "typing", "click"]
MODES: tuple[Mode, ...] = ("auto", "ask", "deny")
ACTION_CLASSES: tuple[ActionClass, ...] = ("bash", "typing", "click")

TYPING_ACTIONS = frozenset({"type", "key", "hold_key"})
CLICK_ACTIONS = frozenset(
    {
        "left_click",
        "right_click",
        "middle_click",
        "double_click",
        "triple_click",
        "left_click_drag",
        "left_mouse_down",
        "left_mouse_up",
        "mouse_down",
        "mouse_up",
        "drag",
    }
)

DENIED = (
    "The person watching the desktop denied this action ({what}); it was not run. Do not "
    "try the same action again: choose another way, or ask the person in your reply."
)
POLICY_DENIED = (
    "This action ({what}) is not allowed by the approval policy, so it was not run. Choose "
    "another way, or ask the person to allow it."
)


def action_class(tool_name: str, action: str, tool_input: Mapping[str, Any]) -> ActionClass | None:
    """Which class an action belongs to (None: it always runs)."""
    if tool_name == "bash" or action == "bash":
        return "bash"
    if tool_name != "computer":
        return None
    verb = tool_input.get("action", action)
    if verb in TYPING_ACTIONS:
        return "typing"
    if verb in CLICK_ACTIONS:
        return "click"
    return None


def action_of(tool_name: str, tool_input: Any) -> str:
    """The action a single tool's input asks for: its ``action``, else the tool's name."""
    if isinstance(tool_input, Mapping) and isinstance(tool_input.get("action"), str):
        return tool_input["action"]
    return tool_name


def describe(tool_name: str, action: str, tool_input: Mapping[str, Any]) -> str:
    """The exact action, for the person to decide on and for the model's refusal."""
    if tool_name == "bash" or action == "bash":
        command = tool_input.get("command")
        if tool_input.get("restart"):
            return "restart the bash shell"
        return f"bash command: {command}"
    verb = tool_input.get("action", action)
    parts = [f"{tool_name}: {verb}"]
    for key in ("text", "coordinate", "start_coordinate", "duration", "key"):
        if key in tool_input and tool_input[key] is not None:
            parts.append(f"{key}={tool_input[key]!r}")
    return " ".join(parts)


def is_loopback(address: str) -> bool:
    address = address.strip().strip("[]")
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def loopback_only(env: Mapping[str, str] | None = None) -> bool:
    """Whether the stack listens on loopback only (the module's rule: ``$BIND_ADDR``)."""
    env = os.environ if env is None else env
    return is_loopback(env.get("BIND_ADDR", "0.0.0.0"))


@dataclass(frozen=True, kw_only=True)
class ApprovalPolicy:
    """What happens to each class of action."""

    bash: Mode = "auto"
    typing: Mode = "auto"
    click: Mode = "auto"

    def __post_init__(self) -> None:
        for name in ACTION_CLASSES:
            if getattr(self, name) not in MODES:
                raise ValueError(f"approval for {name} must be one of {', '.join(MODES)}")

    @classmethod
    def default(cls, *, loopback: bool | None = None) -> ApprovalPolicy:
        """Ask before bash and typing unless the setup is loopback-only."""
        local = loopback_only() if loopback is None else loopback
        return cls() if local else cls(bash="ask", typing="ask")

    def mode(self, klass: ActionClass | None) -> Mode:
        return "auto" if klass is None else getattr(self, klass)

    def with_modes(self, **modes: str) -> ApprovalPolicy:
        """This policy with some classes changed (empty values keep the current mode)."""
        return replace(self, **{k: v for k, v in modes.items() if v})  # type: ignore[arg-type]


#: Every action runs (the reference's behaviour; the library's default).
RUN_EVERYTHING = ApprovalPolicy()


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """One action waiting for the person's answer."""

    tool_name: str
    action: str
    tool_input: dict[str, Any]
    action_class: ActionClass
    description: str
    #: For a click: base64 PNG of the screen around the target, the target marked.
    image: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: Ask the person; True approves. Raising or returning anything else denies.
Ask = Callable[[ApprovalRequest], Awaitable[bool]]

NOT_ASKED = (
    "This action ({what}) needs the person's approval and was not run: {why}. Choose another "
    "way, or ask the person in your reply."
)


class ApprovalRefused(Exception):
    """Raised by an Ask that could not put the action to the person; the message says why
    (it reaches the model, e.g. "this MCP client cannot ask its user")."""


#: A base64 PNG crop of the screen around an API-space point, or None.
CropAt = Callable[[tuple[int, int]], Awaitable[str | None]]


class PolicyApprover:
    """The policy as an Approver (the seam's callable)."""

    def __init__(
        self, policy: ApprovalPolicy, *, ask: Ask | None = None, crop: CropAt | None = None
    ) -> None:
        self.policy = policy
        self.ask = ask
        self.crop = crop

    async def __call__(
        self, tool_name: str, action: str, tool_input: Mapping[str, Any]
    ) -> Approval:
        klass = action_class(tool_name, action, tool_input)
        mode = self.policy.mode(klass)
        if mode == "auto" or klass is None:
            return APPROVED
        what = describe(tool_name, action, tool_input)
        if mode == "deny":
            return Approval(approved=False, reason=POLICY_DENIED.format(what=what))
        if self.ask is None:
            return Approval(
                approved=False,
                reason=DENIED.format(what=what) + " (Nobody could be asked.)",
            )
        image = None
        point = tool_input.get("coordinate")
        if klass == "click" and self.crop is not None and _is_point(point):
            try:
                image = await self.crop((int(point[0]), int(point[1])))
            except Exception:
                image = None
        request = ApprovalRequest(
            tool_name=tool_name,
            action=action,
            tool_input=dict(tool_input),
            action_class=klass,
            description=what,
            image=image,
        )
        try:
            approved = await self.ask(request)
        except ApprovalRefused as e:
            return Approval(approved=False, reason=NOT_ASKED.format(what=what, why=e))
        except Exception:
            approved = False
        if approved is True:
            return Approval(approved=True, reason="approved by the person")
        return Approval(approved=False, reason=DENIED.format(what=what))


def _is_point(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


CROP_SIZE = (360, 240)


def screen_crop(tools: Any) -> CropAt | None:
    """A CropAt over the screen of the first tool that has one (the computer tool or toolset):
    a fresh screenshot at the model's scale, cut around the point, the point marked."""
    screen = next(
        (
            t.screen
            for t in getattr(tools, "tools", ())
            if hasattr(getattr(t, "screen", None), "screenshot")
        ),
        None,
    )
    if screen is None:
        return None

    async def crop(point: tuple[int, int]) -> str | None:
        data = await screen.screenshot()
        return crop_png(data, point)

    return crop


def crop_png(data: str, point: tuple[int, int], size: tuple[int, int] = CROP_SIZE) -> str:
    """The region of a base64 screenshot around ``point`` (clamped to the image), with a red
    ring on the point, as base64 PNG."""
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    w, h = min(size[0], image.width), min(size[1], image.height)
    x = min(max(point[0] - w // 2, 0), image.width - w)
    y = min(max(point[1] - h // 2, 0), image.height - h)
    region = image.crop((x, y, x + w, y + h))
    px, py = point[0] - x, point[1] - y
    draw = ImageDraw.Draw(region)
    for r, width in ((14, 3), (3, 3)):
        draw.ellipse((px - r, py - r, px + r, py + r), outline=(255, 0, 0), width=width)
    out = io.BytesIO()
    region.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()
