"""The display's pixels: grab, settle, crop, resize, encode (physical pixels only; what size
the model sees is the caller's policy, see ``screen.Scaling``).

Capture is in-process (Pillow's ImageGrab over XCB: no process, no file; the X server's copy
of the screen is most of its cost) instead of a scrot process and a PNG file;
``SCREENSHOT_BACKEND=scrot`` selects scrot (which draws the pointer).
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageGrab

from .errors import ScreenError
from .processes import run_process

#: Settling: first look this long after an action, then every interval until two frames match.
SETTLE_MIN_DELAY = 0.1
SETTLE_INTERVAL = 0.05
SETTLE_MAX = 2.0
#: While the screen still shows what it showed before the action, two matching frames only
#: mean the app has not reacted yet (a busy Firefox draws its context menu 150 ms or more
#: after the click): keep looking this long, counted from the action, before taking
#: stillness for settled. It is also what a click that changes nothing costs.
SETTLE_REACTION = 0.2
#: zlib level 1: about 3x faster than the default for a slightly bigger PNG.
PNG_COMPRESS_LEVEL = 1

Backend = Literal["xcb", "scrot"]
Box = tuple[int, int, int, int]


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of ``image``, compressed for speed (the API re-encodes anyway)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def fit_size(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image shrunk (never enlarged) to fit the box."""
    factor = min(box_width / width, box_height / height)
    if factor >= 1:
        return width, height
    return max(1, round(width * factor)), max(1, round(height * factor))


def fit_within(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image`` shrunk (never enlarged) to fit in width x height, keeping its ratio."""
    size = fit_size(image.width, image.height, width, height)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def check_box(box: Box, width: int, height: int) -> None:
    """Raise ScreenError unless ``box`` is a non-empty rectangle on a width x height screen."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ScreenError(
            f"region {list(box)} is not a rectangle on the {width}x{height} screen "
            f"(it needs 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height})"
        )


@dataclass(frozen=True)
class Shot:
    """An encoded screenshot: PNG bytes and the image's size."""

    png: bytes
    width: int
    height: int


class Capture:
    """One X display's pixels: grab it, wait for it to settle after an action, and encode
    (a region of) it at a given size."""

    def __init__(
        self, display: str, *, backend: Backend | None = None, fixed_delay: float | None = None
    ) -> None:
        self.display = display
        chosen = backend or os.environ.get("SCREENSHOT_BACKEND") or "xcb"
        if chosen not in ("xcb", "scrot"):
            raise ScreenError(f"SCREENSHOT_BACKEND must be 'xcb' or 'scrot', got {chosen!r}")
        self.backend: Backend = chosen  # type: ignore[assignment]
        if fixed_delay is None and os.environ.get("SCREENSHOT_DELAY"):
            fixed_delay = float(os.environ["SCREENSHOT_DELAY"])
        self.fixed_delay = fixed_delay
        self._before: bytes | None = None

    async def grab(self, expect: tuple[int, int] | None = None) -> Image.Image:
        """The whole screen at full resolution, RGB (ScreenError if it is not ``expect``)."""
        image = await (self._grab_scrot() if self.backend == "scrot" else self._grab_xcb())
        if expect is not None and image.size != tuple(expect):
            raise ScreenError(
                f"display {self.display} is {image.width}x{image.height}, but WIDTH/HEIGHT "
                f"say {expect[0]}x{expect[1]}: set them to the display's size"
            )
        return image

    async def _grab_xcb(self) -> Image.Image:
        try:
            return await asyncio.to_thread(ImageGrab.grab, xdisplay=self.display)
        except OSError as exc:
            raise ScreenError(f"cannot read display {self.display}: {exc}") from exc

    async def _grab_scrot(self) -> Image.Image:
        with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
            path = os.path.join(tmp, "screen.png")
            env = {**os.environ, "DISPLAY": self.display}
            code, _, err = await run_process(
                ["scrot", "--silent", "--pointer", path], timeout=20, env=env
            )
            if code != 0:
                raise ScreenError(f"scrot failed on display {self.display}: {err.strip()}")
            try:
                with Image.open(path) as image:
                    return image.convert("RGB")
            except OSError as exc:
                raise ScreenError(f"scrot wrote no screenshot: {err.strip() or exc}") from exc

    async def note(self, expect: tuple[int, int] | None = None) -> None:
        """Remember the screen as it is before an action, for ``settled`` to compare with."""
        self._before = None if self.fixed_delay is not None else (await self.grab(expect)).tobytes()

    async def settled(self, expect: tuple[int, int] | None = None) -> Image.Image:
        """The screen once it stops changing: after SETTLE_MIN_DELAY, frames are taken every
        SETTLE_INTERVAL until two in a row are identical or SETTLE_MAX has passed. If the
        screen still equals the frame ``note`` took, stillness counts only after
        SETTLE_REACTION (the app may not have drawn its answer yet). A fixed delay
        (``SCREENSHOT_DELAY``) replaces all this when set."""
        before, self._before = self._before, None
        if self.fixed_delay is not None:
            await asyncio.sleep(self.fixed_delay)
            return await self.grab(expect)
        start = time.monotonic()
        await asyncio.sleep(SETTLE_MIN_DELAY)
        frame = await self.grab(expect)
        raw = frame.tobytes()
        reacted = raw != before
        while time.monotonic() - start < SETTLE_MAX:
            await asyncio.sleep(SETTLE_INTERVAL)
            frame = await self.grab(expect)
            previous, raw = raw, frame.tobytes()
            reacted = reacted or raw != before
            if raw == previous and (reacted or time.monotonic() - start >= SETTLE_REACTION):
                break
        return frame

    async def shot(
        self,
        *,
        settle: bool = False,
        region: Box | None = None,
        size: tuple[int, int] | None = None,
        expect: tuple[int, int] | None = None,
    ) -> Shot:
        """The screen (settled first, if asked), cut to ``region`` (screen pixels), resized
        to exactly ``size`` when given, as PNG."""
        if size is not None and (size[0] < 1 or size[1] < 1):
            raise ScreenError(f"size must be at least 1x1, got {size[0]}x{size[1]}")
        image = await (self.settled(expect) if settle else self.grab(expect))
        if region is not None:
            check_box(region, image.width, image.height)

        def work() -> Shot:
            picture = image.crop(region) if region is not None else image
            if size is not None and tuple(size) != picture.size:
                picture = picture.resize(tuple(size), Image.Resampling.LANCZOS)
            return Shot(encode_png(picture), picture.width, picture.height)

        return await asyncio.to_thread(work)
