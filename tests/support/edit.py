"""Fixtures and helpers for the editor tests.

``permission_report`` is run by the permission test in-process when the tests are not root,
and in a child process that dropped to an unprivileged user when they are (root reads and
writes through file modes, so only an unprivileged process can see "permission denied").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from computer_use_demo.desktop.client import RemoteDesktop
from computer_use_demo.tools import (
    EditTool,
    EditTool20241022,
    EditTool20250124,
    EditTool20250429,
    EditTool20250728,
    ToolError,
)
from tests.support.desktop_server import unix_server

ALL_EDITORS: list[type[EditTool]] = [
    EditTool20241022,
    EditTool20250124,
    EditTool20250429,
    EditTool20250728,
]
UNDO_EDITORS = [cls for cls in ALL_EDITORS if "undo_edit" in cls.spec.choices]
NO_UNDO_EDITORS = [cls for cls in ALL_EDITORS if "undo_edit" not in cls.spec.choices]

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


#: Where an editor's files are: this process, or the desktop server (as its user).
BACKENDS = ["here", "server"]


@pytest.fixture(scope="session")
def editor_server() -> Iterator[RemoteDesktop]:
    """A desktop server for the editor tests (no screen needed: files only)."""
    with unix_server(":0") as server:
        yield RemoteDesktop(server.url)


def _make(request: pytest.FixtureRequest) -> EditTool:
    cls, backend = request.param
    if backend == "here":
        return cls()
    return cls(desktop=request.getfixturevalue("editor_server"))


def _id(param: tuple[type[EditTool], str]) -> str:
    return f"{param[0].api_type}-{param[1]}"


@pytest.fixture(params=list(itertools.product(ALL_EDITORS, BACKENDS)), ids=_id)
def editor(request: pytest.FixtureRequest) -> EditTool:
    """A fresh editor of each version, in this process and through the desktop server."""
    return _make(request)


@pytest.fixture(params=list(itertools.product(UNDO_EDITORS, BACKENDS)), ids=_id)
def undo_editor(request: pytest.FixtureRequest) -> EditTool:
    """A fresh editor of each version that has ``undo_edit``, both ways."""
    return _make(request)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temporary folder every user may write in (tmp_path's parents are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="edit-perm-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


async def _error(tool: EditTool, **kwargs: object) -> str:
    try:
        result = await tool(**kwargs)
    except ToolError as e:
        return e.message
    return f"NO ERROR: {result.output}"


async def permission_report(directory: str) -> dict[str, str]:
    """Run the editor on files it may not read or write; return each case's outcome.

    Must run as a user without CAP_DAC_OVERRIDE (not root) to mean anything.
    """
    tool = EditTool20250124()
    base = Path(directory)
    unreadable = base / "unreadable.txt"
    unreadable.write_text("secret\n")
    unreadable.chmod(0o000)
    readonly = base / "readonly.txt"
    readonly.write_text("keep me\n")
    readonly.chmod(0o444)
    locked = base / "locked"
    locked.mkdir()
    inner = locked / "writable.txt"
    inner.write_text("old\n")
    hidden = base / "closed"
    hidden.mkdir()
    (hidden / "f.txt").write_text("x\n")
    locked.chmod(0o555)
    hidden.chmod(0o000)
    report = {
        "view_unreadable": await _error(tool, command="view", path=str(unreadable)),
        "replace_unreadable": await _error(
            tool, command="str_replace", path=str(unreadable), old_str="secret", new_str="x"
        ),
        "replace_readonly": await _error(
            tool, command="str_replace", path=str(readonly), old_str="keep", new_str="lose"
        ),
        "insert_readonly": await _error(
            tool, command="insert", path=str(readonly), insert_line=0, new_str="x"
        ),
        "create_in_locked": await _error(
            tool, command="create", path=str(locked / "new.txt"), file_text="x"
        ),
        "view_closed_dir": await _error(tool, command="view", path=str(hidden)),
        "view_in_closed_dir": await _error(tool, command="view", path=str(hidden / "f.txt")),
        # The folder is read-only but the file is writable: the edit must still work.
        "replace_in_locked": await _error(
            tool, command="str_replace", path=str(inner), old_str="old", new_str="new"
        ),
    }
    report["listing"] = (await tool(command="view", path=str(base))).output or ""
    report["readonly_after"] = readonly.read_text()
    report["inner_after"] = inner.read_text()
    report["locked_listing"] = json.dumps(sorted(os.listdir(locked)))
    return report


def permission_report_as_unprivileged(directory: Path) -> dict[str, str]:
    """``permission_report`` run by the ``nobody`` user (for tests that run as root)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and `setpriv` (util-linux) is missing to drop privileges")
    code = (
        "import asyncio, json, sys\n"
        "from tests.support.edit import permission_report\n"
        "print(json.dumps(asyncio.run(permission_report(sys.argv[1]))))\n"
    )
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    proc = subprocess.run(
        [*drop, sys.executable, "-c", code, str(directory)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(directory)},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def run_permission_report(directory: Path) -> dict[str, str]:
    """The report from an unprivileged process, whoever runs the tests."""
    if os.geteuid() == 0:
        return permission_report_as_unprivileged(directory)
    return asyncio.run(permission_report(str(directory)))
