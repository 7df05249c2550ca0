"""A session's events as Server-Sent Events: what is saved, then what comes, as it comes.

The source is the session's own events file (trajectory.py), so a follower sees the same
events whichever process runs the session (the door for the task API and MCP, the chat app
for the chat) and across a restart of the door. Each event's id is the byte offset just past
its line: a client that reconnects with ``Last-Event-ID`` goes on from there, and gets
nothing twice and nothing missed. The deltas of streamed text and thinking are never saved;
those of a run in this process are sent as they come, with the id ``<offset>.<n>`` (the
finished block follows as a saved event, so a reconnect loses no text, only its stream).

A run in this process wakes its followers at once (``Feed.publish``, called from the run's
thread); a run of another process is seen by looking at the file a few times a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..agent.events import TRANSIENT, Event, redact_event, to_json
from ..sessions.trajectory import EVENTS_FILE, Trajectory

#: How often a follower looks at the file when no run of this process wakes it.
POLL_SECONDS = 0.1
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
#: Deltas kept for followers that fall behind (a run streams a few per second).
KEEP_DELTAS = 2000
EVENT_ID = re.compile(r"^(\d{1,15})(?:\.(\d{1,15}))?$")


class BadEventId(ValueError):
    """A Last-Event-ID this stream never sent."""


class Feed:
    """Wakes the followers of one session when a run of this process reports an event."""

    def __init__(self, events_file: Path) -> None:
        self.events_file = events_file
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._deltas: deque[tuple[int, int, dict[str, Any]]] = deque(maxlen=KEEP_DELTAS)
        self._seq = 0

    def publish(self, event: Event) -> None:
        """A run's listener (any thread): keep a delta, wake every follower."""
        if isinstance(event, TRANSIENT):
            try:
                offset = os.stat(self.events_file).st_size
            except OSError:
                return
            with self._lock:
                self._seq += 1
                self._deltas.append((offset, self._seq, to_json(redact_event(event))))
        with self._lock:
            waiters = list(self._waiters)
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop closed
                loop.call_soon_threadsafe(waiter.set)

    def subscribe(self) -> asyncio.Event:
        waiter = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), waiter))
        return waiter

    def unsubscribe(self, waiter: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not waiter}

    def deltas_at(self, offset: int, after: int) -> list[tuple[int, dict[str, Any]]]:
        """The deltas streamed while the file ended at ``offset``, after number ``after``."""
        with self._lock:
            return [(s, d) for o, s, d in self._deltas if o == offset and s > after]


_FEEDS: dict[str, Feed] = {}
_FEEDS_LOCK = threading.Lock()


def feed_for(trajectory: Trajectory) -> Feed:
    key = str(trajectory.path.resolve())
    with _FEEDS_LOCK:
        feed = _FEEDS.get(key)
        if feed is None:
            feed = _FEEDS[key] = Feed(trajectory.path / EVENTS_FILE)
        return feed


def parse_event_id(value: str | None, events_file: Path) -> tuple[int, int]:
    """(offset, delta number) of a Last-Event-ID; raises BadEventId for one we never sent."""
    if value is None or not value.strip():
        return 0, 0
    match = EVENT_ID.match(value.strip())
    if match is None:
        raise BadEventId(f"Last-Event-ID {value!r} is not an id of this stream")
    offset, seq = int(match[1]), int(match[2] or 0)
    try:
        with open(events_file, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if offset > size:
                raise BadEventId(f"Last-Event-ID {value!r} is past the session's events")
            if offset:
                f.seek(offset - 1)
                if f.read(1) != b"\n":
                    raise BadEventId(f"Last-Event-ID {value!r} is not an id of this stream")
    except OSError as e:
        raise BadEventId(f"the session's events cannot be read: {e}") from e
    return offset, seq


def shown(record: dict[str, Any], images_url: str) -> dict[str, Any]:
    """A saved record as a follower gets it: a run's end without its history (the raw events
    have it), a screenshot as a link instead of a file name."""
    kind = record.get("kind")
    if kind == "done":
        return {k: v for k, v in record.items() if k not in ("messages", "kept_messages")}
    result = record.get("result")
    if kind == "tool_result" and isinstance(result, dict):
        name = result.get("base64_image_file")
        if isinstance(name, str) and name.startswith("images/"):
            return {**record, "image_url": f"{images_url}/{name.removeprefix('images/')}"}
    return record


def frame(event_id: str, kind: str, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {text}\n\n".encode()


async def follow(
    trajectory: Trajectory,
    *,
    offset: int = 0,
    after_delta: int = 0,
    until_done: bool = False,
    images_url: str = "",
) -> AsyncIterator[bytes]:
    """The session's events from ``offset`` on, as SSE frames, for as long as the client
    listens (``until_done``: up to the end of the next run)."""
    feed = feed_for(trajectory)
    waiter = feed.subscribe()
    quiet = 0.0
    try:
        # A local file's new bytes: a read takes microseconds, no thread needed.
        with open(trajectory.path / EVENTS_FILE, "rb") as f:  # noqa: ASYNC230
            while True:
                waiter.clear()
                f.seek(offset)
                chunk = f.read()
                end = chunk.rfind(b"\n")
                if end >= 0:  # whole lines only: a line being written waits for its end
                    for line in chunk[: end + 1].split(b"\n")[:-1]:
                        # What streamed before this line was written comes before it.
                        for seq, data in feed.deltas_at(offset, after_delta):
                            yield frame(f"{offset}.{seq}", str(data["kind"]), data)
                        offset += len(line) + 1
                        after_delta = 0
                        if not line.strip():
                            continue
                        try:
                            record = json.loads(line)
                        except ValueError:
                            continue  # a crash's half line: the store skips it too
                        kind = str(record.get("kind", "event"))
                        yield frame(str(offset), kind, shown(record, images_url))
                        if until_done and kind == "done":
                            return
                    quiet = 0.0
                for seq, data in feed.deltas_at(offset, after_delta):
                    yield frame(f"{offset}.{seq}", str(data["kind"]), data)
                    after_delta = seq
                try:
                    await asyncio.wait_for(waiter.wait(), POLL_SECONDS)
                except TimeoutError:
                    quiet += POLL_SECONDS
                    if quiet >= KEEPALIVE_SECONDS:
                        quiet = 0.0
                        yield b": keepalive\n\n"
    finally:
        feed.unsubscribe(waiter)
