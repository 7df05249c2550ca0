"""A run saved to disk: ``<root>/<id>/messages.jsonl`` (one event per line) + screenshots.

Screenshots are written once as PNG/JPEG files named by their content hash and referenced by
file name from the JSON lines, never inlined: a 500-step run stays a small text file, and the
same screenshot in a tool result and in the final history is stored once. Recorded API
requests keep only their newest messages (``omitted_messages`` says how many were left out):
the rest of the history is in the other events. A run's ``Done`` stores its history as a
delta: ``kept_messages`` leading messages of the previous Done's history, then the messages
that differ (a session of many runs grows with its length, not with its square; files that
hold whole histories still load). Appends are flushed line by line, so a crash loses at most
the line being written; a truncated last line is skipped on reading and the next append
starts on a fresh line.

Each screenshot is decoded, hashed and written once per Trajectory object (a memo by its
base64 text), and read back once per load. ``events(images=False)`` leaves them on disk:
results carry the file (``ToolResultEvent.image_file``) and histories keep the references
until ``load_images`` fills them in, so the chat app holds no base64 for what it shows.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anthropic.types.beta import BetaMessageParam

from ..agent import history as h
from ..agent import private_files
from ..agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    Event,
    Resumed,
    StepStarted,
    ToolResultEvent,
    UserMessage,
    event_from_json,
    redact_event,
    to_json,
)
from ..agent.pause import note_blocks
from ..agent.shutdown import APP_STOPPED as APP_STOPPED

log = logging.getLogger(__name__)

EVENTS_FILE = "messages.jsonl"
META_FILE = "meta.json"
#: Held (flock) by whichever process runs the agent in the session: the kernel lets go when
#: that process dies, so a session with an unfinished run and a free lock was cut by a crash.
RUN_LOCK_FILE = "run.lock"
IMAGES_DIR = "images"
#: Messages of a request body kept in an ApiExchange line (the newest; see _trim_request).
KEEP_REQUEST_MESSAGES = 2
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def default_root() -> Path:
    return Path("~/.anthropic/sessions").expanduser()


def _new_id() -> str:
    """Sortable by creation time: UTC timestamp, then random hex against collisions."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class TrajectoryInfo:
    id: str
    path: Path
    title: str
    created: datetime
    updated: datetime
    steps: int


class Trajectory:
    """One saved run (or conversation of several runs). Append events; read them back."""

    def __init__(self, path: Path, *, id: str, title: str = "", created: str = "") -> None:
        self.path = Path(path)
        self.id = id
        self.title = title
        self.created = created
        #: Screenshots already saved by this object: (len, hash, head, tail) -> file name.
        self._image_names: dict[tuple[int, int, str, str], str] = {}
        #: The last Done's history as saved (file references, no base64), and the size of
        #: the events file it is valid for (another writer's append makes it stale).
        self._history: list[Any] | None = None
        self._history_at = -1

    # -------------------------------------------------------------- create / open

    @classmethod
    def create(cls, root: Path | None = None, *, title: str = "") -> Trajectory:
        root = Path(root) if root is not None else default_root()
        private_files.private_dir(root)
        while True:
            id = _new_id()
            try:
                (root / id).mkdir(mode=private_files.DIR_MODE)
                break
            except FileExistsError:
                continue
        created = datetime.now(UTC).isoformat()
        trajectory = cls(root / id, id=id, title=title, created=created)
        trajectory._write_meta()
        private_files.touch(trajectory.path / EVENTS_FILE)
        return trajectory

    @classmethod
    def open(cls, path: Path | str) -> Trajectory:
        """Open a trajectory folder (or its messages.jsonl)."""
        path = Path(path).expanduser()
        if path.name == EVENTS_FILE:
            path = path.parent
        if not (path / EVENTS_FILE).is_file():
            raise FileNotFoundError(f"no {EVENTS_FILE} in {path}")
        meta = _read_meta(path)
        return cls(
            path,
            id=meta.get("id", path.name),
            title=meta.get("title", ""),
            created=meta.get("created", ""),
        )

    def _write_meta(self) -> None:
        tmp = self.path / (META_FILE + ".tmp")
        private_files.write_text(
            tmp, json.dumps({"id": self.id, "title": self.title, "created": self.created})
        )
        os.replace(tmp, self.path / META_FILE)

    # -------------------------------------------------------------- runs

    @contextlib.contextmanager
    def running(self) -> Iterator[bool]:
        """Hold the session's run lock while a run records into it (yields False when another
        process holds it: the run goes on, but a crash of either is then not told apart)."""
        fd = _take_lock(self.path / RUN_LOCK_FILE)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)

    def close_interrupted(self) -> Done | None:
        """End a run that its app's death cut off: a ``Done`` of reason ``interrupted`` whose
        history answers the cut tool calls with ``APP_STOPPED``, appended and returned. None
        when the last run ended (or none began), or a live process holds the run lock."""
        fd = _take_lock(self.path / RUN_LOCK_FILE)
        if fd is None:
            return None  # a run of another process is at work in this session
        try:
            events = self.events(images=False)
            last = max((i for i, e in enumerate(events) if isinstance(e, Done)), default=-1)
            tail = events[last + 1 :]
            if not tail:
                return None
            steps = sum(isinstance(e, StepStarted) for e in tail)
            history = self._relative(rebuild_messages(events, reason=APP_STOPPED))
            done = Done(reason="interrupted", steps=steps, messages=history, detail=APP_STOPPED)
            file = self.path / EVENTS_FILE
            last_update = file.stat()
            self.append(done)
            # Closing is no activity: the session keeps its place in the list (by update).
            os.utime(file, ns=(last_update.st_atime_ns, last_update.st_mtime_ns))
            log.warning("session %s: its last run was cut off by the app's end", self.id)
            return done
        finally:
            os.close(fd)

    def _relative(self, value: Any) -> Any:
        """``value`` with screenshot references under this folder made relative again (as
        saved: ``events(images=False)`` gives results' files as absolute paths)."""
        if isinstance(value, list):
            return [self._relative(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {k: self._relative(v) for k, v in value.items()}
        name = out.get("file")
        if out.get("type") == "base64" and isinstance(name, str) and os.path.isabs(name):
            with contextlib.suppress(ValueError):
                out["file"] = str(Path(name).relative_to(self.path))
        return out

    # -------------------------------------------------------------- writing

    def append(self, event: Event) -> Event:
        """Add one event as a JSON line (screenshots to files), flushed to disk; known secret
        values are redacted first, so no session file ever holds one. Returns the event as
        saved, screenshots left on disk (what ``events(images=False)`` will read back)."""
        data = to_json(redact_event(event))
        if isinstance(event, ApiExchange):
            data["request_body"] = _trim_request(data["request_body"])
        data = self._externalize(data)
        with open(
            self.path / EVENTS_FILE, "a+b", opener=private_files.opener
        ) as f:  # writes always go to the end
            size = f.seek(0, os.SEEK_END)
            record = data
            if isinstance(event, Done):
                if self._history is None or self._history_at != size:
                    self._history = self._saved_history()
                record = _delta(data, self._history)
            line = encode_line(record)
            if size > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line  # a crash left half a line: never glue onto it
            f.write(line + b"\n")
            f.flush()
            if isinstance(event, Done):
                self._history, self._history_at = data["messages"], f.tell()
            elif self._history_at == size:
                self._history_at = f.tell()
        return self._light(data)

    def _saved_history(self) -> list[Any]:
        """The last Done's history in the events file, as saved (file references)."""
        history: list[Any] = []
        for record in _with_histories(self._lines()):
            if record.get("kind") == "done":
                history = record["messages"]
        return history

    def _save_image(self, data: str, media_type: str) -> str | None:
        key = (len(data), hash(data), data[:64], data[-64:])  # str caches its hash
        name = self._image_names.get(key)
        if name is None:
            name = self._write_image(data, media_type)
            if name is not None:
                self._image_names[key] = name
        return name

    def _write_image(self, data: str, media_type: str) -> str | None:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None  # not base64: leave it inline rather than lose it
        if not _canonical(data, raw):
            return None  # it would not load back character for character: keep it inline
        name = f"{hashlib.sha256(raw).hexdigest()[:32]}.{_EXTENSIONS.get(media_type, 'png')}"
        target = self.path / IMAGES_DIR / name
        if not target.exists():
            target.parent.mkdir(mode=private_files.DIR_MODE, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            private_files.write_bytes(tmp, raw)
            os.replace(tmp, target)
        return f"{IMAGES_DIR}/{name}"

    def _externalize(self, value: Any) -> Any:
        """A copy of ``value`` with every base64 image replaced by a file reference."""
        if isinstance(value, list):
            return [self._externalize(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("type") == "base64" and isinstance(value.get("data"), str):
            name = self._save_image(value["data"], value.get("media_type", "image/png"))
            if name is not None:
                return {k: v for k, v in value.items() if k != "data"} | {"file": name}
        out = {k: self._externalize(v) for k, v in value.items()}
        if isinstance(out.get("base64_image"), str):
            image = out["base64_image"]
            name = self._save_image(image, h.image_media_type(image))
            if name is not None:
                out["base64_image"] = None
                out["base64_image_file"] = name
        return out

    # -------------------------------------------------------------- reading

    def _internalize(self, value: Any, memo: dict[int, Any], images: dict[str, str]) -> Any:
        """``value`` with its file references loaded back as base64 (each file read once per
        ``images`` memo; a dict met twice, as in the histories of successive Dones, is
        converted once per ``memo``)."""
        if isinstance(value, list):
            return [self._internalize(v, memo, images) for v in value]
        if not isinstance(value, dict):
            return value
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if value.get("type") == "base64" and "file" in value and "data" not in value:
            data = self._image_data(value["file"], images)
            out = {k: v for k, v in value.items() if k != "file"} | {"data": data}
        else:
            out = {k: self._internalize(v, memo, images) for k, v in value.items()}
            if "base64_image_file" in out:
                out["base64_image"] = self._image_data(out.pop("base64_image_file"), images)
        memo[id(value)] = (value, out)
        return out

    def _image_data(self, name: str, images: dict[str, str]) -> str:
        data = images.get(name)
        if data is None:
            data = images[name] = self._load_image(name)
        return data

    def _load_image(self, name: str) -> str:
        target = self.image_path(name)
        return base64.b64encode(target.read_bytes()).decode()

    def image_path(self, name: str) -> Path:
        """The file of a screenshot reference; refuses one outside the trajectory."""
        target = (self.path / name).resolve()
        if self.path.resolve() not in target.parents:
            raise ValueError(f"image reference outside the trajectory: {name}")
        return target

    def load_images(self, value: Any) -> Any:
        """``value`` (a history from ``events(images=False)``, say) with every screenshot
        reference replaced by its base64 data, as the API needs it."""
        return self._internalize(value, {}, {})

    def _light(self, record: dict[str, Any]) -> Event:
        """The event of a saved record, screenshots left on disk: a result's file goes to
        ``ToolResultEvent.image_file`` (absolute), histories keep their references."""
        result = record.get("result")
        if record.get("kind") == "tool_result" and isinstance(result, dict):
            name = result.get("base64_image_file")
            if isinstance(name, str):
                result = {k: v for k, v in result.items() if k != "base64_image_file"}
                record = {**record, "result": result, "image_file": str(self.image_path(name))}
        return event_from_json(record)

    def _lines(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        try:
            text = (self.path / EVENTS_FILE).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return records
        # "\n" only: str.splitlines() also splits at U+2028, U+2029, U+0085, \x1c-\x1e...,
        # which json.dumps(ensure_ascii=False) leaves raw inside strings.
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                log.warning("%s line %d is not JSON (a crash mid-write?); skipped", self.id, number)
        return records

    def events(self, *, images: bool = True) -> list[Event]:
        """Every saved event: screenshots loaded back as base64. With ``images=False``, as
        an app shows them: screenshots left on disk, as ``append`` returns them, and only
        the last Done with its history (the one to go on from; showing needs none)."""
        events: list[Event] = []
        memo: dict[int, Any] = {}
        loaded: dict[str, str] = {}
        records = _with_histories(self._lines())
        last_done = max((i for i, r in enumerate(records) if r.get("kind") == "done"), default=-1)
        for i, record in enumerate(records):
            try:
                if images:
                    events.append(event_from_json(self._internalize(record, memo, loaded)))
                else:
                    if record.get("kind") == "done" and i != last_done:
                        record = {**record, "messages": []}
                    events.append(self._light(record))
            except (ValueError, TypeError, KeyError, OSError) as e:
                log.warning("%s: skipping an unreadable event: %s", self.id, e)
        return events

    def messages(self) -> list[BetaMessageParam]:
        """The history to continue from: the last Done's messages, plus whatever a later run
        that died without a Done recorded, healed so the API accepts it."""
        return rebuild_messages(self.events())  # type: ignore[return-value]

    def info(self) -> TrajectoryInfo:
        file = self.path / EVENTS_FILE
        steps = 0
        try:
            with open(file, "rb") as f:
                steps = sum(1 for line in f if line.startswith(b'{"kind":"step"'))
            updated = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        except FileNotFoundError:
            updated = datetime.now(UTC)
        try:
            created = datetime.fromisoformat(self.created)
        except ValueError:
            created = updated
        return TrajectoryInfo(
            id=self.id,
            path=self.path,
            title=self.title,
            created=created,
            updated=updated,
            steps=steps,
        )


def _canonical(data: str, raw: bytes) -> bool:
    """Whether ``raw`` encodes back to ``data`` exactly (unused bits of the last group may be
    set in valid base64): only the last 4-character group can differ, so only it is encoded."""
    if not data:
        return True
    last = raw[3 * (len(data) // 4 - 1) :]
    return base64.b64encode(last).decode("ascii") == data[-4:]


_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_line(data: Any) -> bytes:
    """One JSON line as UTF-8: non-ASCII text stays readable, and the only newline is the
    line's end (json escapes "\n" in strings). A lone surrogate (valid in JSON, e.g. from an
    API response) cannot be UTF-8: it is written as its \\u escape, so it loads back as it was."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def _delta(done: dict[str, Any], previous: list[Any]) -> dict[str, Any]:
    """A Done record that keeps the leading messages it shares with ``previous`` by count."""
    messages = done["messages"]
    keep = 0
    for old, new in zip(previous, messages, strict=False):
        if old != new:
            break
        keep += 1
    if not keep:
        return done
    return {**done, "messages": messages[keep:], "kept_messages": keep}


def _with_histories(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with each Done's whole history put back together from its delta."""
    history: list[Any] = []
    out = []
    for record in records:
        if record.get("kind") == "done":
            messages = record.get("messages") or []
            keep = record.get("kept_messages", 0)
            if not isinstance(keep, int) or keep > len(history) or keep < 0:
                log.warning("a Done keeps %r messages of a history of %d", keep, len(history))
                keep = max(0, min(len(history), keep if isinstance(keep, int) else 0))
            history = history[:keep] + list(messages) if keep else list(messages)
            record = {k: v for k, v in record.items() if k != "kept_messages"}
            record["messages"] = history
        out.append(record)
    return out


def _take_lock(path: Path) -> int | None:
    """An exclusive flock on ``path`` (its descriptor), or None when another holds it or the
    file cannot be opened (a read-only session folder: nothing to tell apart then)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        log.warning("cannot open %s: %s", path, e)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def rebuild_messages(
    events: list[Event], *, reason: str = h.STOPPED_BY_USER
) -> list[dict[str, Any]]:
    """The conversation the events describe (see Trajectory.messages); a tool call left
    unanswered gets ``reason``."""
    start = 0
    messages: list[dict[str, Any]] = []
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], Done):
            messages = list(events[i].messages)  # type: ignore[union-attr]
            start = i + 1
            break
    if messages:
        # Later events may append to the last message: append to a copy, never to the
        # saved Done's own list (it may be shared, e.g. cached by the UI).
        content = messages[-1]["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        messages[-1] = {**messages[-1], "content": blocks}
    for event in events[start:]:
        match event:
            case UserMessage(text=text):
                messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
            case StepStarted():
                messages.append({"role": "assistant", "content": []})
            case AssistantBlock(block=block):
                if not messages or messages[-1]["role"] != "assistant":
                    messages.append({"role": "assistant", "content": []})
                messages[-1]["content"].append(block)
            case ToolResultEvent(tool_use_id=tool_use_id, result=result, toolset_name=toolset):
                if not messages or messages[-1]["role"] != "user":
                    messages.append({"role": "user", "content": []})
                block = h.tool_result_block(result, tool_use_id, toolset_name=toolset)
                if event.image_file and not result.base64_image:  # left on disk: a reference
                    block = _with_image_file(block, event.image_file)
                messages[-1]["content"].append(block)
            case Resumed(text=text, screenshot=screenshot):  # joins the last user turn
                messages.append({"role": "user", "content": note_blocks(text, screenshot)})
            case ApiExchange() | _:
                pass
    return h.heal(messages, reason=reason)


def _with_image_file(block: Any, path: str) -> Any:
    """A tool_result block with a screenshot reference (Trajectory.load_images fills it)."""
    suffix = Path(path).suffix.lstrip(".")
    media = next((m for m, ext in _EXTENSIONS.items() if ext == suffix), "image/png")
    image = {"type": "image", "source": {"type": "base64", "media_type": media, "file": path}}
    content = block["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content else []
    return {**block, "content": [*content, image]}


def _trim_request(body: Any) -> Any:
    """A request body without the earlier history (which the other events already hold), so
    that a long run's file grows with its length, not with its square."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return body
    messages = body["messages"]
    keep = KEEP_REQUEST_MESSAGES
    if len(messages) <= keep:
        return body
    return {**body, "messages": messages[-keep:], "omitted_messages": len(messages) - keep}


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def list_trajectories(root: Path | None = None) -> list[TrajectoryInfo]:
    """Every trajectory under ``root``, newest first (by last update)."""
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        return []
    infos = []
    for child in root.iterdir():
        if (child / EVENTS_FILE).is_file():
            try:
                infos.append(Trajectory.open(child).info())
            except OSError as e:
                log.warning("cannot read trajectory %s: %s", child, e)
    return sorted(infos, key=lambda i: (i.updated, i.id), reverse=True)
