"""The MCP server (the official ``mcp`` SDK): the desktop's actions, and ``run_task``, which
runs this project's own agent on the desktop.

Two transports serve the same tools: streamable HTTP at ``/mcp`` on the door (its token as a
bearer header; the door checks Host and Origin, so the SDK's own check is off), and stdio
(``python -m computer_use_demo mcp``) for a client on this machine. An action the approval
policy says to ``ask`` about is put to the client's user through MCP elicitation; a client
that cannot elicit gets the action refused, and the refusal says why.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ..agent.events import AssistantBlock, Done, StepStarted, ToolStarted
from ..api import service
from ..api.schemas import RunSettings
from ..app import runner
from ..tools.approval_policy import ApprovalRefused, ApprovalRequest, Ask
from .desktop import COORDINATES, DesktopTools, refused

MCP_CLIENT = "MCP client"
#: How often run_task looks at its run (progress, approvals, the end).
WATCH_SECONDS = 0.1
NO_ELICITATION = (
    "this MCP client cannot ask its user (it does not support elicitation); the person can "
    "allow this kind of action in the chat's sidebar (Approvals), or use a client that can ask"
)

INSTRUCTIONS = f"""This server is a Linux desktop (Xvfb, Firefox, a terminal) that you can
drive: take a screenshot, then click, type, scroll... {COORDINATES} bash runs commands in one
persistent shell; view_file, create_file and edit_file work on the desktop's files.
run_task hands a whole task to this project's own Claude agent and returns its answer.
The person watching the desktop may have to approve some actions, and may take control of
the desktop at any time (actions are then refused until they hand it back)."""

X = Annotated[int, Field(ge=0, description="x in screenshot pixels, from the left edge")]
Y = Annotated[int, Field(ge=0, description="y in screenshot pixels, from the top edge")]


class Approve(BaseModel):
    """What the client's user answers to an action that needs approval."""

    approve: bool = Field(description="run this action on the desktop")


def elicit_ask(ctx: Context) -> Ask:
    """The approval question for the client's user, by elicitation; refused (and why) when
    the client cannot elicit."""

    async def ask(request: ApprovalRequest) -> bool:
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.elicitation is None:
            raise ApprovalRefused(NO_ELICITATION)
        result = await ctx.elicit(
            f"The agent wants to run this on the desktop: {request.description}. Approve?",
            schema=Approve,
        )
        return result.action == "accept" and bool(getattr(result.data, "approve", False))

    return ask


def watch_url(ctx: Context | None, session_id: str) -> str:
    """Where a person watches the session: the chat on the door (the token is theirs)."""
    headers = (ctx.headers if ctx is not None else None) or {}
    host = headers.get("host") or f"localhost:{os.environ.get('HTTP_PORT', '8080')}"
    return f"http://{host}/chat/?session={session_id}"


def create_server(desktop: DesktopTools | None = None) -> MCPServer:
    desktop = desktop or DesktopTools()
    server = MCPServer(
        name="computer-use-demo",
        title="Computer Use Demo desktop",
        instructions=INSTRUCTIONS,
    )

    async def computer(ctx: Context, **tool_input: Any) -> CallToolResult:
        return await desktop.call("computer", tool_input, elicit_ask(ctx))

    @server.tool(description=f"A screenshot of the whole desktop, as an image. {COORDINATES}")
    async def screenshot(ctx: Context) -> CallToolResult:
        return await computer(ctx, action="screenshot")

    @server.tool(description=f"Click at (x, y). {COORDINATES}")
    async def click(
        x: X, y: Y, ctx: Context, button: Literal["left", "right", "middle"] = "left"
    ) -> CallToolResult:
        return await computer(ctx, action=f"{button}_click", coordinate=[x, y])

    @server.tool(description=f"Double-click with the left button at (x, y). {COORDINATES}")
    async def double_click(x: X, y: Y, ctx: Context) -> CallToolResult:
        return await computer(ctx, action="double_click", coordinate=[x, y])

    @server.tool(name="type", description="Type text with the keyboard, where the focus is.")
    async def type_text(
        text: Annotated[str, Field(min_length=1, max_length=100_000)], ctx: Context
    ) -> CallToolResult:
        return await computer(ctx, action="type", text=text)

    @server.tool(
        description="Press a key or a combination, xdotool style: Return, ctrl+l, alt+Tab, "
        "ctrl+shift+t, Page_Down."
    )
    async def key(
        keys: Annotated[str, Field(min_length=1, max_length=200)], ctx: Context
    ) -> CallToolResult:
        return await computer(ctx, action="key", text=keys)

    @server.tool(description=f"Scroll at (x, y) by `amount` wheel clicks. {COORDINATES}")
    async def scroll(
        x: X,
        y: Y,
        direction: Literal["up", "down", "left", "right"],
        ctx: Context,
        amount: Annotated[int, Field(ge=1, le=100)] = 3,
    ) -> CallToolResult:
        return await computer(
            ctx,
            action="scroll",
            coordinate=[x, y],
            scroll_direction=direction,
            scroll_amount=amount,
        )

    @server.tool(
        description=f"Press the left button at (start_x, start_y), move to (x, y), release. {COORDINATES}"
    )
    async def drag(start_x: X, start_y: Y, x: X, y: Y, ctx: Context) -> CallToolResult:
        return await computer(
            ctx, action="left_click_drag", start_coordinate=[start_x, start_y], coordinate=[x, y]
        )

    @server.tool(description=f"Move the pointer to (x, y) without clicking. {COORDINATES}")
    async def move(x: X, y: Y, ctx: Context) -> CallToolResult:
        return await computer(ctx, action="mouse_move", coordinate=[x, y])

    @server.tool(
        description="A closer look: the region from (x0, y0) to (x1, y1), at full resolution, "
        f"as an image. {COORDINATES}"
    )
    async def zoom(x0: X, y0: Y, x1: X, y1: Y, ctx: Context) -> CallToolResult:
        return await computer(ctx, action="zoom", region=[x0, y0, x1, y1])

    @server.tool(description=f"Where the pointer is, as (x, y). {COORDINATES}")
    async def cursor_position(ctx: Context) -> CallToolResult:
        return await computer(ctx, action="cursor_position")

    @server.tool(description="Wait, then take a screenshot (for pages that are loading).")
    async def wait(
        ctx: Context, seconds: Annotated[float, Field(gt=0, le=100)] = 1.0
    ) -> CallToolResult:
        return await computer(ctx, action="wait", duration=seconds)

    @server.tool(
        description="Run a command in a persistent bash shell on the desktop (its directory "
        "and variables stay between calls); restart: true starts a fresh shell."
    )
    async def bash(
        ctx: Context,
        command: Annotated[str | None, Field(max_length=2_000_000)] = None,
        restart: bool = False,
    ) -> CallToolResult:
        if restart:
            return await desktop.call("bash", {"restart": True}, elicit_ask(ctx))
        if not command:
            return refused("give a command to run, or restart: true")
        return await desktop.call("bash", {"command": command}, elicit_ask(ctx))

    @server.tool(
        description="Show a file with line numbers (or a directory's listing) on the desktop; "
        "view_range [start, end] shows those lines (end -1: to the end). Absolute paths."
    )
    async def view_file(
        path: str, ctx: Context, view_range: list[int] | None = None
    ) -> CallToolResult:
        tool_input: dict[str, Any] = {"command": "view", "path": path}
        if view_range is not None:
            tool_input["view_range"] = view_range
        return await desktop.call("edit", tool_input, elicit_ask(ctx))

    @server.tool(description="Create (or overwrite) a file on the desktop. Absolute paths.")
    async def create_file(path: str, file_text: str, ctx: Context) -> CallToolResult:
        return await desktop.call(
            "edit", {"command": "create", "path": path, "file_text": file_text}, elicit_ask(ctx)
        )

    @server.tool(
        description="Replace old_str, which must occur exactly once in the file, with "
        "new_str. Absolute paths."
    )
    async def edit_file(path: str, old_str: str, new_str: str, ctx: Context) -> CallToolResult:
        return await desktop.call(
            "edit",
            {"command": "str_replace", "path": path, "old_str": old_str, "new_str": new_str},
            elicit_ask(ctx),
        )

    @server.tool(
        description="Hand a whole task to this project's own Claude agent, which works on "
        "the desktop until it is done; returns its final answer, the session id and a link "
        "to watch it. Progress is reported per step; cancelling the call stops the agent. "
        "Uses the chat's saved settings (model, approvals) unless given here."
    )
    async def run_task(
        instruction: Annotated[str, Field(min_length=1, max_length=100_000)],
        ctx: Context,
        model: str | None = None,
        max_steps: Annotated[int | None, Field(ge=1, le=10_000)] = None,
        max_cost_usd: Annotated[float | None, Field(ge=0)] = None,
    ) -> CallToolResult:
        return await run_agent(
            ctx,
            instruction,
            RunSettings(model=model, max_steps=max_steps, max_run_cost_usd=max_cost_usd),
        )

    return server


async def run_agent(ctx: Context, instruction: str, settings: RunSettings) -> CallToolResult:
    """run_task: a run of the chat's runner in a new session, followed to its end."""
    try:
        config = await asyncio.to_thread(service.run_config, settings)
        trajectory = await asyncio.to_thread(service.create_session, instruction[:200])
        run = await asyncio.to_thread(
            service.start_run, trajectory, instruction, config, owner=MCP_CLIENT
        )
    except service.ApiError as e:
        holder = f" (held by {e.holder})" if e.holder else ""
        return refused(f"The task was not started: {e.detail}{holder}")
    ask = elicit_ask(ctx)
    seen = 0
    asked: set[str] = set()
    try:
        while True:
            running = run.running  # before reading: the last events are reported too
            events = run.run_events()
            for event in events[seen:]:
                if isinstance(event, StepStarted):
                    await ctx.report_progress(
                        event.step, config.max_steps, f"step {event.step}: asking Claude"
                    )
                elif isinstance(event, ToolStarted):
                    what = event.input.get("action") or event.input.get("command") or ""
                    await ctx.report_progress(
                        len([e for e in events if isinstance(e, StepStarted)]),
                        config.max_steps,
                        f"{event.name}: {str(what)[:80]}",
                    )
            seen = len(events)
            if not running:
                break
            pending = run.pending_approval()
            if pending is not None and pending.id not in asked:
                asked.add(pending.id)
                request = ApprovalRequest(
                    tool_name=pending.tool_name,
                    action=pending.action,
                    tool_input=pending.input,
                    action_class=pending.action_class,  # type: ignore[arg-type]
                    description=pending.description,
                )
                try:
                    run.answer(pending.id, await ask(request))
                except ApprovalRefused as e:
                    run.answer(pending.id, False, refused=str(e))
                continue
            await asyncio.sleep(WATCH_SECONDS)
        await asyncio.to_thread(run.wait, 60)
    except BaseException:  # cancelled (or the client went away): the run stops too
        await asyncio.shield(asyncio.to_thread(run.stop))
        raise
    return outcome(run, watch_url(ctx, trajectory.id))


def outcome(run: runner.SessionRun, url: str) -> CallToolResult:
    events = run.run_events()
    done = run.done or next((e for e in reversed(events) if isinstance(e, Done)), None)
    texts = [
        e.block.get("text", "")
        for e in events
        if isinstance(e, AssistantBlock) and e.block.get("type") == "text"
    ]
    reason = done.reason if done is not None else "error"
    answer = texts[-1] if texts else ""
    summary = {
        "answer": answer,
        "session_id": run.trajectory.id,
        "watch_url": url,
        "reason": reason,
        "steps": done.steps if done is not None else 0,
        "detail": done.detail if done is not None else "",
    }
    ended = "" if reason == "end_turn" else f"\n\n(The run ended: {reason}. {summary['detail']})"
    text = f"{answer or '(no answer)'}{ended}\n\nSession {run.trajectory.id}; watch: {url}"
    return CallToolResult(
        content=[TextContent(text=text)],
        structured_content=summary,
        is_error=reason not in ("end_turn",),
    )


def http_app(server: MCPServer) -> Any:
    """The streamable HTTP app for the door to mount at /mcp (the door checks the token,
    Host and Origin; its lifespan runs ``server.session_manager.run()``)."""
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def run_stdio() -> int:
    """``python -m computer_use_demo mcp``: serve this desktop to a client on stdio."""
    asyncio.run(create_server().run_stdio_async())
    return 0
