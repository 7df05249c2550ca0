"""Pure transforms of a conversation history (lists of Messages API message dicts).

None of these functions mutates its input: each returns a new list and copies only the
messages and blocks it changes, so the loop can apply them to every request of a long run
cheaply and the caller's history is never altered behind its back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from anthropic.lib.tools._toolsets._runnable import HALT_TEXT, NOT_EXECUTED
from anthropic.types.beta import BetaContentBlock

from ..tools.results import STOPPED_BY_USER as STOPPED_BY_USER
from ..tools.results import image_media_type as image_media_type
from ..tools.results import is_blank as is_blank
from ..tools.results import is_failure as is_failure
from ..tools.results import result_text as result_text
from ..tools.results import tool_result_block as tool_result_block

log = logging.getLogger(__name__)

Message = dict[str, Any]
Block = dict[str, Any]

#: What a screenshot removed by image truncation is replaced with (stable, so the cache holds).
IMAGE_REMOVED = "[screenshot removed to save context]"
#: The breakpoint the API caches up to.
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}


# ---------------------------------------------------------------- API response <-> params


def response_to_params(content: Iterable[BetaContentBlock]) -> list[Block]:
    """The blocks of an API response as params to send back: thinking keeps its signature,
    redacted_thinking its data; empty and whitespace-only text blocks are dropped (the API
    refuses them when they are sent back)."""
    params: list[Block] = []
    for block in content:
        match block.type:
            case "text":
                if not is_blank(block.text):  # type: ignore[union-attr]
                    param: Block = {"type": "text", "text": block.text}  # type: ignore[union-attr]
                    if getattr(block, "citations", None):
                        param["citations"] = [
                            c.model_dump(mode="json", exclude_none=True)
                            for c in block.citations  # type: ignore[union-attr]
                        ]
                    params.append(param)
            case "thinking":
                params.append(
                    {
                        "type": "thinking",
                        "thinking": block.thinking,  # type: ignore[union-attr]
                        "signature": block.signature,  # type: ignore[union-attr]
                    }
                )
            case "redacted_thinking":
                params.append({"type": "redacted_thinking", "data": block.data})  # type: ignore[union-attr]
            case "tool_use":
                use: Block = {
                    "type": "tool_use",
                    "id": block.id,  # type: ignore[union-attr]
                    "name": block.name,  # type: ignore[union-attr]
                    "input": block.input,  # type: ignore[union-attr]
                }
                if getattr(block, "toolset_name", None) is not None:
                    use["toolset_name"] = block.toolset_name  # type: ignore[union-attr]
                params.append(use)
            case _:
                params.append(block.model_dump(mode="json", exclude_none=True))
    return params


def tool_uses(message: Mapping[str, Any]) -> list[Block]:
    """The tool_use blocks of an assistant message."""
    content = message.get("content")
    if message.get("role") != "assistant" or not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]


def _blocks(content: Any) -> list[Block]:
    """Message content as a list of blocks (a string becomes one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


# ---------------------------------------------------------------- interrupt healing


def heal(messages: Iterable[Mapping[str, Any]], *, reason: str = STOPPED_BY_USER) -> list[Message]:
    """A history the API accepts, whatever a stop, a crash or an edit left behind.

    - messages with an unknown role, empty content or only blank text are dropped, and so is
      every whitespace-only text block (the API refuses them), tool_results' included;
    - consecutive messages of one role are merged (roles must alternate);
    - a leading assistant message gets a user message before it;
    - every tool_use gets a tool_result in the next user message (an error ``reason`` for the
      missing ones; the SDK's halt text for a toolset's calls after one of them failed), and
      tool_results come first in that message;
    - a tool_result answering no tool_use of the previous message becomes a text block.
    """
    cleaned: list[Message] = []
    for message in messages:
        role = message.get("role")
        if role not in ("user", "assistant"):
            log.warning("dropping a message with role %r", role)
            continue
        content = message.get("content")
        given = _blocks(content)
        blocks = [_without_blank(b) for b in given if not _blank_text(b)]
        if not blocks:
            continue
        if cleaned and cleaned[-1]["role"] == role:
            cleaned[-1] = {**cleaned[-1], "content": _blocks(cleaned[-1]["content"]) + blocks}
            continue
        changed = len(blocks) != len(given) or any(
            a is not b for a, b in zip(blocks, given, strict=True)
        )
        if isinstance(content, str) or changed or len(given) != len(content or []):
            message = {**message, "content": blocks}
        cleaned.append(dict(message))

    if cleaned and cleaned[0]["role"] == "assistant":
        cleaned.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continued)"}]})

    healed: list[Message] = []
    for i, message in enumerate(cleaned):
        if message["role"] == "user":
            previous = healed[-1] if healed else None
            message = _answer(message, tool_uses(previous) if previous else [], reason)
        healed.append(message)
        if message["role"] == "assistant" and tool_uses(message):
            following = cleaned[i + 1] if i + 1 < len(cleaned) else None
            if following is None:
                healed.append(_answer({"role": "user", "content": []}, tool_uses(message), reason))
    return healed


def _blank_text(block: Block) -> bool:
    return block.get("type") == "text" and is_blank(block.get("text"))


def _without_blank(block: Block) -> Block:
    """A tool_result without whitespace-only text inside (sessions saved before they were
    dropped hold "\n" outputs); ``block`` itself when it has none."""
    inner = block.get("content")
    if block.get("type") != "tool_result" or not isinstance(inner, list):
        return block
    kept = [b for b in inner if not (isinstance(b, dict) and _blank_text(b))]
    if len(kept) == len(inner):
        return block
    return {**block, "content": kept}


def _answer(message: Message, uses: list[Block], reason: str) -> Message:
    """``message`` with a tool_result for each of the tool_use blocks ``uses``, results
    first (a toolset member's echoes its ``toolset_name``)."""
    expected = [b["id"] for b in uses]
    blocks = _blocks(message["content"])
    results: list[Block] = []
    others: list[Block] = []
    seen: set[str] = set()
    for block in blocks:
        if block.get("type") != "tool_result":
            others.append(block)
        elif block.get("tool_use_id") in expected and block["tool_use_id"] not in seen:
            seen.add(block["tool_use_id"])
            results.append(block)
        else:
            others.append({"type": "text", "text": _orphan_text(block)})
    missing = [i for i in expected if i not in seen]
    if not missing and results == [b for b in blocks if b.get("type") == "tool_result"]:
        if blocks == list(message["content"]) and blocks[: len(results)] == results:
            return message
    failed = {r.get("toolset_name") for r in results if r.get("is_error")} - {None}
    results += not_run_results([u for u in uses if u["id"] in missing], reason, failed=failed)
    return {**message, "content": results + others}


def not_run_results(
    uses: Iterable[Block], reason: str, *, failed: Iterable[str] = ()
) -> list[Block]:
    """Error results for tool_use blocks that will not run: ``reason``, except that a
    toolset's batch halts at its first failure, so once one of its calls failed (``failed``
    names toolsets that already did) or was answered ``reason``, the rest get the SDK's halt
    text. A member's result echoes its ``toolset_name``."""
    halted = set(failed)
    results: list[Block] = []
    for use in uses:
        toolset = use.get("toolset_name")
        text = HALT_TEXT.get(toolset, NOT_EXECUTED) if toolset in halted else reason
        result = {
            "type": "tool_result",
            "tool_use_id": use["id"],
            "content": text,
            "is_error": True,
        }
        if toolset is not None:
            result["toolset_name"] = toolset
            halted.add(toolset)
        results.append(result)
    return results


def _orphan_text(block: Block) -> str:
    content = block.get("content")
    if isinstance(content, list):
        content = " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return f"(result of tool call {block.get('tool_use_id')}: {content or 'no output'})"


# ---------------------------------------------------------------- what each request sends
#
# Image truncation and cache breakpoints are decided for the whole history (a plan: per
# message, how many screenshots to drop and whether it carries a breakpoint), then applied
# message by message. A message whose plan entry does not change between steps comes out the
# same, so the request prefix, and with it the prompt cache, stays put.


def image_count(message: Mapping[str, Any]) -> int:
    """How many screenshots (images inside tool_results) a message holds."""
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return 0
    n = 0
    for block in content:
        if block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list):
                n += sum(1 for item in inner if item.get("type") == "image")
    return n


def count_images(messages: list[Message]) -> int:
    """How many screenshots the history holds."""
    return sum(image_count(m) for m in messages)


def removal_plan(counts: list[int], keep: int | None, chunk: int = 1) -> list[int]:
    """Per message, how many of its screenshots to drop: all but the newest ``keep``, removed
    ``chunk`` at a time so the request prefix changes only every ``chunk`` steps. Between
    removals up to ``keep + chunk - 1`` screenshots remain, never more."""
    plan = [0] * len(counts)
    if keep is None:
        return plan
    remove = sum(counts) - max(0, keep)
    remove -= remove % max(1, chunk)
    for i, n in enumerate(counts):
        if remove <= 0:
            break
        plan[i] = min(n, remove)
        remove -= plan[i]
    return plan


def breakpoint_plan(messages: list[Message], turns: int = 3) -> list[bool]:
    """Which messages carry a cache breakpoint: the last ``turns`` user messages (the
    reference's choice; the system prompt takes the fourth of the API's four)."""
    plan = [False] * len(messages)
    marked = 0
    for i in range(len(messages) - 1, -1, -1):
        if marked >= turns:
            break
        if messages[i].get("role") == "user" and _blocks(messages[i].get("content")):
            plan[i] = True
            marked += 1
    return plan


def _drop_images(content: list[Block], n: int) -> list[Block]:
    out = list(content)
    for bi, block in enumerate(out):
        if n <= 0:
            break
        inner = block.get("content")
        if block.get("type") != "tool_result" or not isinstance(inner, list):
            continue
        new_inner = list(inner)
        for ci, item in enumerate(new_inner):
            if n > 0 and item.get("type") == "image":
                new_inner[ci] = {"type": "text", "text": IMAGE_REMOVED}
                n -= 1
        out[bi] = {**block, "content": new_inner}
    return out


def _strip_block(block: Block) -> Block:
    """``block`` without cache_control, here and inside a tool_result's content."""
    inner = block.get("content")
    nested = isinstance(inner, list) and any("cache_control" in b for b in inner)
    if "cache_control" not in block and not nested:
        return block
    block = {k: v for k, v in block.items() if k != "cache_control"}
    if nested:
        block["content"] = [
            {k: v for k, v in b.items() if k != "cache_control"}
            for b in inner  # type: ignore[union-attr]
        ]
    return block


def has_cache_control(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(_strip_block(b) is not b for b in content)


def prepare_message(
    message: Message, *, drop_images: int = 0, breakpoint: bool = False, strip: bool = True
) -> Message:
    """``message`` as one request sends it: its oldest ``drop_images`` screenshots replaced by
    a short text, any cache_control removed (``strip``), and a breakpoint on its last block if
    ``breakpoint``. Returns ``message`` itself when nothing changes."""
    content = message.get("content")
    dirty = strip and has_cache_control(message)
    if not drop_images and not breakpoint and not dirty:
        return message
    blocks = _blocks(content)
    if dirty:
        blocks = [_strip_block(b) for b in blocks]
    if drop_images:
        blocks = _drop_images(blocks, drop_images)
    if breakpoint and blocks:
        blocks = [*blocks[:-1], {**blocks[-1], "cache_control": dict(EPHEMERAL)}]
    return {**message, "content": blocks}


def request_plan(
    messages: list[Message],
    *,
    keep_images: int | None,
    image_chunk: int,
    caching: bool,
    count: Callable[[Message], int] = image_count,
) -> list[tuple[int, bool]]:
    """Per message: (screenshots to drop, carries a breakpoint). ``count`` is image_count or
    a memo of it (RequestBody)."""
    drops = removal_plan([count(m) for m in messages], keep_images, image_chunk)
    marks = breakpoint_plan(messages) if caching else [False] * len(messages)
    return list(zip(drops, marks, strict=True))


def request_messages(
    messages: list[Message],
    *,
    keep_images: int | None,
    image_chunk: int,
    caching: bool,
) -> list[Message]:
    """What the loop sends for ``messages``: screenshots truncated, breakpoints placed."""
    plan = request_plan(messages, keep_images=keep_images, image_chunk=image_chunk, caching=caching)
    return [
        prepare_message(m, drop_images=d, breakpoint=b)
        for m, (d, b) in zip(messages, plan, strict=True)
    ]


def truncate_images(messages: list[Message], keep: int, chunk: int = 1) -> list[Message]:
    """All but the newest ``keep`` screenshots replaced by a short text, ``chunk`` at a time
    (see removal_plan); cache_control is left as it is."""
    plan = removal_plan([image_count(m) for m in messages], keep, chunk)
    return [
        prepare_message(m, drop_images=d, strip=False) if d else m
        for m, d in zip(messages, plan, strict=True)
    ]


def with_cache_breakpoints(messages: list[Message], turns: int = 3) -> list[Message]:
    """The history with a breakpoint on the last block of each of the last ``turns`` user
    messages and nowhere else (the reference's _inject_prompt_caching, made pure)."""
    marks = breakpoint_plan(messages, turns)
    return [prepare_message(m, breakpoint=b) for m, b in zip(messages, marks, strict=True)]


def system_blocks(text: str, *, cache: bool) -> list[Block]:
    """The system prompt as blocks, with the fourth breakpoint when caching."""
    block: Block = {"type": "text", "text": text}
    if cache:
        block["cache_control"] = dict(EPHEMERAL)
    return [block]
