"""The in-process desktop: this process captures the screen, runs xdotool, keeps the bash
sessions and touches the files itself (library use, forks, the reference's tests, and the
desktop server, which serves one of these)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from . import files
from .backend import DesktopInfo, FileStat, Listing, ProcessResult
from .capture import Backend, Box, Capture, Shot
from .processes import run_process
from .shell import BashSession


class LocalDesktop:
    """The desktop on the X display ``display``, driven from this process."""

    def __init__(
        self,
        display: str,
        *,
        capture_backend: Backend | None = None,
        fixed_delay: float | None = None,
    ) -> None:
        self.display = display
        self.capture = Capture(display, backend=capture_backend, fixed_delay=fixed_delay)

    def __repr__(self) -> str:
        return f"LocalDesktop({self.display!r})"

    async def info(self) -> DesktopInfo:
        image = await self.capture.grab()
        return DesktopInfo(self.display, image.width, image.height)

    async def screenshot(
        self,
        *,
        settle: bool = False,
        region: Box | None = None,
        size: tuple[int, int] | None = None,
        expect: tuple[int, int] | None = None,
    ) -> Shot:
        return await self.capture.shot(settle=settle, region=region, size=size, expect=expect)

    async def note_screen(self, expect: tuple[int, int] | None = None) -> None:
        await self.capture.note(expect)

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        note_screen: bool = False,
    ) -> ProcessResult:
        if note_screen:
            await self.capture.note()
        display = {"DISPLAY": self.display} if self.display else {}
        environment = {**os.environ, **display, **(env or {})}
        code, out, err = await run_process(list(argv), timeout=timeout, env=environment)
        return ProcessResult(code, out, err)

    def bash(self, *, timeout: float) -> BashSession:
        return BashSession(timeout=timeout)  # our environment, DISPLAY as it is

    def stat(self, path: str, *, follow: bool = True) -> FileStat:
        return files.stat_path(path, follow=follow)

    def read_bytes(self, path: str, limit: int) -> bytes:
        return files.read_bytes(path, limit)

    def create_file(self, path: str, data: bytes) -> tuple[str, ...]:
        return files.create_file(path, data)

    def replace_file(self, path: str, data: bytes) -> None:
        files.replace_file(path, data)

    def list_tree(self, path: str, depth: int = 2) -> Listing:
        return files.list_tree(path, depth)

    def remove_file(self, path: str) -> None:
        files.remove_file(path)

    def remove_dirs(self, dirs: Sequence[str]) -> None:
        files.remove_dirs(dirs)

    async def aclose(self) -> None:
        """Nothing to release: sessions belong to whoever made them."""
