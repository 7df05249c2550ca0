"""File access for the editor, as the user this process runs as (so the file permissions are
the agent's): stat, read, create, replace, list, remove. Failures are ``OSError``s with the
file system's errno; the editor turns them into sentences for the model.

Writes never leave a half-written file: a new file is created exclusively (never over one that
appeared meanwhile), an existing one is replaced by a temporary file renamed over it, keeping
its mode (and owner, when allowed). Files with several hard links, or in folders we may not
create files in, are written in place instead, so the link and the folder stay as they are.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Sequence

from .backend import FileStat, Listing


def stat_path(path: str, *, follow: bool = True) -> FileStat:
    """``path``'s stat (``follow=False``: of a symlink itself)."""
    st = os.stat(path) if follow else os.lstat(path)
    return FileStat(st.st_mode, st.st_size, st.st_nlink, st.st_uid, st.st_gid)


def read_bytes(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``: EISDIR for a folder, EINVAL for a device, pipe
    or socket (reading one could block forever), EFBIG past ``limit`` bytes."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    if st.st_size > limit:
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # grew since stat
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)
    return data


def missing_parents(path: str, lexists: Callable[[str], bool] = os.path.lexists) -> tuple[str, ...]:
    """The folders above ``path`` that do not exist (by ``lexists``), outermost first."""
    missing: list[str] = []
    parent = os.path.dirname(path)
    while parent and not lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    return tuple(reversed(missing))


def remove_dirs(dirs: Sequence[str]) -> None:
    """Remove the folders ``dirs`` (outermost first), innermost first, while they are empty."""
    for d in reversed(dirs):
        try:
            os.rmdir(d)
        except OSError:
            return


def create_file(path: str, data: bytes) -> tuple[str, ...]:
    """Create ``path`` with ``data`` and the folders it needs (returned, outermost first);
    FileExistsError if it exists (also if it appeared since a check)."""
    missing = missing_parents(path)
    made: list[str] = []
    try:
        for d in missing:
            try:
                os.mkdir(d)
            except FileExistsError:
                continue
            made.append(d)
        with open(path, "xb") as f:
            f.write(data)
    except OSError:
        remove_dirs(made)
        raise
    return tuple(made)


def replace_file(path: str, data: bytes) -> None:
    """Make ``data`` the content of the existing file ``path`` (see the module docstring)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    if not os.access(real, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    folder = os.path.dirname(real)
    if st.st_nlink == 1 and os.access(folder, os.W_OK | os.X_OK):
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(real)}.", suffix="~")
        except OSError:
            pass  # fall back to writing in place
        else:
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
                    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                        try:
                            os.fchown(f.fileno(), st.st_uid, st.st_gid)
                        except OSError:
                            pass
                os.replace(tmp, real)
                return
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
    with open(real, "r+b") as f:
        f.write(data)
        f.truncate()


def list_tree(path: str, depth: int = 2) -> Listing:
    """``path`` and what is in it, ``depth`` levels deep, like ``find -maxdepth`` but sorted
    and without hidden items below ``path``; OSError if ``path`` itself cannot be listed."""
    paths = [path]
    unreadable: list[str] = []

    def entries(directory: str) -> list[os.DirEntry[str]]:
        with os.scandir(directory) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)

    def walk(directory: str, level: int, top: bool) -> None:
        try:
            found = entries(directory)
        except OSError as e:
            if top:
                raise
            unreadable.append(f"{directory} ({e.strerror or e})")
            return
        for entry in found:
            child = os.path.join(directory, entry.name)
            paths.append(child)
            if level + 1 >= depth:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                walk(child, level + 1, False)

    if depth >= 1:
        walk(path, 0, True)
    return Listing(paths, unreadable)


def remove_file(path: str) -> None:
    """Remove the file ``path``; one that is already gone is no error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
