"""The request body of each step, built and serialized incrementally.

A run sends its whole history on every step, so re-encoding it each time would make a step
cost grow with the run. Messages never change in place (history.py copies on write), so each
message's JSON is kept and reused while its request plan (screenshots dropped, breakpoint)
stays the same; a step then serializes only what is new or changed.
"""

from __future__ import annotations

import json
from typing import Any

from . import history as h

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class RequestBody:
    """Everything but ``messages`` is fixed for the run; ``build`` adds the messages."""

    def __init__(
        self,
        static: dict[str, Any],
        *,
        keep_images: int | None,
        image_chunk: int,
        caching: bool,
    ) -> None:
        self.static = static
        self.keep_images = keep_images
        self.image_chunk = image_chunk
        self.caching = caching
        head = _encode(static)
        self._head = (head[:-1] + ("," if static else "") + '"messages":[').encode()
        # id(message) -> (message, plan entry, prepared message, its JSON)
        self._prepared: dict[int, tuple[Any, tuple[int, bool], dict[str, Any], bytes]] = {}
        self._images: dict[int, tuple[Any, int]] = {}

    def _image_count(self, message: dict[str, Any]) -> int:
        hit = self._images.get(id(message))
        if hit is None or hit[0] is not message:
            hit = (message, h.image_count(message))
            self._images[id(message)] = hit
        return hit[1]

    def build(self, messages: list[dict[str, Any]]) -> tuple[dict[str, Any], bytes]:
        """The request as a dict (for records) and as the JSON bytes to send."""
        plan = h.request_plan(
            messages,
            keep_images=self.keep_images,
            image_chunk=self.image_chunk,
            caching=self.caching,
            count=self._image_count,
        )
        sent: list[dict[str, Any]] = []
        parts: list[bytes] = []
        for message, entry in zip(messages, plan, strict=True):
            hit = self._prepared.get(id(message))
            if hit is None or hit[0] is not message or hit[1] != entry:
                drop, mark = entry
                prepared = h.prepare_message(message, drop_images=drop, breakpoint=mark)
                hit = (message, entry, prepared, _encode(prepared).encode())
                self._prepared[id(message)] = hit
            sent.append(hit[2])
            parts.append(hit[3])
        return {**self.static, "messages": sent}, self._head + b",".join(parts) + b"]}"
