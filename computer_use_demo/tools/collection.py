"""A set of tools the loop can run by name; the one place where model input meets a tool.

``ToolCollection.run`` never raises (except cancellation, which is how a stop request ends a
running tool): an unknown tool, input that fails the tool's JSON schema, a ToolError, a
timeout or any unexpected exception all come back as a ToolResult with ``error`` set.

``ToolCollection.run_turn`` is what one assistant turn's tool_use blocks become: plain tools
run one by one; members of a toolset (``toolset_name`` set) run in order through the SDK's
``tool_result()``, and after a member fails the rest of that toolset's calls in the turn are
answered with the SDK's halt text, not run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any

import jsonschema
from anthropic.lib.tools._toolsets._runnable import HALT_TEXT, NOT_EXECUTED
from anthropic.types.beta import BetaToolResultBlockParam, BetaToolUnionParam, BetaToolUseBlock

from ..desktop.errors import DesktopError
from .approval import Approver, auto_approve
from .approval_policy import action_of
from .base import BaseAnthropicTool, ToolError, ToolFailure, ToolResult
from .computer_toolset import ComputerToolset20260801
from .events import ToolResultEvent, ToolStarted
from .results import STOPPED_BY_USER, tool_result_block

log = logging.getLogger(__name__)

#: Upper bound for any single tool call; tools with their own timeouts (bash) stay below it.
DEFAULT_CALL_TIMEOUT = 600.0


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _describe(error: jsonschema.ValidationError) -> str:
    """One sentence the model can act on: which field, what was wrong, what is expected."""
    where = ".".join(str(p) for p in error.absolute_path)
    field = f"`{where}`" if where else "the input"
    if error.validator == "anyOf" and "errorMessage" in error.schema:
        return error.schema["errorMessage"]
    match error.validator:
        case "required":
            return error.message.replace("is a required property", "is required") + (
                f" (in {field})" if where else ""
            )
        case "type":
            return f"{field} must be of type {error.validator_value}, got {type(error.instance).__name__}"
        case "enum":
            allowed = ", ".join(repr(v) for v in error.validator_value)
            return f"{field} must be one of {allowed}; got {error.instance!r}"
        case "pattern" if error.validator_value.startswith("^[^\\x00]"):
            return f"{field} must not contain NUL (\\x00) characters"
        case "maxLength":
            return f"{field} is too long: {len(error.instance):,} characters, the limit is {error.validator_value:,}"
        case "minItems" | "maxItems":
            return f"{field} must have {_count(error)} items, got {len(error.instance)}"
        case "minimum" | "maximum":
            return f"{field} is out of range: {error.message}"
        case _:
            return f"{field}: {error.message}"


def _count(error: jsonschema.ValidationError) -> str:
    schema = error.schema
    lo, hi = schema.get("minItems"), schema.get("maxItems")
    return str(lo) if lo == hi else f"{lo}..{hi}"


def validate_input(schema: Mapping[str, Any], tool_input: Any) -> list[str]:
    """Every problem with ``tool_input`` against ``schema``, as sentences (empty if valid)."""
    if not isinstance(tool_input, Mapping):
        return [f"the input must be a JSON object, got {type(tool_input).__name__}"]
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(dict(tool_input)), key=lambda e: list(e.absolute_path))
    messages: list[str] = []
    for error in errors:
        # allOf/if-then failures carry the useful message in their context.
        leaves = [error]
        if error.validator == "allOf" and error.context:
            leaves = list(error.context)
        for leaf in leaves:
            text = _describe(leaf)
            if leaf.validator == "required" and "then" in leaf.absolute_schema_path:
                key = next(k for k in ("action", "command") if k in tool_input)
                text += f" for {key} {tool_input[key]!r}"
            if text not in messages:
                messages.append(text)
    return messages


#: A toolset: one tools[] entry for a family of member tools (today the computer toolset).
Toolset = ComputerToolset20260801


class ToolCollection:
    """The tools of one run, looked up by the name the model calls them by; toolsets by their
    ``toolset_name``. ``approve`` is the approval seam (approval.py) every toolset's
    ``confirm`` hook asks."""

    def __init__(
        self,
        *tools: BaseAnthropicTool | Toolset,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        approve: Approver = auto_approve,
    ) -> None:
        plain = [t for t in tools if not isinstance(t, Toolset)]
        names = [t.name for t in plain]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"tool names must be unique, repeated: {sorted(duplicates)}")
        self.tools = tools
        self.tool_map = {tool.name: tool for tool in plain}
        self.toolsets: dict[str, Toolset] = {}
        for toolset in (t for t in tools if isinstance(t, Toolset)):
            if toolset.toolset_name in self.toolsets:
                raise ValueError(f"two toolsets named {toolset.toolset_name!r}")
            self.toolsets[toolset.toolset_name] = toolset
        self.timeout = timeout
        self.approve = approve
        #: tool_use id -> the undeclared toolset it named (see ``admit``), until answered.
        self._undeclared: dict[str, str] = {}

    @property
    def approve(self) -> Approver:
        return self._approve

    @approve.setter
    def approve(self, approve: Approver) -> None:
        """One approver for the whole collection: its toolsets' confirm hooks ask it."""
        self._approve = approve
        for toolset in self.toolsets.values():
            toolset.approve = approve

    def to_params(self) -> list[BetaToolUnionParam]:
        return [tool.to_params() for tool in self.tools]

    def admit(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Claude's blocks as they go into the history. A tool_use naming a toolset this run
        does not declare loses its ``toolset_name``: the API refuses a history that names an
        undeclared toolset (in the call or in its result), so the conversation could not go
        on. Such a call is answered as a plain one, with an error that says so."""
        admitted = []
        for block in blocks:
            family = block.get("toolset_name") if block.get("type") == "tool_use" else None
            if family is not None and family not in self.toolsets:
                block = {k: v for k, v in block.items() if k != "toolset_name"}
                self._undeclared[block["id"]] = family
            admitted.append(block)
        return admitted

    def _not_declared(self, family: str, name: str) -> str:
        known = ", ".join(sorted(self.toolsets)) or "none"
        hint = ""
        if family == "computer" and "computer" in self.tool_map:
            hint = f' Use the `computer` tool, with `action: "{name}"`.'
        return f"Toolset `{family}` is not available. Available toolsets: {known}.{hint}"

    async def run(self, *, name: str, tool_input: Any) -> ToolResult:
        """Validate ``tool_input`` and run the tool called ``name``; failures become results."""
        tool = self.tool_map.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tool_map)) or "none"
            return ToolFailure(error=f"Tool `{name}` is unknown. Available tools: {known}.")
        problems = validate_input(tool.input_schema, tool_input)
        if problems:
            return ToolFailure(
                error=f"Invalid input for tool `{name}`: " + "; ".join(problems) + "."
            )
        known = tool.input_schema.get("properties")
        # Unknown extra fields are ignored, not passed on: newer models may send them.
        kwargs = {k: v for k, v in tool_input.items() if known is None or k in known}
        try:
            return await asyncio.wait_for(tool(**kwargs), timeout=self.timeout)
        except ToolError as e:
            return ToolFailure(error=e.message)
        except DesktopError as e:  # the desktop server did not answer: the text says what to do
            return ToolFailure(error=e.message)
        except TimeoutError:
            return ToolFailure(
                error=f"Tool `{name}` did not finish within {self.timeout:g} s and was stopped."
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("tool %s failed", name)
            return ToolFailure(error=f"Tool `{name}` failed unexpectedly: {type(e).__name__}: {e}")

    async def run_turn(
        self,
        calls: list[dict[str, Any]],
        *,
        results: list[dict[str, Any]],
        stop: asyncio.Event,
    ) -> AsyncIterator[ToolStarted | ToolResultEvent]:
        """Run one assistant turn's tool_use blocks in order, reporting each as it starts and
        ends; each tool_result block is appended to ``results`` as it is known.

        A stop request between calls ends the turn (the caller answers the calls left over);
        during a call it cancels the call, which is answered "stopped by the user".
        """
        failed: set[str] = set()  # toolsets whose member failed this turn
        stop_waiter = asyncio.ensure_future(stop.wait())
        try:
            for call in calls:
                if stop.is_set():
                    return
                toolset_name = call.get("toolset_name")
                name = call["name"]
                if toolset_name in failed:
                    halt = HALT_TEXT.get(toolset_name, NOT_EXECUTED)
                    result: ToolResult = ToolFailure(error=halt)
                    results.append(
                        dict(tool_result_block(result, call["id"], toolset_name=toolset_name))
                    )
                    yield ToolResultEvent(
                        tool_use_id=call["id"], name=name, result=result, toolset_name=toolset_name
                    )
                    continue
                tool_input = call["input"] if isinstance(call["input"], dict) else {}
                yield ToolStarted(
                    tool_use_id=call["id"], name=name, input=tool_input, toolset_name=toolset_name
                )
                task = asyncio.ensure_future(
                    self._run_member(call) if toolset_name is not None else self._run_plain(call)
                )
                try:
                    await asyncio.wait((task, stop_waiter), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not task.done():  # a stop, or our consumer cancelled
                        task.cancel()
                        await asyncio.wait((task,), timeout=5)
                if task.cancelled() or not task.done():
                    result = ToolFailure(error=STOPPED_BY_USER)
                    block = dict(tool_result_block(result, call["id"], toolset_name=toolset_name))
                else:
                    result, block = task.result()
                if toolset_name is not None and block.get("is_error"):
                    failed.add(toolset_name)
                results.append(block)
                yield ToolResultEvent(
                    tool_use_id=call["id"], name=name, result=result, toolset_name=toolset_name
                )
        finally:
            stop_waiter.cancel()

    async def _run_plain(self, call: dict[str, Any]) -> tuple[ToolResult, dict[str, Any]]:
        family = self._undeclared.pop(call["id"], None)
        if family is not None:
            refused: ToolResult = ToolFailure(error=self._not_declared(family, call["name"]))
            return refused, dict(tool_result_block(refused, call["id"]))
        tool_input = call["input"] if isinstance(call["input"], Mapping) else {}
        action = action_of(call["name"], tool_input)
        approval = await self.approve(call["name"], action, tool_input)
        if not approval.approved:
            result: ToolResult = ToolFailure(error=approval.reason or "The action was denied.")
            return result, dict(tool_result_block(result, call["id"]))
        result = await self.run(name=call["name"], tool_input=call["input"])
        return result, dict(tool_result_block(result, call["id"]))

    async def _run_member(self, call: dict[str, Any]) -> tuple[ToolResult, dict[str, Any]]:
        """One toolset member call through the SDK's ``tool_result()`` (its block as the API
        wants it, ``toolset_name`` echoed), and the same outcome as a ToolResult."""
        toolset_name = call["toolset_name"]
        toolset = self.toolsets.get(toolset_name)
        if toolset is None:  # a call ``admit`` did not see
            result: ToolResult = ToolFailure(error=self._not_declared(toolset_name, call["name"]))
            return result, dict(tool_result_block(result, call["id"], toolset_name=toolset_name))
        tool_use = BetaToolUseBlock(
            type="tool_use",
            id=call["id"],
            name=call["name"],
            input=call["input"] if isinstance(call["input"], dict) else {},
            toolset_name=toolset_name,
        )
        try:
            block = await asyncio.wait_for(toolset.tool_result(tool_use), timeout=self.timeout)
        except TimeoutError:
            result = ToolFailure(
                error=f"`{call['name']}` did not finish within {self.timeout:g} s and was stopped."
            )
            return result, dict(tool_result_block(result, call["id"], toolset_name=toolset_name))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a ToolsetUsageError: our own mistake, never the model's
            log.exception("toolset %s member %s failed", toolset_name, call["name"])
            result = ToolFailure(error=f"`{call['name']}` failed: {type(e).__name__}: {e}")
            return result, dict(tool_result_block(result, call["id"], toolset_name=toolset_name))
        return result_of_block(block), dict(block)

    async def stop(self) -> None:
        """Stop every tool (kill bash process groups and the like)."""
        for tool in self.tools:
            try:
                await tool.stop()
            except Exception:
                log.exception("stopping tool %s failed", tool.name)


def result_of_block(block: BetaToolResultBlockParam | Mapping[str, Any]) -> ToolResult:
    """A tool_result block as a ToolResult (what events carry): text blocks joined, the first
    image, and for an error result its text as ``error``."""
    content = block.get("content")
    items = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    texts = [i["text"] for i in items if i.get("type") == "text" and i.get("text")]
    images = [i for i in items if i.get("type") == "image"]
    text = "\n".join(texts) or None
    if block.get("is_error"):
        return ToolFailure(error=text or "the tool call failed")
    image = images[0]["source"].get("data") if images else None
    return ToolResult(output=text, base64_image=image)
