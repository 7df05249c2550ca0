"""What a tool's result becomes on the wire: the API's tool_result block, and the few rules
it needs (what counts as a failure, which text the API refuses). The tools and the loop both use
these; the history transforms above re-export them."""

from __future__ import annotations

from typing import Any

from anthropic.types.beta import BetaToolResultBlockParam

from .base import CLIResult, ToolFailure, ToolResult

Block = dict[str, Any]

#: The tool_result text of a tool_use that never ran or was cut short by a stop request.
STOPPED_BY_USER = "stopped by the user"


def image_media_type(data: str) -> str:
    """The media type of base64 image data, from its magic bytes (PNG unless it says JPEG)."""
    if data.startswith("/9j/"):
        return "image/jpeg"
    if data.startswith("R0lGOD"):
        return "image/gif"
    if data.startswith("UklGR"):
        return "image/webp"
    return "image/png"


def is_failure(result: ToolResult) -> bool:
    """Whether a result is a failure the model must see as ``is_error``: a tool error
    (ToolFailure: refused, bad input, timeout, crash, stopped), a command's non-zero exit
    status; where the status is not known, an error with nothing else (the reference's
    ``ToolResult(error=...)``). Not stderr beside output, nor warnings beside a screenshot."""
    if isinstance(result, ToolFailure):
        return True
    code = getattr(result, "exit_code", None)
    if code is not None:
        return code != 0
    return bool(result.error) and not (result.output or result.base64_image)


def is_blank(text: Any) -> bool:
    """Text the API refuses in a text block ("must contain non-whitespace text")."""
    return not isinstance(text, str) or not text.strip()


def result_text(result: ToolResult, *, failed: bool) -> str:
    """Everything a result says, for the model: output and error both, labelled when both are
    there (as the UI shows them), the exit status of a failed command, the system note first."""
    out = None if is_blank(result.output) else result.output
    err = None if is_blank(result.error) else result.error
    cli = isinstance(result, CLIResult)
    if out and err:
        labels = ("stdout", "stderr") if cli else ("output", "error")
        parts = [f"{labels[0]}:\n{out}", f"{labels[1]}:\n{err}"]
    else:
        parts = [t for t in (out, err) if t]
    code = getattr(result, "exit_code", None)
    if failed and code:
        parts.append(f"exit status {code}")
    if not is_blank(result.system):
        parts.insert(0, f"<system>{result.system}</system>")
    return "\n".join(parts)


def tool_result_block(
    result: ToolResult, tool_use_id: str, *, toolset_name: str | None = None
) -> BetaToolResultBlockParam:
    """A ToolResult as the API's tool_result block (the reference's _make_api_tool_result,
    without its losses: stdout is kept beside stderr, a screenshot beside warnings, a system
    note on its own; never a whitespace-only text block, which the API refuses). The result
    of a toolset member echoes its ``toolset_name``, as the API requires."""
    failed = is_failure(result)
    text = result_text(result, failed=failed)
    content: list[Block] | str
    if failed and not result.base64_image:
        content = text or "failed (no output)"
    else:
        content = [{"type": "text", "text": text}] if text else []
        if result.base64_image:
            content.append(
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": image_media_type(result.base64_image),
                        "data": result.base64_image,
                    },
                }
            )
    block: BetaToolResultBlockParam = {
        "type": "tool_result",
        "content": content,  # type: ignore[typeddict-item]
        "tool_use_id": tool_use_id,
        "is_error": failed,
    }
    if toolset_name is not None:
        block["toolset_name"] = toolset_name
    return block
