"""Helpers for the bash tool tests: a tool that is always stopped, and process checks."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest_asyncio

from computer_use_demo.tools.bash import BashTool


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(*pids: int, within: float = 5.0) -> list[int]:
    """Wait until every pid has ended; return those still alive after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def kill_leftovers(*pids: int) -> None:
    """Last-resort cleanup so a failing test never leaves processes behind."""
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


@pytest_asyncio.fixture
async def bash() -> AsyncIterator[BashTool]:
    """A BashTool whose shell (and everything it started) is ended after the test."""
    tool = BashTool()
    try:
        yield tool
    finally:
        await tool.stop()


@pytest_asyncio.fixture
async def quick_bash() -> AsyncIterator[BashTool]:
    """A BashTool with a 1 s timeout, for the timeout paths."""
    tool = BashTool(timeout=1.0)
    try:
        yield tool
    finally:
        await tool.stop()
