"""Computer tool speed on a real Xvfb: screenshots, click + settled screenshot, typing.

Run: ``python -m tests.benchmarks.bench_computer``. Prints min/median/p95 in milliseconds.
Targets: screenshot < 60 ms at 1024x768 and < 120 ms at 1920x1080 (scaled to 1366x768);
left_click with its settled screenshot on a still screen < 300 ms; typing no slower than the
reference (xdotool, 50-character groups, 12 ms per key) with no key dropped.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from computer_use_demo.tools.computer import ComputerTool20250124
from tests.benchmarks.stats import p95
from tests.support.xvfb import XDisplay, xvfb

DISPLAYS = range(60, 70)
TEXT_200 = ("The quick brown fox jumps over the lazy dog; 0123456789 (a+b)*c='x' \"q\". " * 3)[:200]


def report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    print(
        f"{name:<44} min {ms[0]:7.1f}  median {statistics.median(ms):7.1f}  p95 {p95(ms):7.1f} ms"
        f"  (n={len(ms)})"
    )


async def timed(n: int, action: Callable[[], Awaitable[object]]) -> list[float]:
    await action()  # warm-up
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return samples


def start_xterm(display: XDisplay, command: str, cols: int, rows: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            "xterm",
            "-u8",
            "-geometry",
            f"{cols}x{rows}+0+0",
            "-T",
            "bench",
            "-e",
            "sh",
            "-c",
            command,
        ],
        env={**display.env, "LANG": "C.UTF-8"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "bench"],
            env=display.env,
            capture_output=True,
        )
        if found.returncode == 0:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


async def bench_screen(display: XDisplay, label: str) -> None:
    # Realistic content: a terminal full of text over a plain background.
    term = start_xterm(display, "ls -laR /usr/share | head -2000; exec sleep 600", 200, 80)
    try:
        computer = ComputerTool20250124(
            width=display.width, height=display.height, display_num=display.number
        )
        size = f"{computer.scaling.api_width}x{computer.scaling.api_height}"
        report(f"capture only {label}", await timed(30, computer.screen.capture))
        report(
            f"screenshot {label} -> {size}", await timed(30, lambda: computer(action="screenshot"))
        )
        shot = await computer(action="screenshot")
        assert shot.base64_image
        print(f"{'PNG bytes ' + label:<44} {len(base64.b64decode(shot.base64_image)):,}")
        # A click on the still terminal (nothing there reacts to a plain left click).
        report(
            f"left_click + settled screenshot {label}",
            await timed(20, lambda: computer(action="left_click", coordinate=[400, 300])),
        )
    finally:
        stop(term)


async def bench_typing(display: XDisplay) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "typed"
        out.touch()
        term = start_xterm(display, f"stty -icanon -echo -isig -ixon; exec cat > {out}", 80, 24)
        try:
            computer = ComputerTool20250124(
                width=display.width, height=display.height, display_num=display.number
            )
            await computer(action="mouse_move", coordinate=[200, 100])
            samples = await timed(5, lambda: computer(action="type", text=TEXT_200))
            report("type 200 characters (incl. settle)", samples)
            await asyncio.sleep(0.5)
            typed = out.read_text()
            expected = TEXT_200 * 6
            dropped = len(expected) - len(typed)
            print(f"{'keys typed / expected':<44} {len(typed)} / {len(expected)}", end="")
            print("  (verbatim)" if typed == expected else f"  MISMATCH, {dropped} missing")
        finally:
            stop(term)


async def main() -> None:
    with xvfb(DISPLAYS, 1024, 768) as xga:
        await bench_screen(xga, "1024x768")
        await bench_typing(xga)
    with xvfb(DISPLAYS, 1920, 1080) as full_hd:
        await bench_screen(full_hd, "1920x1080")


if __name__ == "__main__":
    asyncio.run(main())
