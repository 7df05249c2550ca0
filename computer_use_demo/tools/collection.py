"""A set of tools the loop can run by name; the one place where model input meets a tool.

``ToolCollection.run`` never raises (except cancellation, which is how a stop request ends a
running tool): an unknown tool, input that fails the tool's JSON schema, a ToolError, a
timeout or any unexpected exception all come back as a ToolResult with ``error`` set.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema
from anthropic.types.beta import BetaToolUnionParam

from .base import BaseAnthropicTool, ToolError, ToolFailure, ToolResult

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


class ToolCollection:
    """The tools of one run, looked up by the name the model calls them by."""

    def __init__(self, *tools: BaseAnthropicTool, timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        names = [t.name for t in tools]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"tool names must be unique, repeated: {sorted(duplicates)}")
        self.tools = tools
        self.tool_map = {tool.name: tool for tool in tools}
        self.timeout = timeout

    def to_params(self) -> list[BetaToolUnionParam]:
        return [tool.to_params() for tool in self.tools]

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
        except TimeoutError:
            return ToolFailure(
                error=f"Tool `{name}` did not finish within {self.timeout:g} s and was stopped."
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("tool %s failed", name)
            return ToolFailure(error=f"Tool `{name}` failed unexpectedly: {type(e).__name__}: {e}")

    async def stop(self) -> None:
        """Stop every tool (kill bash process groups and the like)."""
        for tool in self.tools:
            try:
                await tool.stop()
            except Exception:
                log.exception("stopping tool %s failed", tool.name)
