"""The computer toolset's screenshots on a real Xvfb at 1920x1080: sent at the screen's own
size (the API no longer scales the toolset's images; 1920x1080 is within the model's limits)
against the single tool's scaled size (1366x768).

Run: ``python -m tests.benchmarks.bench_toolset``. Prints min/median/p95 of capture + encode in
milliseconds, the PNG bytes and the visual tokens of each, and the member call through the
SDK's pipeline (``tool_result``: parse, confirm, render).
"""

from __future__ import annotations

import asyncio
import base64

from anthropic.types.beta import BetaToolUseBlock

from computer_use_demo.desktop.screen import HIGH_RES_IMAGES
from computer_use_demo.tools.computer import ComputerTool20250124
from computer_use_demo.tools.computer_toolset import ComputerToolset20260801
from tests.benchmarks.bench_computer import DISPLAYS, report, start_xterm, stop, timed
from tests.support.xvfb import xvfb

N = 30


async def main() -> None:
    with xvfb(DISPLAYS, 1920, 1080) as display:
        term = start_xterm(display, "ls -laR /usr/share | head -2000; exec sleep 600", 200, 80)
        try:
            where = {"width": 1920, "height": 1080, "display_num": display.number}
            toolset = ComputerToolset20260801(**where)
            single = ComputerTool20250124(**where)
            for label, screen in (("toolset native", toolset.screen), ("scaled", single.screen)):
                size = f"{screen.scaling.api_width}x{screen.scaling.api_height}"
                report(f"capture+encode {label} {size}", await timed(N, screen.screenshot))
                data = base64.b64decode(await screen.screenshot())
                tokens = HIGH_RES_IMAGES.tokens(screen.scaling.api_width, screen.scaling.api_height)
                print(f"{'PNG bytes ' + label:<44} {len(data):,}  (~{tokens:,} visual tokens)")
            use = BetaToolUseBlock(
                type="tool_use", id="toolu_b", name="screenshot", input={}, toolset_name="computer"
            )
            report(
                "toolset screenshot member (tool_result)",
                await timed(N, lambda: toolset.tool_result(use)),
            )
        finally:
            stop(term)


if __name__ == "__main__":
    asyncio.run(main())
