"""The file editor tool: one implementation, every version (str_replace_editor and
str_replace_based_edit_tool) differing only by its spec.

What it keeps from the reference: the commands, their parameters and the messages the models
were trained on. What it does differently, on purpose:

- Files are edited byte for byte: tabs are not expanded (the reference rewrites the tabs of a
  Makefile on any edit), CRLF line endings and a missing final newline are kept.
- Lines are counted like ``cat -n`` and ``grep -n``: a final newline ends the last line, it
  does not start an empty one.
- Writes go to a temporary file renamed over the original, so a full disk or a crash mid-write
  leaves the old file whole.
- ``undo_edit`` of a ``create`` removes the file (and the folders ``create`` made).
- Directory listings are ``find`` run without a shell (argv), sorted like a tree, and hidden
  items are excluded only below the path asked for.

The reference's public methods are here with its signatures (``validate_path``, ``view``,
``str_replace``, ``insert``, ``undo_edit`` where the version has it, ``read_file``,
``write_file``) and every command goes through them: a subclass that overrides ``read_file``
and ``write_file`` (remote or sandboxed storage) sees all file contents pass through it. Below
them are the reference's own seams: checks through ``Path.exists``/``Path.is_dir``, contents
through ``Path.read_text``/``Path.write_text(text)``, listings through this module's ``run``.
The byte-preserving, atomic behaviour above sits under ``Path.open`` (``_FilePath``), which is
what ``read_text`` and ``write_text`` call. Not routed: the removal of a file when undoing its
``create`` (the reference has no method for it).
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from anthropic.types.beta import BetaToolUnionParam

from ..desktop import files
from ..desktop.backend import Desktop, FileStat
from ..desktop.client import RemoteDesktop
from ..desktop.errors import DesktopError
from ..desktop.select import chosen_desktop
from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult
from .run import MAX_RESPONSE_LEN, maybe_truncate, run
from .specs import EDIT_20241022, EDIT_20250124, EDIT_20250429, EDIT_20250728

#: Lines of context shown around an edit.
SNIPPET_LINES = 4
#: Files above this size are refused: the whole file is read into memory and may be sent back.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Edits remembered per file for ``undo_edit``, and the bytes kept for all files together.
HISTORY_DEPTH = 32
HISTORY_BYTES = 256 * 1024 * 1024
#: How much of a string the model sent is echoed back in an error.
ECHO_CHARS = 500
#: Line numbers listed when ``old_str`` occurs more than once.
MAX_LISTED_LINES = 50
#: Seconds a directory listing may take.
LIST_TIMEOUT = 30.0

#: The commands of each version, as the reference names them (the specs hold the schemas).
Command_20241022 = Literal["view", "create", "str_replace", "insert", "undo_edit"]
Command_20250124 = Command_20241022
Command_20250429 = Literal["view", "create", "str_replace", "insert"]
Command_20250728 = Command_20250429
assert set(get_args(Command_20241022)) == EDIT_20241022.choices == EDIT_20250124.choices
assert set(get_args(Command_20250429)) == EDIT_20250429.choices == EDIT_20250728.choices


@dataclass(frozen=True)
class _Snapshot:
    """A file's state before an edit: its text as read_file gave it, or None if the edit
    created it."""

    data: str | None
    created_dirs: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.data or "")


class _History:
    """Undo snapshots per file, bounded in depth per file and in size overall (characters; a
    long session editing many large files must not grow without limit); the oldest go first."""

    def __init__(self) -> None:
        self._files: dict[str, deque[_Snapshot]] = {}
        self._bytes = 0

    def push(self, key: str, snapshot: _Snapshot) -> None:
        snapshots = self._files.pop(key, deque())
        self._files[key] = snapshots  # most recently edited last
        snapshots.append(snapshot)
        self._bytes += snapshot.size
        if len(snapshots) > HISTORY_DEPTH:
            self._bytes -= snapshots.popleft().size
        if self._bytes <= HISTORY_BYTES:
            return
        for oldest in self._files.values():  # least recently edited file first
            # HISTORY_BYTES > MAX_FILE_BYTES, so the newest snapshot is never dropped.
            while oldest and self._bytes > HISTORY_BYTES:
                self._bytes -= oldest.popleft().size
        self._files = {k: v for k, v in self._files.items() if v}

    def texts(self, key: str) -> list[str]:
        """The texts before each remembered edit of ``key`` (not ``create``), oldest first."""
        return [s.data for s in self._files.get(key, ()) if s.data is not None]

    def clear(self) -> None:
        self._files.clear()
        self._bytes = 0

    def last(self, key: str) -> _Snapshot | None:
        snapshots = self._files.get(key)
        return snapshots[-1] if snapshots else None

    def drop_last(self, key: str) -> None:
        snapshots = self._files[key]
        self._bytes -= snapshots.pop().size
        if not snapshots:
            del self._files[key]


@dataclass(frozen=True)
class _Text:
    """A file's text. ``text`` has LF line endings when the file uses CRLF throughout."""

    text: str
    crlf: bool
    raw: str

    @classmethod
    def of(cls, raw: str) -> _Text:
        if "\r\n" in raw and raw.count("\r\n") == raw.count("\n"):
            return cls(raw.replace("\r\n", "\n"), True, raw)
        return cls(raw, False, raw)

    def restore(self, text: str) -> str:
        """``text`` with the file's own line endings, as it is to be written."""
        return text.replace("\n", "\r\n") if self.crlf else text

    def normalize(self, s: str) -> str:
        """Model input in the same line-ending convention as ``text``."""
        return s.replace("\r\n", "\n") if self.crlf else s


class _FileHistory:
    """The reference's ``_file_history`` (path -> texts before each edit), over our bounded
    history: ``history[Path(p)]`` and ``clear()`` work as they do there."""

    def __init__(self, history: _History) -> None:
        self._history = history

    def __getitem__(self, path: Path | str) -> list[str]:
        return self._history.texts(os.path.abspath(os.fspath(path)))

    def clear(self) -> None:
        self._history.clear()


class _TextWriter(io.StringIO):
    """What ``_FilePath.open`` gives ``Path.write_text``: on close, the text is written as
    UTF-8 bytes exactly (no newline translation), atomically over an existing file, or as a new
    file (with its folders) that is never put over one."""

    def __init__(self, path: str, new: bool) -> None:
        super().__init__()
        self._path, self._new = path, new

    def close(self) -> None:
        if self.closed:
            return
        data = self.getvalue().encode()
        super().close()
        if self._new:
            _create_new(self._path, data)
        else:
            _stat_file(self._path)
            _replace(self._path, data)


class _FilePath(type(Path())):  # type: ignore[misc]
    """A path whose ``open`` is the editor's: ``Path.read_text`` on it reads a regular UTF-8
    file exactly (size limit, line endings kept, clear errors), ``Path.write_text`` writes
    through ``_TextWriter``. read_text and write_text stay pathlib's own, so code that patches
    or wraps them (the reference's tests do) still sees every read and write."""

    #: Set by ``write_file``: whether the write creates the file.
    new_file = False

    def open(  # type: ignore[override]
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.StringIO:
        path = os.fspath(self)
        if mode == "r":
            return io.StringIO(_decode(path, _read_bytes(path, _stat_file(path))))
        if mode == "w":
            return _TextWriter(path, self.new_file)
        raise ValueError(f"the editor opens files with mode 'r' or 'w', not {mode!r}")


class EditTool(BaseAnthropicTool):
    """View, create and edit files."""

    spec = EDIT_20250728

    def __init__(
        self, *, max_characters: int | None = None, desktop: Desktop | None = None
    ) -> None:
        if max_characters is not None and (
            not isinstance(max_characters, int) or isinstance(max_characters, bool)
        ):
            raise ValueError(f"max_characters must be an int, got {max_characters!r}")
        if max_characters is not None and max_characters < 1:
            raise ValueError(f"max_characters must be at least 1, got {max_characters}")
        self.max_characters = max_characters if "max_characters" in self.spec.options else None
        self._history = _History()
        #: The reference's name for the edit history (every version keeps one, as there).
        self._file_history = _FileHistory(self._history)
        desktop = desktop if desktop is not None else chosen_desktop()
        #: The desktop server's file access (as the desktop's user), or None: this process's
        #: own, through the pathlib seams above.
        self._server = _ServerFiles(desktop) if isinstance(desktop, RemoteDesktop) else None

    @property
    def commands(self) -> list[str]:
        """This version's commands, in the order its schema lists them."""
        return list(self.spec.input_schema["properties"]["command"]["enum"])

    def to_params(self) -> BetaToolUnionParam:
        params: dict[str, Any] = {"type": self.api_type, "name": self.name}
        if self.max_characters is not None:
            params["max_characters"] = self.max_characters
        return params  # type: ignore[return-value]

    async def __call__(
        self,
        *,
        command: str | None = None,
        path: str | None = None,
        file_text: str | None = None,
        view_range: list[int] | None = None,
        old_str: str | None = None,
        new_str: str | None = None,
        insert_line: int | None = None,
        insert_text: str | None = None,
        **kwargs: Any,
    ) -> ToolResult:
        if command not in self.commands:
            raise ToolError(
                f"Unrecognized command {command}. The allowed commands for the {self.name} "
                f"tool are: {', '.join(self.commands)}"
            )
        path = _check_path(path)
        for name, value in (
            ("file_text", file_text),
            ("old_str", old_str),
            ("new_str", new_str),
            ("insert_text", insert_text),
        ):
            if value is not None and not isinstance(value, str):
                raise ToolError(f"Parameter `{name}` must be a string, got {type(value).__name__}")
        try:
            return await self._command(
                command, Path(path), file_text, view_range, old_str, new_str, insert_line,
                insert_text,
            )  # fmt: skip
        except DesktopError as exc:  # a desktop server that does not answer
            raise ToolError(exc.message) from exc

    async def _command(
        self,
        command: str,
        _path: Path,
        file_text: str | None,
        view_range: list[int] | None,
        old_str: str | None,
        new_str: str | None,
        insert_line: int | None,
        insert_text: str | None,
    ) -> ToolResult:
        self.validate_path(command, _path)
        match command:
            case "view":
                return await self.view(_path, view_range)
            case "create":
                if file_text is None:
                    raise ToolError("Parameter `file_text` is required for command: create")
                return self._create(_path, file_text)
            case "str_replace":
                if old_str is None:
                    raise ToolError("Parameter `old_str` is required for command: str_replace")
                return self.str_replace(_path, old_str, new_str)
            case "insert":
                if insert_line is None:
                    raise ToolError("Parameter `insert_line` is required for command: insert")
                if not _is_int(insert_line):
                    raise ToolError("Parameter `insert_line` must be an integer")
                text = insert_text if insert_text is not None else new_str
                if text is None:
                    raise ToolError("Parameter `insert_text` is required for command: insert")
                return self.insert(_path, insert_line, text)
            case _:  # undo_edit (only in the versions that list it)
                return self._undo(_path)

    # --- the reference's public methods -----------------------------------------------------

    def validate_path(self, command: str, path: Path | str) -> None:
        """Refuse a path the command cannot use: relative, missing (but for ``create``),
        existing for ``create``, a directory for anything but ``view``. ``undo_edit`` needs
        no file: it can bring back a file deleted since the edit."""
        at = Path(_check_path(os.fspath(path)))
        exists, is_dir, missing = (
            (self._server.exists, self._server.is_dir, self._server.missing)
            if self._server
            else (_path_exists, _path_is_dir, _missing)
        )
        if command == "create":
            if exists(at):
                raise _already_exists(os.fspath(at))
        elif command != "undo_edit":
            if not exists(at):
                raise missing(os.fspath(at))
            if command != "view" and is_dir(at):
                raise _is_directory(os.fspath(at))

    async def view(self, path: Path | str, view_range: list[int] | None = None) -> CLIResult:
        """The file numbered like ``cat -n`` (all or ``view_range``), or a directory listing."""
        path = os.fspath(path)
        is_dir = self._server.is_dir if self._server else _path_is_dir
        if is_dir(Path(path)):
            if view_range:
                raise ToolError(
                    "The `view_range` parameter is not allowed when `path` points to a directory."
                )
            desktop = self._server.desktop if self._server else None
            listing = self._clip(await _list_dir(path, desktop), "listing")
            return CLIResult(
                output=f"Here's the files and directories up to 2 levels deep in {path}, "
                f"excluding hidden items:\n{listing}"
            )
        return self._view(path, view_range)

    def str_replace(self, path: Path | str, old_str: str, new_str: str | None) -> CLIResult:
        """Replace the one occurrence of ``old_str`` (``new_str`` None deletes it)."""
        return self._str_replace(os.fspath(path), old_str, new_str or "")

    def insert(self, path: Path | str, insert_line: int, new_str: str) -> CLIResult:
        """Insert ``new_str`` as whole lines after line ``insert_line`` (0: at the top)."""
        return self._insert(os.fspath(path), insert_line, new_str)

    def read_file(self, path: Path | str) -> str:
        """The text of a regular UTF-8 file, exactly (line endings included); ToolError if it
        cannot be read or is not text. Override it, with ``write_file``, for other storage."""
        if self._server:
            return self._server.read_text(os.fspath(path))
        return _FilePath(path).read_text()

    def write_file(self, path: Path | str, file: str) -> None:
        """Write ``file`` as the whole content: an existing file is replaced atomically
        (keeping its mode), a new one is created with the folders it needs."""
        if self._server:
            self._server.write_text(os.fspath(path), file)
            return
        at = _FilePath(path)
        at.new_file = not _path_exists(at)
        at.write_text(file)

    # --- commands ---------------------------------------------------------------------------

    def _text(self, path: str) -> _Text:
        return _Text.of(self.read_file(Path(path)))

    def _view(self, path: str, view_range: Any) -> CLIResult:
        doc = self._text(path)
        lines = _lines(doc.text)
        total, first = len(lines), 1
        if view_range is not None:
            first, last = _check_range(view_range, total)
            lines = lines[first - 1 :] if last == -1 else lines[first - 1 : last]
        body = self._clip(_number(lines, first, self._limit), "file", total_lines=total)
        return CLIResult(output=f"Here's the result of running `cat -n` on {path}:\n{body}")

    def _create(self, path: Path, file_text: str) -> ToolResult:
        lexists = self._server.exists if self._server else os.path.lexists
        isdir = self._server.is_dir if self._server else os.path.isdir
        missing = files.missing_parents(os.fspath(path), lexists)
        self.write_file(path, file_text)
        created = tuple(d for d in missing if isdir(d))  # the folders write_file made
        self._remember(os.fspath(path), _Snapshot(None, created))
        return CLIResult(output=f"File created successfully at: {path}")

    def _str_replace(self, path: str, old_str: str, new_str: str) -> CLIResult:
        doc = self._text(path)
        old, new = doc.normalize(old_str), doc.normalize(new_str)
        if not old:
            raise ToolError(
                "Parameter `old_str` must not be empty: give the exact text to replace "
                "(use `insert` to add text at a line)."
            )
        found = _find_all(doc.text, old)
        if not found:
            raise ToolError(
                f"No replacement was performed, old_str `{_echo(old_str)}` did not appear "
                f"verbatim in {path}."
            )
        if len(found) > 1:
            lines = sorted({doc.text.count("\n", 0, pos) + 1 for pos in found})
            shown = str(lines[:MAX_LISTED_LINES])
            if len(lines) > MAX_LISTED_LINES:
                shown = shown[:-1] + f", … and {len(lines) - MAX_LISTED_LINES} more lines]"
            count = f"{len(found)}+" if len(found) >= _FIND_LIMIT else str(len(found))
            raise ToolError(
                f"No replacement was performed. Multiple occurrences ({count}) of old_str "
                f"`{_echo(old_str)}` in lines {shown}. Please ensure it is unique, e.g. by "
                "including more of the surrounding lines."
            )
        pos = found[0]
        text = doc.text[:pos] + new + doc.text[pos + len(old) :]
        self._write(path, doc.restore(text), doc.raw)
        start = doc.text.count("\n", 0, pos)  # 0-based line of the edit
        return self._edited(path, text, start, start + new.count("\n"), f"a snippet of {path}")

    def _insert(self, path: str, insert_line: int, insert_text: str) -> CLIResult:
        doc = self._text(path)
        lines = _lines(doc.text)
        if not 0 <= insert_line <= len(lines):
            raise ToolError(
                f"Invalid `insert_line` parameter: {insert_line}. It should be within the "
                f"range of lines of the file: {[0, len(lines)]}"
            )
        block = doc.normalize(insert_text)
        if not block.endswith("\n"):
            block += "\n"  # the inserted text becomes whole lines
        offset = _line_offset(doc.text, insert_line)
        if offset == len(doc.text) and doc.text and not doc.text.endswith("\n"):
            # Appending after an unterminated last line: keep the file unterminated.
            text = doc.text + "\n" + block[:-1]
        else:
            text = doc.text[:offset] + block + doc.text[offset:]
        self._write(path, doc.restore(text), doc.raw)
        last = insert_line + block.count("\n") - 1
        return self._edited(
            path,
            text,
            insert_line,
            last,
            "a snippet of the edited file",
            "Review the changes and make sure they are as expected (correct indentation, "
            "no duplicate lines, etc). Edit the file again if necessary.",
        )

    def _undo(self, path: Path | str) -> CLIResult:
        path = os.fspath(path)
        key = os.path.abspath(path)
        snapshot = self._history.last(key)
        if snapshot is None:
            if not (self._server.exists(path) if self._server else _exists(path)):
                raise ToolError(f"The path {path} does not exist. Please provide a valid path.")
            raise ToolError(f"No edit history found for {path}.")
        if snapshot.data is None:
            where = self._server.desktop if self._server else files
            try:
                where.remove_file(path)
            except OSError as e:
                raise _os_error(e, path, "remove") from None
            where.remove_dirs(snapshot.created_dirs)
            self._history.drop_last(key)
            return CLIResult(
                output=f"Last edit to {path} undone successfully: the file, which was made by "
                "`create`, has been removed."
            )
        self.write_file(Path(path), snapshot.data)
        self._history.drop_last(key)
        doc = _Text.of(snapshot.data)
        body = self._clip(_number(_lines(doc.text), 1, self._limit), "file")
        return CLIResult(
            output=f"Last edit to {path} undone successfully. "
            f"Here's the result of running `cat -n` on {path}:\n{body}"
        )

    # --- helpers ----------------------------------------------------------------------------

    def _edited(
        self,
        path: str,
        text: str,
        first: int,
        last: int,
        descriptor: str,
        review: str = "Review the changes and make sure they are as expected. "
        "Edit the file again if necessary.",
    ) -> CLIResult:
        """The success message: the edited lines ``first..last`` (0-based) with context."""
        lines = _lines(text)
        start = max(0, first - SNIPPET_LINES)
        snippet = _number(lines[start : last + SNIPPET_LINES + 1], start + 1, MAX_RESPONSE_LEN)
        return CLIResult(
            output=f"The file {path} has been edited. Here's the result of running `cat -n` on "
            f"{descriptor}:\n{maybe_truncate(snippet)}{review}"
        )

    @property
    def _limit(self) -> int:
        """How many characters a view shows."""
        return self.max_characters if self.max_characters is not None else MAX_RESPONSE_LEN

    def _clip(self, output: str, what: str, total_lines: int | None = None) -> str:
        """Shorten a view to ``max_characters`` (when set) or the 16,000-character default."""
        if self.max_characters is None:
            return maybe_truncate(output, MAX_RESPONSE_LEN)
        if len(output) <= self.max_characters:
            return output
        hint = (
            f" The file has {total_lines} lines: use `view_range` to see the rest."
            if total_lines is not None
            else ""
        )
        return (
            output[: self.max_characters]
            + f"\n<response clipped><NOTE>This {what} view was truncated to max_characters="
            f"{self.max_characters} characters.{hint}</NOTE>\n"
        )

    def _remember(self, path: str, snapshot: _Snapshot) -> None:
        self._history.push(os.path.abspath(path), snapshot)

    def _write(self, path: str, text: str, before: str) -> None:
        self.write_file(Path(path), text)
        self._remember(path, _Snapshot(before))


class _UndoEdit(EditTool):
    """The versions with ``undo_edit`` have it as a public method too."""

    def undo_edit(self, path: Path | str) -> CLIResult:
        """Undo the last edit of ``path``; undoing a ``create`` removes the file."""
        return self._undo(path)


class EditTool20250124(_UndoEdit):
    spec = EDIT_20250124


class EditTool20241022(EditTool20250124):
    """A subclass of EditTool20250124, like BashTool20241022; its api_type is its own."""

    spec = EDIT_20241022


class EditTool20250429(EditTool):
    spec = EDIT_20250429


class EditTool20250728(EditTool):
    spec = EDIT_20250728


# --- paths, reading, writing (module level: no state) ---------------------------------------

_FIND_LIMIT = 10_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _echo(s: str) -> str:
    """``s`` as echoed in an error: a huge string is shortened so the error stays readable."""
    if len(s) <= 2 * ECHO_CHARS:
        return s
    return f"{s[:ECHO_CHARS]}…[{len(s) - 2 * ECHO_CHARS:,} characters omitted]…{s[-ECHO_CHARS:]}"


def _check_path(path: Any) -> str:
    if path is None:
        raise ToolError("Parameter `path` is required")
    if not isinstance(path, str):
        raise ToolError(f"Parameter `path` must be a string, got {type(path).__name__}")
    if not path:
        raise ToolError("Parameter `path` must not be empty: give an absolute path like `/repo`.")
    if "\x00" in path:
        raise ToolError("Parameter `path` must not contain NUL (\\x00) characters.")
    if not os.path.isabs(path):
        suggested = (
            os.path.expanduser(path)
            if path.startswith("~")
            else "/" + path.removeprefix("./").lstrip("/")
        )
        raise ToolError(
            f"The path {path} is not an absolute path, it should start with `/`. "
            f"Maybe you meant {suggested}?"
        )
    return path


def _already_exists(path: str) -> ToolError:
    return ToolError(
        f"File already exists at: {path}. Cannot overwrite files using command `create`."
    )


def _is_directory(path: str) -> ToolError:
    return ToolError(
        f"The path {path} is a directory and only the `view` command can be used on directories"
    )


def _os_error(e: OSError, path: str, action: str) -> ToolError:
    """An OSError as a sentence for the model; never the raw exception."""
    match e.errno:
        case errno.EACCES | errno.EPERM:
            return ToolError(f"Permission denied: cannot {action} {path}.")
        case errno.ENOENT:
            return ToolError(f"The path {path} does not exist. Please provide a valid path.")
        case errno.ENOTDIR:
            return ToolError(
                f"Cannot {action} {path}: a component of the path is a file, not a directory."
            )
        case errno.EISDIR:
            return _is_directory(path)
        case errno.EROFS:
            return ToolError(f"Cannot {action} {path}: the file system is read-only.")
        case errno.ENOSPC | errno.EDQUOT:
            return ToolError(f"Cannot {action} {path}: no space left on the device.")
        case errno.ENAMETOOLONG:
            return ToolError(f"Cannot {action} {path}: the path or a name in it is too long.")
        case errno.ELOOP:
            return ToolError(f"Cannot {action} {path}: too many levels of symbolic links.")
        case _:
            return ToolError(f"Cannot {action} {path}: {e.strerror or e}.")


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as e:
        raise _os_error(e, path, "access") from None


def _path_exists(path: Path) -> bool:
    """Whether ``path`` exists (``Path.exists``; a dangling symlink counts too: creating
    through it is refused)."""
    try:
        return path.exists() or path.is_symlink()
    except OSError as e:
        raise _os_error(e, os.fspath(path), "access") from None


def _missing(path: str) -> ToolError:
    """The error for a path that does not exist: the reference's words, or why not (a
    component of it is a file)."""
    try:
        os.stat(path)
    except NotADirectoryError as e:
        return _os_error(e, path, "access")
    except OSError:
        pass
    return ToolError(f"The path {path} does not exist. Please provide a valid path.")


def _path_is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as e:
        raise _os_error(e, os.fspath(path), "access") from None


def _exists(path: str) -> bool:
    """Whether ``path`` exists (a dangling symlink counts: creating through it is refused)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise ToolError(
                f"Cannot create {path}: a component of the path is a file, not a directory."
            ) from None
        raise _os_error(e, path, "access") from None
    return True


def _stat_file(path: str) -> os.stat_result:
    """The stat of a path that must be an editable regular file."""
    st = _stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise _is_directory(path)
    return st


def _check_readable(path: str, mode: int, size: int) -> None:
    """Refuse what the editor does not open: anything but a regular file, or a huge one."""
    if not stat.S_ISREG(mode):
        raise ToolError(
            f"The path {path} is not a regular file (it is a device, pipe or socket); "
            "the editor only opens regular files and directories."
        )
    if size > MAX_FILE_BYTES:
        raise ToolError(
            f"The file {path} is too large for the editor ({size:,} bytes, the limit is "
            f"{MAX_FILE_BYTES:,}). Use bash tools such as `grep -n`, `sed -n` or `head` on it."
        )


def _too_large(path: str) -> ToolError:
    return ToolError(
        f"The file {path} is too large for the editor (over {MAX_FILE_BYTES:,} bytes)."
    )


def _read_bytes(path: str, st: os.stat_result) -> bytes:
    _check_readable(path, st.st_mode, st.st_size)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise _os_error(e, path, "read") from None
    if len(data) > MAX_FILE_BYTES:  # grew since stat, or a size-less special file
        raise _too_large(path)
    return data


def _decode(path: str, data: bytes) -> str:
    hint = "The editor only handles text; inspect it with bash tools such as `file` or `xxd`."
    if b"\x00" in data:
        raise ToolError(
            f"The file {path} is not a UTF-8 text file: it contains NUL bytes, so it looks "
            f"binary. {hint}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ToolError(
            f"The file {path} is not a UTF-8 text file: the bytes at offset {e.start} are not "
            f"valid UTF-8. {hint}"
        ) from None
    return text


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as ``cat -n`` counts them (a final newline ends the last line)."""
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def _line_offset(text: str, n: int) -> int:
    """Offset where line ``n + 1`` starts (0-based ``n`` lines skipped); len(text) past the end."""
    offset = 0
    for _ in range(n):
        nl = text.find("\n", offset)
        if nl == -1:
            return len(text)
        offset = nl + 1
    return offset


def _number(lines: list[str], first: int, budget: int) -> str:
    """``lines`` numbered like ``cat -n``; past ``budget`` characters numbering stops (the
    caller truncates there anyway, and numbering a whole large file is the slow part)."""
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines, first):
        out.append(f"{n:6}\t{line}\n")
        size += len(out[-1])
        if size > budget:
            break
    return "".join(out)


def _check_range(view_range: Any, n_lines: int) -> tuple[int, int]:
    if (
        not isinstance(view_range, list | tuple)
        or len(view_range) != 2
        or not all(_is_int(i) for i in view_range)
    ):
        raise ToolError("Invalid `view_range`. It should be a list of two integers.")
    first, last = view_range
    shown = list(view_range)
    if first < 1 or first > n_lines:
        empty = " (the file is empty)" if n_lines == 0 else ""
        raise ToolError(
            f"Invalid `view_range`: {shown}. Its first element `{first}` should be within the "
            f"range of lines of the file: {[1, n_lines]}{empty}"
        )
    if last > n_lines:
        raise ToolError(
            f"Invalid `view_range`: {shown}. Its second element `{last}` should be smaller than "
            f"or equal to the number of lines in the file: `{n_lines}` (or -1 for the end)"
        )
    if last != -1 and last < first:
        raise ToolError(
            f"Invalid `view_range`: {shown}. Its second element `{last}` should be larger or "
            f"equal than its first `{first}` (or -1 for the end of the file)"
        )
    return first, last


def _find_all(text: str, sub: str) -> list[int]:
    """Start offsets of ``sub`` in ``text``, overlapping ones included (up to a limit)."""
    found: list[int] = []
    pos = text.find(sub)
    while pos != -1 and len(found) < _FIND_LIMIT:
        found.append(pos)
        pos = text.find(sub, pos + 1)
    return found


async def _list_dir(path: str, desktop: Desktop | None = None) -> str:
    """``path`` and what is in it, two levels deep: ``find`` (argv, no shell) sorted like a
    tree, without hidden items below ``path`` (the reference's ``find -not -path '*/.*'`` also
    hides everything below a hidden ``path``). Folders that cannot be read are named. With
    ``desktop``, find runs there (as the desktop's user)."""
    argv = ["find", "-H", path, "-mindepth", "1", "-maxdepth", "2"]
    argv += ["-name", ".*", "-prune", "-o", "-print"]
    try:
        if desktop is not None:
            done = await desktop.run(argv, env={"LC_ALL": "C"}, timeout=LIST_TIMEOUT)
            out, err = done.stdout, done.stderr
        else:
            _code, out, err = await run(
                argv, timeout=LIST_TIMEOUT, truncate_after=None, env={**os.environ, "LC_ALL": "C"}
            )
    except TimeoutError:
        raise ToolError(f"Listing {path} took over {LIST_TIMEOUT:g} seconds.") from None
    unreadable = []
    for line in (err or "").splitlines():
        found = re.fullmatch(r"find: '(.*)': (.*)", line)
        where, why = found.groups() if found else (path, line)
        if where == path:
            if why == os.strerror(errno.EACCES):
                raise ToolError(f"Permission denied: cannot list {path}.")
            raise ToolError(f"Cannot list {path}: {why}.")
        unreadable.append(f"{where} ({why})")
    entries = sorted((p for p in (out or "").splitlines() if p), key=lambda p: p.split("/"))
    text = "".join(f"{p}\n" for p in [path, *entries])
    if unreadable:
        text += "Could not list: " + ", ".join(unreadable) + "\n"
    return text


def _create_new(path: str, data: bytes) -> None:
    """Create ``path`` (and the folders it needs) with ``data``; never over an existing file."""
    try:
        files.create_file(path, data)
    except FileExistsError:  # created by someone else since the check
        raise _already_exists(path) from None
    except OSError as e:
        raise _os_error(e, path, "create") from None


def _replace(path: str, data: bytes) -> None:
    """Write ``data`` to the existing file ``path`` so that a failure leaves it whole (see
    ``desktop.files.replace_file``)."""
    try:
        files.replace_file(path, data)
    except OSError as e:
        raise _os_error(e, path, "write") from None


class _ServerFiles:
    """The editor's file access through the desktop server, as the desktop's user: the same
    checks and the same words as in this process, on the desktop's file system."""

    def __init__(self, desktop: RemoteDesktop) -> None:
        self.desktop = desktop

    def _stat(self, path: str, *, follow: bool = True) -> FileStat | None:
        """The stat of ``path``, None if it (or a folder above it) does not exist."""
        try:
            return self.desktop.stat(path, follow=follow)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise _os_error(e, path, "access") from None

    def exists(self, path: Path | str) -> bool:
        """Whether ``path`` exists (a dangling symlink counts, as in ``_path_exists``)."""
        return self._stat(os.fspath(path), follow=False) is not None

    def is_dir(self, path: Path | str) -> bool:
        st = self._stat(os.fspath(path))
        return st is not None and st.is_dir

    def missing(self, path: str) -> ToolError:
        try:
            self.desktop.stat(path)
        except NotADirectoryError as e:
            return _os_error(e, path, "access")
        except OSError:
            pass
        return ToolError(f"The path {path} does not exist. Please provide a valid path.")

    def read_text(self, path: str) -> str:
        try:
            st = self.desktop.stat(path)
        except OSError as e:
            raise _os_error(e, path, "access") from None
        if st.is_dir:
            raise _is_directory(path)
        _check_readable(path, st.mode, st.size)
        try:
            data = self.desktop.read_bytes(path, MAX_FILE_BYTES)
        except OSError as e:
            if e.errno == errno.EFBIG:
                raise _too_large(path) from None
            raise _os_error(e, path, "read") from None
        return _decode(path, data)

    def write_text(self, path: str, text: str) -> None:
        data = text.encode()
        if not self.exists(path):
            try:
                self.desktop.create_file(path, data)
            except FileExistsError:
                raise _already_exists(path) from None
            except OSError as e:
                raise _os_error(e, path, "create") from None
            return
        if self.is_dir(path):
            raise _is_directory(path)
        try:
            self.desktop.replace_file(path, data)
        except OSError as e:
            raise _os_error(e, path, "write") from None
