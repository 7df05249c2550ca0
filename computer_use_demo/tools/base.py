"""What every tool returns and the interface every tool implements.

Error tree (everything a tool can raise, all turned into an ``is_error`` tool_result by
``ToolCollection.run``):

    ToolError            a tool refused or failed; ``message`` is meant for the model
    asyncio.TimeoutError a call exceeded its time budget
    Exception            anything unexpected (reported with its type, never re-raised)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from anthropic.types.beta import BetaToolUnionParam


@dataclass(kw_only=True, frozen=True)
class ToolResult:
    """The outcome of one tool call: text output, an error, a screenshot, a system note."""

    output: str | None = None
    error: str | None = None
    base64_image: str | None = None
    system: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: ToolResult) -> ToolResult:
        def combine(a: str | None, b: str | None, concatenate: bool = True) -> str | None:
            if a and b:
                if concatenate:
                    return a + b
                raise ValueError("Cannot combine tool results")
            return a or b

        return ToolResult(
            output=combine(self.output, other.output),
            error=combine(self.error, other.error),
            base64_image=combine(self.base64_image, other.base64_image, False),
            system=combine(self.system, other.system),
        )

    def replace(self, **kwargs: Any) -> ToolResult:
        """A copy of this result with the given fields replaced."""
        return replace(self, **kwargs)


@dataclass(kw_only=True, frozen=True)
class CLIResult(ToolResult):
    """A ToolResult that came from a command line; ``exit_code`` is the command's exit status
    when known (non-zero makes the result a failure for the model: ``history.is_failure``)."""

    exit_code: int | None = None


class ToolFailure(ToolResult):
    """A ToolResult that represents a failure."""


class ToolError(Exception):
    """Raised by a tool when it cannot do what was asked; the message goes to the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """One Anthropic-defined tool version as data: its wire type, name and input schema.

    ``choices`` are the values of the schema's ``action`` / ``command`` enum: what this version
    of the tool can do. ``options`` are extra fields sent in ``to_params`` (e.g. enable_zoom).
    """

    api_type: str
    name: str
    input_schema: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def choices(self) -> frozenset[str]:
        props = self.input_schema.get("properties", {})
        for key in ("action", "command"):
            if key in props and "enum" in props[key]:
                return frozenset(props[key]["enum"])
        return frozenset()

    def required_for(self, choice: str) -> tuple[str, ...]:
        """The fields the schema's ``allOf`` rules require for this action / command."""
        needed: list[str] = []
        for rule in self.input_schema.get("allOf", ()):
            condition = rule.get("if", {}).get("properties", {})
            if any(c.get("const") == choice for c in condition.values()):
                needed += rule.get("then", {}).get("required", [])
        return tuple(needed)


class BaseAnthropicTool(ABC):
    """The tool interface: ``to_params()`` for the API, an async ``__call__`` to run it."""

    name: ClassVar[str]
    api_type: ClassVar[str]
    spec: ClassVar[ToolSpec]
    #: The JSON schema inputs are validated against before the tool runs.
    input_schema: ClassVar[Mapping[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is not None:
            # name and api_type always follow the spec, so a class cannot claim another version.
            cls.name = spec.name
            cls.api_type = spec.api_type
            cls.input_schema = spec.input_schema

    @abstractmethod
    async def __call__(self, **kwargs: Any) -> ToolResult:
        """Run the tool with the model's input."""

    @abstractmethod
    def to_params(self) -> BetaToolUnionParam:
        """The tool definition sent in the API request's ``tools`` list."""

    async def stop(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release what the tool holds (processes, handles). Called on stop and reset."""


ToolFunction = Callable[..., Awaitable[ToolResult | str]]


@dataclass(kw_only=True)
class FunctionTool(BaseAnthropicTool):
    """A user-defined tool next to the Anthropic-defined ones (the API doc's get_weather).

    ``function`` is awaited with the validated input as keyword arguments; it may return a
    string or a ToolResult, and may raise ToolError for errors the model should see.
    """

    name: str  # type: ignore[misc]
    description: str
    input_schema: Mapping[str, Any]  # type: ignore[assignment]
    function: ToolFunction
    api_type = "custom"

    async def __call__(self, **kwargs: Any) -> ToolResult:
        result = await self.function(**kwargs)
        return result if isinstance(result, ToolResult) else ToolResult(output=str(result))

    def to_params(self) -> BetaToolUnionParam:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),  # type: ignore[typeddict-item]
        }
