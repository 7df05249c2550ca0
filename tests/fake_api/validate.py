"""Request validation of the fake Messages API: the checks the real API makes that our loop
could get wrong. Written from the API's documented rules, independently of the code under
test (it must not import computer_use_demo), so that a bug there shows up as a 400 here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

#: Which anthropic-beta flags make each Anthropic-defined tool type available.
TOOL_TYPE_BETAS: dict[str, frozenset[str]] = {
    "computer_20241022": frozenset({"computer-use-2024-10-22"}),
    "text_editor_20241022": frozenset({"computer-use-2024-10-22"}),
    "bash_20241022": frozenset({"computer-use-2024-10-22"}),
    "computer_20250124": frozenset({"computer-use-2025-01-24"}),
    "text_editor_20250124": frozenset({"computer-use-2025-01-24", "computer-use-2025-11-24"}),
    "text_editor_20250429": frozenset({"computer-use-2025-01-24", "computer-use-2025-11-24"}),
    "text_editor_20250728": frozenset({"computer-use-2025-01-24", "computer-use-2025-11-24"}),
    "bash_20250124": frozenset({"computer-use-2025-01-24", "computer-use-2025-11-24"}),
    "computer_20251124": frozenset({"computer-use-2025-11-24"}),
}
#: Tool types the API serves without a beta flag: the bash and text editor tools are generally
#: available (the SDK's non-beta ToolUnionParam lists them, and no computer_2... tool); a beta
#: flag that also lists them does no harm.
GENERALLY_AVAILABLE = frozenset(
    {"bash_20250124", "text_editor_20250124", "text_editor_20250429", "text_editor_20250728"}
)
#: The name each Anthropic-defined tool type must be called by.
TOOL_TYPE_NAMES: dict[str, str] = {
    "computer_20241022": "computer",
    "computer_20250124": "computer",
    "computer_20251124": "computer",
    "bash_20241022": "bash",
    "bash_20250124": "bash",
    "text_editor_20241022": "str_replace_editor",
    "text_editor_20250124": "str_replace_editor",
    "text_editor_20250429": "str_replace_based_edit_tool",
    "text_editor_20250728": "str_replace_based_edit_tool",
}
IMAGE_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
MAX_CACHE_CONTROL = 4
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result"}
ASSISTANT_BLOCKS = {
    "text",
    "tool_use",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "compaction",
}
#: Context management (the SDK's BetaContextManagementConfigParam): each edit type, the beta
#: flag it needs, and the fields it takes.
CONTEXT_EDIT_BETAS: dict[str, str] = {
    "clear_tool_uses_20250919": "context-management-2025-06-27",
    "clear_thinking_20251015": "context-management-2025-06-27",
    "compact_20260112": "compact-2026-01-12",
}
CONTEXT_EDIT_FIELDS: dict[str, frozenset[str]] = {
    "clear_tool_uses_20250919": frozenset(
        {"type", "trigger", "keep", "clear_at_least", "clear_tool_inputs", "exclude_tools"}
    ),
    "clear_thinking_20251015": frozenset({"type", "keep"}),
    "compact_20260112": frozenset({"type", "trigger", "instructions", "pause_after_compaction"}),
}
MIN_COMPACTION_TRIGGER = 50_000


class Invalid(Exception):
    """The request breaks a rule: answered with ``status`` and the API's error JSON."""

    def __init__(
        self, message: str, status: int = 400, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type


def sign(secret: bytes, thinking: str) -> str:
    """The signature the fake API gives a thinking block (verified when it comes back)."""
    digest = hmac.new(secret, thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def betas_of(headers: Mapping[str, str]) -> set[str]:
    return {b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()}


def count_cache_control(value: Any) -> int:
    if isinstance(value, dict):
        return (1 if value.get("cache_control") else 0) + sum(
            count_cache_control(v) for v in value.values()
        )
    if isinstance(value, list):
        return sum(count_cache_control(v) for v in value)
    return 0


def validate_request(headers: Mapping[str, str], body: Any, *, secret: bytes) -> None:
    """Raise Invalid if the real API would refuse this request. ``headers`` are lower-case."""
    if not (headers.get("x-api-key") or headers.get("authorization")):
        raise Invalid("x-api-key header is required", 401, "authentication_error")
    if not headers.get("anthropic-version"):
        raise Invalid("anthropic-version: header is required")
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Invalid("model: Field required")
    validate_payload(body, betas_of(headers), secret=secret)


def validate_payload(
    body: dict[str, Any],
    betas: set[str],
    *,
    secret: bytes,
    beta_source: str = "the anthropic-beta header",
    model: str | None = None,
) -> None:
    """The checks every provider makes on the Messages request itself (all but the model,
    which Bedrock and Vertex take from the URL: ``model``), with ``betas`` however the
    provider got them."""
    from . import toolset

    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise Invalid("max_tokens: Field required (a positive integer)")
    _validate_system(body.get("system"))
    _validate_tools(body.get("tools"), betas, beta_source)
    toolset.validate_model(model or body.get("model"), body.get("tools"))
    if "context_management" in body:
        _validate_context_management(body["context_management"], betas, beta_source)
    thinking = body.get("thinking")
    if thinking is not None:
        _validate_thinking_config(thinking, max_tokens)
    _validate_output_config(body.get("output_config"))
    # Extended thinking binds a tool loop's assistant turns to start with thinking; adaptive
    # thinking may skip it, and off has none.
    extended = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    _validate_messages(
        body.get("messages"),
        secret=secret,
        thinking=extended,
        tools=toolset.declared(body.get("tools")),
    )
    found = count_cache_control(body)
    if found > MAX_CACHE_CONTROL:
        raise Invalid(
            f"A maximum of {MAX_CACHE_CONTROL} blocks with cache_control may be provided. "
            f"Found {found}."
        )


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise Invalid("system: Input should be a valid string or list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise Invalid(f"system.{i}: Input should be a text block")
        if not block.get("text"):
            raise Invalid(f"system.{i}.text: text content blocks must be non-empty")


def _validate_tools(tools: Any, betas: set[str], beta_source: str) -> None:
    from . import toolset

    if tools is None:
        return
    if not isinstance(tools, list):
        raise Invalid("tools: Input should be a valid list")
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise Invalid(f"tools.{i}: Input should be a valid dictionary")
        kind = tool.get("type", "custom")
        if kind in toolset.TOOLSET_TYPES:  # one nameless entry, generally available
            toolset.validate_entry(i, tool)
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise Invalid(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        names.append(name)
        if kind == "custom":
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise Invalid(f"tools.{i}.custom.input_schema: Input should be an object schema")
            continue
        if kind not in TOOL_TYPE_BETAS:
            expected = ", ".join(
                f"'{t}'" for t in ["custom", *TOOL_TYPE_BETAS, *toolset.TOOLSET_TYPES]
            )
            raise Invalid(
                f"tools.{i}: Input tag '{kind}' found using 'type' does not match any of the "
                f"expected tags: {expected}"
            )
        if kind not in GENERALLY_AVAILABLE and not (TOOL_TYPE_BETAS[kind] & betas):
            need = " or ".join(sorted(TOOL_TYPE_BETAS[kind]))
            have = ", ".join(sorted(betas)) or "none"
            raise Invalid(
                f"tools.{i}: tool type '{kind}' needs {beta_source} {need} "
                f"(the request has: {have})"
            )
        if name != TOOL_TYPE_NAMES[kind]:
            raise Invalid(f"tools.{i}.{kind}.name: Input should be '{TOOL_TYPE_NAMES[kind]}'")
        for extra in ("description", "input_schema"):
            if extra in tool:
                raise Invalid(f"tools.{i}.{kind}.{extra}: Extra inputs are not permitted")
        if kind.startswith("computer_"):
            for dim in ("display_width_px", "display_height_px"):
                value = tool.get(dim)
                if not isinstance(value, int) or value < 1:
                    raise Invalid(f"tools.{i}.{kind}.{dim}: Field required (a positive integer)")
    if len(set(names)) != len(names):
        raise Invalid("tools: Tool names must be unique.")


THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
EFFORTS = ("low", "medium", "high", "xhigh", "max")


def _validate_thinking_config(thinking: Any, max_tokens: int) -> None:
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
        raise Invalid(
            "thinking: Input tag found using 'type' does not match any of the expected tags: "
            + ", ".join(f"'{t}'" for t in THINKING_TYPES)
        )
    display = thinking.get("display")
    if display is not None and display not in ("summarized", "omitted", "updates"):
        raise Invalid(
            f"thinking.{thinking['type']}.display: Input should be 'summarized', 'omitted' or "
            "'updates'"
        )
    if thinking["type"] != "enabled" and "budget_tokens" in thinking:
        raise Invalid(f"thinking.{thinking['type']}.budget_tokens: Extra inputs are not permitted")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise Invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if budget >= max_tokens:
            raise Invalid("`max_tokens` must be greater than `thinking.budget_tokens`")


def _validate_output_config(output_config: Any) -> None:
    if output_config is None:
        return
    if not isinstance(output_config, dict):
        raise Invalid("output_config: Input should be a valid dictionary")
    effort = output_config.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise Invalid(
            "output_config.effort: Input should be " + ", ".join(f"'{e}'" for e in EFFORTS)
        )


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise Invalid(f"{where}: text content blocks must be non-empty")
        if not content.strip():
            raise Invalid(f"{where}: text content blocks must contain non-whitespace text")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise Invalid(f"{where}: Input should be a valid string or list of content blocks")
    return content


def _validate_messages(messages: Any, *, secret: bytes, thinking: bool, tools: Any) -> None:
    from . import toolset

    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    previous_role = None
    previous_tool_uses: list[str] = []
    previous_blocks: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise Invalid(f"{where}.role: Input should be 'user' or 'assistant'")
        role = message["role"]
        if i == 0 and role != "user":
            raise Invalid('messages: first message must use the "user" role')
        if role == previous_role:
            raise Invalid(
                f'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
        blocks = _blocks(message.get("content"), f"{where}.content")
        last = i == len(messages) - 1
        if not blocks and not (last and role == "assistant"):
            raise Invalid(
                f"{where}: all messages must have non-empty content except for the optional final assistant message"
            )
        if role == "user":
            _validate_user(blocks, where, previous_tool_uses)
            uses = [b for b in previous_blocks if b.get("type") == "tool_use"]
            toolset.validate_turn_results(uses, blocks, where)
            previous_tool_uses = []
        else:
            if previous_tool_uses:
                raise AssertionError("unreachable: alternation checked above")
            previous_tool_uses = _validate_assistant(blocks, where, secret)
            toolset.validate_member_uses(blocks, where, tools)
            previous_blocks = blocks
            if previous_tool_uses and last:
                ids = ", ".join(previous_tool_uses)
                raise Invalid(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {ids}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
        previous_role = role
    if thinking:
        _validate_thinking_turn(messages)


def _validate_user(blocks: list[dict[str, Any]], where: str, expected: list[str]) -> None:
    answered: list[str] = []
    seen_other = False
    for j, block in enumerate(blocks):
        kind = block.get("type")
        at = f"{where}.content.{j}"
        if kind not in USER_BLOCKS:
            raise Invalid(f"{at}.type: Input tag '{kind}' is not a valid user content block")
        if kind == "text":
            _validate_text(block, at)
            seen_other = True
        elif kind == "image":
            _validate_image(block, at)
            seen_other = True
        elif kind == "tool_result":
            tool_use_id = block.get("tool_use_id")
            if tool_use_id not in expected:
                raise Invalid(
                    f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{tool_use_id}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )
            if tool_use_id in answered:
                raise Invalid(f"{at}: each `tool_use` may be answered by only one `tool_result`")
            if seen_other:
                raise Invalid(f"{at}: `tool_result` blocks must come first in the message content")
            answered.append(tool_use_id)
            _validate_tool_result_content(block.get("content"), at)
        else:
            seen_other = True
    missing = [i for i in expected if i not in answered]
    if missing:
        raise Invalid(
            f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
            f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
            "`tool_result` block in the next message."
        )


def _validate_tool_result_content(content: Any, at: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise Invalid(f"{at}.content: Input should be a valid string or list")
    for k, item in enumerate(content):
        if not isinstance(item, dict):
            raise Invalid(f"{at}.content.{k}: Input should be a content block")
        if item.get("type") == "text":
            _validate_text(item, f"{at}.content.{k}")
        elif item.get("type") == "image":
            _validate_image(item, f"{at}.content.{k}")
        elif item.get("type") not in ("document", "search_result"):
            raise Invalid(
                f"{at}.content.{k}.type: Input tag '{item.get('type')}' is not valid here"
            )


def _validate_text(block: dict[str, Any], at: str) -> None:
    if not isinstance(block.get("text"), str) or not block["text"]:
        raise Invalid(f"{at}.text: text content blocks must be non-empty")
    if not block["text"].strip():
        raise Invalid(f"{at}.text: text content blocks must contain non-whitespace text")


def _validate_image(block: dict[str, Any], at: str) -> None:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise Invalid(f"{at}.source: Input should be a base64 image source")
    media_type = source.get("media_type")
    if media_type not in IMAGE_MAGIC:
        raise Invalid(
            f"{at}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'"
        )
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise Invalid(f"{at}.source.base64.data: Field required")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{at}.source.base64.data: invalid base64 data") from None
    if not raw.startswith(IMAGE_MAGIC[media_type]):
        raise Invalid(f"{at}: Image does not match the provided media type {media_type}")


def _validate_assistant(blocks: list[dict[str, Any]], where: str, secret: bytes) -> list[str]:
    ids: list[str] = []
    for j, block in enumerate(blocks):
        kind = block.get("type")
        at = f"{where}.content.{j}"
        if kind not in ASSISTANT_BLOCKS:
            raise Invalid(f"{at}.type: Input tag '{kind}' is not a valid assistant content block")
        if kind == "text":
            _validate_text(block, at)
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise Invalid(f"{at}.tool_use: id and name are required")
            if not isinstance(block.get("input"), dict):
                raise Invalid(f"{at}.tool_use.input: Input should be a valid dictionary")
            ids.append(block["id"])
        elif kind == "thinking":
            signature = block.get("signature")
            if not signature:
                raise Invalid(f"{at}.thinking.signature: Field required")
            if not isinstance(block.get("thinking"), str):
                raise Invalid(f"{at}.thinking.thinking: Field required")
            if not hmac.compare_digest(signature, sign(secret, block["thinking"])):
                raise Invalid(f"{at}: Invalid `signature` in `thinking` block")
        elif kind == "compaction":
            content = block.get("content")
            if content is not None and (not isinstance(content, str) or not content):
                raise Invalid(f"{at}.compaction.content: a string summary or null (not empty)")
            if content is not None and not hmac.compare_digest(
                str(block.get("signature") or ""), sign(secret, content)
            ):
                raise Invalid(
                    f"{at}: Invalid `signature` in `compaction` block: send it back as given"
                )
        elif kind == "redacted_thinking":
            if not isinstance(block.get("data"), str) or not block["data"]:
                raise Invalid(f"{at}.redacted_thinking.data: Field required")
    return ids


def _validate_thinking_turn(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn of an ongoing tool loop must start with thinking."""
    last = messages[-1]
    if last["role"] != "user" or not isinstance(last.get("content"), list):
        return
    if not any(b.get("type") == "tool_result" for b in last["content"]):
        return
    assistant = messages[-2]
    first = _blocks(assistant.get("content"), "")[0]
    if first.get("type") not in ("thinking", "redacted_thinking"):
        raise Invalid(
            f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
            f"`redacted_thinking`, but found `{first.get('type')}`. When `thinking` is enabled, "
            "a final `assistant` message must start with a thinking block."
        )


def _count(value: Any, at: str, kinds: tuple[str, ...], minimum: int = 1) -> int:
    """A ``{"type": kind, "value": n}`` amount (trigger, keep, clear_at_least)."""
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise Invalid(f"{at}: Input should be an object with type {' or '.join(kinds)}")
    if set(value) - {"type", "value"}:
        raise Invalid(f"{at}: Extra inputs are not permitted")
    n = value.get("value")
    if not isinstance(n, int) or isinstance(n, bool) or n < minimum:
        raise Invalid(f"{at}.value: Input should be an integer of at least {minimum}")
    return n


def _validate_context_management(value: Any, betas: set[str], beta_source: str) -> None:
    if not isinstance(value, dict) or set(value) - {"edits"}:
        raise Invalid("context_management: Input should be an object with `edits`")
    edits = value.get("edits", [])
    if not isinstance(edits, list):
        raise Invalid("context_management.edits: Input should be a valid list")
    seen: set[str] = set()
    for i, edit in enumerate(edits):
        at = f"context_management.edits.{i}"
        kind = edit.get("type") if isinstance(edit, dict) else None
        if kind not in CONTEXT_EDIT_BETAS:
            expected = ", ".join(f"'{t}'" for t in CONTEXT_EDIT_BETAS)
            raise Invalid(
                f"{at}: Input tag '{kind}' does not match any of the expected tags: {expected}"
            )
        if CONTEXT_EDIT_BETAS[kind] not in betas:
            raise Invalid(f"{at}: '{kind}' needs {beta_source} {CONTEXT_EDIT_BETAS[kind]}")
        if kind in seen:
            raise Invalid(f"{at}: each context management edit type may be given once")
        seen.add(kind)
        extra = set(edit) - CONTEXT_EDIT_FIELDS[kind]
        if extra:
            raise Invalid(f"{at}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if kind == "clear_tool_uses_20250919":
            if "trigger" in edit:
                _count(edit["trigger"], f"{at}.trigger", ("input_tokens", "tool_uses"))
            if "keep" in edit:
                _count(edit["keep"], f"{at}.keep", ("tool_uses",), minimum=0)
            if edit.get("clear_at_least") is not None:
                _count(edit["clear_at_least"], f"{at}.clear_at_least", ("input_tokens",))
            exclude = edit.get("exclude_tools")
            if exclude is not None and not (
                isinstance(exclude, list) and all(isinstance(t, str) for t in exclude)
            ):
                raise Invalid(f"{at}.exclude_tools: Input should be a list of tool names")
        elif kind == "compact_20260112":
            if edit.get("trigger") is not None:
                _count(edit["trigger"], f"{at}.trigger", ("input_tokens",), MIN_COMPACTION_TRIGGER)
            if "pause_after_compaction" in edit and not isinstance(
                edit["pause_after_compaction"], bool
            ):
                raise Invalid(f"{at}.pause_after_compaction: Input should be a valid boolean")
            instructions = edit.get("instructions")
            if instructions is not None and not isinstance(instructions, str):
                raise Invalid(f"{at}.instructions: Input should be a valid string")
        elif kind == "clear_thinking_20251015" and i != 0:
            raise Invalid(f"{at}: clear_thinking_20251015 must be the first edit")
