"""A saved session loads back exactly as it was written, whatever characters it holds."""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    ErrorEvent,
    Event,
    StepStarted,
    ToolResultEvent,
    ToolStarted,
    Usage,
    UserMessage,
    to_json,
)
from computer_use_demo.sessions.trajectory import Trajectory, encode_line
from computer_use_demo.tools import CLIResult, ToolFailure, ToolResult
from tests.support.images import png_b64

#: Every character str.splitlines() splits at (json.dumps(ensure_ascii=False) writes all but
#: \n, \r, \x0b, \x0c, \x1c-\x1e escaped... and U+0085, U+2028, U+2029 raw).
LINE_BREAKS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]
TRICKY = [*LINE_BREAKS, "\t", '"', "\\", "\x00", "\ud800", "\udfff", "é", "日本", "🙂", "\ufeff"]


def saved_and_loaded(tmp_path: Path, events: list[Event]) -> list[Event]:
    trajectory = Trajectory.create(tmp_path)
    for event in events:
        trajectory.append(event)
    return Trajectory.open(trajectory.path).events()


def as_bytes(event: Event) -> bytes:
    return encode_line(to_json(event))


@pytest.mark.parametrize("separator", LINE_BREAKS, ids=lambda s: f"U+{ord(s[0]):04X}")
def test_every_line_separator_survives(tmp_path: Path, separator: str) -> None:
    text = f"var a = 1;{separator}var b = 2;{separator}"
    history = [
        {"role": "user", "content": [{"type": "text", "text": text}]},
        {"role": "assistant", "content": [{"type": "text", "text": f"got{separator}it"}]},
    ]
    events: list[Event] = [
        UserMessage(text=text),
        StepStarted(step=1),
        AssistantBlock(block={"type": "text", "text": f"got{separator}it"}),
        ToolResultEvent(tool_use_id="t1", name="bash", result=CLIResult(output=text)),
        Done(reason="end_turn", steps=1, messages=history),
    ]
    loaded = saved_and_loaded(tmp_path, events)
    assert loaded == events
    assert Trajectory.open(tmp_path / next(p.name for p in tmp_path.iterdir())).messages() == (
        history
    )


# ---------------------------------------------------------------- property: any sequence


def rand_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 8)):
        pick = rng.random()
        if pick < 0.4:
            parts.append(rng.choice(TRICKY))
        elif pick < 0.7:
            parts.append(chr(rng.randint(0, 0x10FFFF)))
        else:
            parts.append("".join(rng.choice("abc {}[]:,") for _ in range(rng.randint(1, 5))))
    # A high surrogate right before a low one is one character in JSON (no JSON text can
    # give Python the two apart), so none is generated; lone ones are.
    return re.sub("([\ud800-\udbff])(?=[\udc00-\udfff])", "\\1 ", "".join(parts))


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randint(0, 7 if depth < 3 else 4)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.randint(-(2**63), 2**63)
    if pick == 3:
        return rng.choice([0.1, -2.5e-300, 1e308, rng.random()])
    if pick == 4:
        return rand_text(rng)
    if pick == 5:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_text(rng): rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def rand_image(rng: random.Random) -> str:
    pick = rng.randint(0, 3)
    if pick == 0:
        return png_b64(rng.randint(1, 20), rng.randint(1, 20), (rng.randint(0, 255), 0, 0))
    if pick == 1:
        return base64.b64encode(b"\xff\xd8\xff" + rng.randbytes(rng.randint(0, 40))).decode()
    if pick == 2:
        return "QR=="  # valid base64 with unused bits set: must come back as it was
    return "not base64 at all " + rand_text(rng)


def rand_event(rng: random.Random) -> Event:
    kind = rng.randint(0, 8)
    if kind == 0:
        return UserMessage(text=rand_text(rng))
    if kind == 1:
        return StepStarted(step=rng.randint(1, 500))
    if kind == 2:
        block = {"type": "text", "text": rand_text(rng), rand_text(rng): rand_json(rng)}
        return AssistantBlock(block=block)
    if kind == 3:
        return ToolStarted(
            tool_use_id=rand_text(rng), name=rand_text(rng), input=rand_json_obj(rng)
        )
    if kind == 4:
        cls = rng.choice([ToolResult, CLIResult, ToolFailure])
        fields = {
            k: (rand_text(rng) if rng.random() < 0.5 else None)
            for k in ("output", "error", "system")
        }
        image = rand_image(rng) if rng.random() < 0.6 else None
        result = cls(**fields, base64_image=image)  # type: ignore[arg-type]
        return ToolResultEvent(tool_use_id=rand_text(rng), name="computer", result=result)
    if kind == 5:
        image = {"type": "base64", "media_type": "image/png", "data": rand_image(rng)}
        messages = [
            {"role": "user", "content": [{"type": "image", "source": image}]},
            {"role": rand_text(rng), "content": rand_json(rng)},
        ][: rng.randint(0, 2)]
        return ApiExchange(
            method="POST",
            url=rand_text(rng),
            request_headers={rand_text(rng): rand_text(rng)},
            request_body={"messages": messages, "x": rand_json(rng)},
            status=rng.choice([None, 200, 529]),
            response_body=rand_json(rng),
            error=rng.choice([None, rand_text(rng)]),
            elapsed_ms=rng.random() * 1000,
        )
    if kind == 6:
        return Usage(input_tokens=rng.randint(0, 10**6), cost_usd=rng.choice([None, rng.random()]))
    if kind == 7:
        return ErrorEvent(message=rand_text(rng), status=rng.choice([None, 400]))
    content = [
        {"type": "text", "text": rand_text(rng)},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": rand_image(rng)},
        },
    ]
    messages = [{"role": "user", "content": content}, {"role": "assistant", "content": "ok"}]
    return Done(reason="end_turn", steps=rng.randint(0, 9), messages=messages)


def rand_json_obj(rng: random.Random) -> dict[str, Any]:
    return {rand_text(rng): rand_json(rng) for _ in range(rng.randint(0, 3))}


@pytest.mark.parametrize("seed", range(40))
def test_any_event_sequence_survives_save_and_load_byte_for_byte(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events = [rand_event(rng) for _ in range(rng.randint(1, 25))]
    loaded = saved_and_loaded(tmp_path, events)
    assert len(loaded) == len(events)
    for original, back in zip(events, loaded, strict=True):
        assert as_bytes(back) == as_bytes(original)
        assert json.loads(as_bytes(back)) == json.loads(as_bytes(original))
