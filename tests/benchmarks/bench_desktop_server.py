"""What the hop to the desktop server costs: the same tool calls in-process and through the
server (its unix socket, and TCP with the token on loopback), side by side, on a real Xvfb.

Run: ``python -m tests.benchmarks.bench_desktop_server [--n 30]``. Prints min/median/p95 in
milliseconds for each way, and what the server adds at the median. Goal: at most 2 ms more at
the median for each call, at most 5 ms for a 1920x1080 screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from computer_use_demo.desktop.client import RemoteDesktop
from computer_use_demo.desktop.local import LocalDesktop
from computer_use_demo.tools.bash import BashTool20250124
from computer_use_demo.tools.computer import ComputerTool20250124
from tests.benchmarks.bench_computer import start_xterm, stop
from tests.benchmarks.stats import p95
from tests.support.desktop_server import tcp_server, unix_server
from tests.support.xvfb import XDisplay, xvfb

DISPLAYS = range(190, 200)
TEXT_50 = "The quick brown fox jumps over the lazy dog 0123456"[:50]

Action = Callable[[], Awaitable[object]]


async def compare(n: int, actions: dict[str, Action]) -> dict[str, list[float]]:
    """``n`` samples of each way, interleaved (one of each per round, the order rotating),
    so that the machine's other load weighs on every way alike."""
    for action in actions.values():
        await action()  # warm-up (and connections opened)
    samples: dict[str, list[float]] = {way: [] for way in actions}
    ways = list(actions)
    for i in range(n):
        for way in ways[i % len(ways) :] + ways[: i % len(ways)]:
            started = time.perf_counter()
            await actions[way]()
            samples[way].append((time.perf_counter() - started) * 1000)
    return samples


#: Clicks so far, of every way: each lands a pixel away from the last (xdotool 3.20160805's
#: ``mousemove --sync`` never returns when the pointer is already there).
CLICKS = iter(range(1_000_000_000))


def clicks(computer: ComputerTool20250124) -> Action:
    """Left clicks on the still terminal, each a pixel from the one before."""

    async def click() -> object:
        result = await computer(action="left_click", coordinate=[400 + next(CLICKS) % 2, 300])
        assert result.base64_image, result.error
        return result

    return click


def figures(samples: list[float]) -> str:
    ms = sorted(samples)
    return f"{ms[0]:7.1f} {statistics.median(ms):7.1f} {p95(ms):7.1f}"


def row(name: str, ways: dict[str, list[float]]) -> None:
    here = statistics.median(ways["in-process"])
    cells = "  ".join(figures(s) for s in ways.values())
    added = "  ".join(
        f"{statistics.median(s) - here:+6.1f}" for way, s in ways.items() if way != "in-process"
    )
    print(f"{name:<34} {cells}   {added}")


def header(ways: list[str]) -> None:
    print()
    print(f"{'':<34} " + "  ".join(f"{w:^23}" for w in ways) + "   added median (ms)")
    print(f"{'':<34} " + "  ".join(f"{'min':>7} {'median':>7} {'p95':>7}" for _ in ways))


async def bench_display(display: XDisplay, remotes: dict[str, RemoteDesktop], n: int) -> None:
    ways: dict[str, object] = {"in-process": LocalDesktop(display.name), **remotes}
    size = f"{display.width}x{display.height}"
    computers = {
        way: ComputerTool20250124(
            width=display.width, height=display.height, display_num=display.number, desktop=d
        )  # type: ignore[arg-type]
        for way, d in ways.items()
    }
    header(list(ways))
    term = start_xterm(display, "ls -laR /usr/share | head -2000; exec sleep 600", 200, 80)
    try:
        row(
            f"screenshot {size}",
            await compare(
                n, {w: (lambda c=c: c(action="screenshot")) for w, c in computers.items()}
            ),
        )
        row(
            f"left_click + settled shot {size}",
            await compare(n // 2, {w: clicks(c) for w, c in computers.items()}),
        )
    finally:
        stop(term)
    if display.width == 1024:
        term = start_xterm(display, "stty -icanon -echo; exec cat > /dev/null", 80, 24)
        try:
            for i, c in enumerate(computers.values()):
                await c(action="mouse_move", coordinate=[200 + i, 100])
            row(
                "type 50 characters (incl. settle)",
                await compare(
                    n // 3,
                    {w: (lambda c=c: c(action="type", text=TEXT_50)) for w, c in computers.items()},
                ),
            )
        finally:
            stop(term)
        shells = {
            way: BashTool20250124(desktop=None if way == "in-process" else d)  # type: ignore[arg-type]
            for way, d in ways.items()
        }
        try:
            row(
                "bash echo",
                await compare(
                    n * 3, {w: (lambda s=s: s(command="echo hi")) for w, s in shells.items()}
                ),
            )
        finally:
            for s in shells.values():
                await s.stop()


async def main_async(n: int) -> None:
    for width, height in ((1024, 768), (1920, 1080)):
        with (
            xvfb(DISPLAYS, width, height) as display,
            unix_server(display) as unix,
            tcp_server(display) as tcp,
        ):
            remotes = {
                "server (unix socket)": RemoteDesktop(unix.url),
                "server (TCP + token)": RemoteDesktop(tcp.url, token=tcp.token),
            }
            try:
                await bench_display(display, remotes, n)
            finally:
                for r in remotes.values():
                    await r.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30, help="samples per screenshot row")
    asyncio.run(main_async(parser.parse_args().n))


if __name__ == "__main__":
    main()
