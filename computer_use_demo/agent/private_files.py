"""Private by construction: every folder the agent half makes is 0700 and every file 0600,
whatever the process umask (a library user's umask is often 022, which would leave saved
sessions, settings and the pause state readable by the desktop's user).

Python's ``open`` and ``mkdir`` apply the umask to the mode they are given; these helpers give
modes the umask cannot widen (0700/0600) and set them again where a folder already existed.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path | str) -> Path:
    """Make ``path`` and any missing parents, each 0700 (``Path.mkdir(parents=True)`` would
    make the parents 0777 less the umask). A folder that already exists is left as it is."""
    path = Path(path)
    missing = []
    parent = path
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            pass
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def opener(path: str, flags: int) -> int:
    """``open(..., opener=opener)``: a file it creates is 0600 whatever the umask."""
    return os.open(path, flags | os.O_NOFOLLOW, FILE_MODE)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created 0600)."""
    with open(path, "wb", opener=opener) as f:
        f.write(data)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` (created 0600)."""
    write_bytes(path, text.encode("utf-8"))


def touch(path: Path) -> None:
    """Create ``path`` (0600) if it is missing."""
    with open(path, "ab", opener=opener):
        pass
