"""Screen access in one place: capture the X display, scale it for the API, map coordinates.

The API works best with screenshots no bigger than XGA/WXGA, so a bigger screen is shown to
the model at the target size whose aspect ratio matches (XGA 4:3, WXGA 16:10, FWXGA ~16:9), or,
when none matches, scaled to fit within 1280x800. Screens no bigger than XGA are sent as they
are. Coordinates the model sends are in that scaled ("API") space and are mapped back here.

Capture is in-process (Pillow's ImageGrab over XCB: no process, no file; the X server's copy
of the screen is most of its cost) instead of a scrot process and a PNG file;
``SCREENSHOT_BACKEND=scrot`` selects scrot (which draws the pointer).

The computer toolset (``computer_toolset_20260801``) is different: the API no longer scales its
screenshots, so they are sent at the screen's own size when that fits the model's image limits
(``ImageLimits``), else at the largest size of the same ratio that does.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageGrab

from .processes import run_process

#: Targets for screens bigger than XGA, chosen by aspect ratio.
SCALING_TARGETS: dict[str, tuple[int, int]] = {
    "XGA": (1024, 768),  # 4:3
    "WXGA": (1280, 800),  # 16:10
    "FWXGA": (1366, 768),  # ~16:9
}
#: Aspect ratios this close count as the same (1920x1080 is 1.7778, FWXGA 1.7786).
RATIO_TOLERANCE = 0.02
#: The box a screen whose ratio matches no target is scaled to fit in.
FIT_WITHIN = (1280, 800)

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


@dataclass(frozen=True)
class ImageLimits:
    """The biggest image a model reads without the API shrinking or refusing it: a longest
    side and a budget of visual tokens, one token per ``patch`` x ``patch`` pixel tile (the
    vision docs: images are padded to multiples of 28 pixels; about width * height / 750
    tokens)."""

    long_edge: int
    max_tokens: int
    patch: int = 28

    def tokens(self, width: int, height: int) -> int:
        return math.ceil(width / self.patch) * math.ceil(height / self.patch)

    def fits(self, width: int, height: int) -> bool:
        return (
            max(width, height) <= self.long_edge and self.tokens(width, height) <= self.max_tokens
        )

    def fit(self, width: int, height: int, *, enlarge: bool = False) -> tuple[int, int]:
        """The largest size with the ratio of ``width`` x ``height`` that fits (never bigger
        than it unless ``enlarge``)."""
        factor = min(
            self.long_edge / max(width, height),
            self.patch * math.sqrt(self.max_tokens / (width * height)),
        )
        if not enlarge:
            factor = min(factor, 1.0)
        w = max(1, math.floor(width * factor))
        while True:
            h = max(1, round(w * height / width))
            if self.fits(w, h) or w == 1:
                return w, h
            w -= 1


#: Models from Claude Opus 4.7 on read images up to 2576 px on the long edge and 4784 visual
#: tokens; the toolset's models are all of them. Older models: 1568 px and about 1600 tokens.
HIGH_RES_IMAGES = ImageLimits(long_edge=2576, max_tokens=4784)
STANDARD_IMAGES = ImageLimits(long_edge=1568, max_tokens=1600)
Box = tuple[int, int, int, int]


class ScreenError(Exception):
    """The screen cannot be read or a coordinate/region is not on it; the text says why."""


@dataclass(frozen=True)
class Scaling:
    """The screen's real size and the size the API sees, with the mapping between them."""

    screen_width: int
    screen_height: int
    api_width: int
    api_height: int

    @classmethod
    def for_screen(cls, width: int, height: int) -> Scaling:
        """The API size for a ``width`` x ``height`` screen (see the module docstring)."""
        if width <= 0 or height <= 0:
            raise ScreenError(f"invalid screen size {width}x{height}")
        xga_w, xga_h = SCALING_TARGETS["XGA"]
        if width <= xga_w and height <= xga_h:
            return cls(width, height, width, height)
        ratio = width / height
        for target_w, target_h in SCALING_TARGETS.values():
            if abs(target_w / target_h - ratio) < RATIO_TOLERANCE:
                if target_w < width:
                    return cls(width, height, target_w, target_h)
                return cls(width, height, width, height)
        factor = min(FIT_WITHIN[0] / width, FIT_WITHIN[1] / height)
        if factor >= 1:
            return cls(width, height, width, height)
        return cls(width, height, max(1, round(width * factor)), max(1, round(height * factor)))

    @classmethod
    def within(cls, width: int, height: int, limits: ImageLimits) -> Scaling:
        """The screen as it is if it fits ``limits``, else shrunk to fit them (the toolset's
        screenshots, which the API does not scale)."""
        if width <= 0 or height <= 0:
            raise ScreenError(f"invalid screen size {width}x{height}")
        return cls(width, height, *limits.fit(width, height))

    @property
    def scaled(self) -> bool:
        return (self.api_width, self.api_height) != (self.screen_width, self.screen_height)

    @property
    def bounds(self) -> str:
        """The valid API coordinates, in words (for error messages)."""
        return (
            f"the screen is {self.api_width}x{self.api_height}, so x must be in "
            f"0..{self.api_width - 1} and y in 0..{self.api_height - 1}"
        )

    def check(self, x: int, y: int) -> None:
        """Raise ScreenError unless (x, y) is on the screen in API coordinates."""
        if not (0 <= x < self.api_width and 0 <= y < self.api_height):
            raise ScreenError(f"Coordinate ({x}, {y}) is out of bounds: {self.bounds}.")

    def to_screen(self, x: int, y: int) -> tuple[int, int]:
        """API coordinates -> screen pixels (checked). Pixel centres are mapped, so a point
        lands in the middle of the screen pixels under it and maps back to itself."""
        self.check(x, y)
        return (
            _scale(x, self.screen_width, self.api_width),
            _scale(y, self.screen_height, self.api_height),
        )

    def to_api(self, x: int, y: int) -> tuple[int, int]:
        """Screen pixels -> API coordinates (clamped onto the screen)."""
        return (
            _scale(max(0, min(x, self.screen_width - 1)), self.api_width, self.screen_width),
            _scale(max(0, min(y, self.screen_height - 1)), self.api_height, self.screen_height),
        )

    def region_to_screen(self, region: tuple[int, int, int, int] | list[int]) -> Box:
        """An API-space [x0, y0, x1, y1] rectangle -> the screen pixels it covers."""
        if len(region) != 4:
            raise ScreenError(f"region must be [x0, y0, x1, y1], got {list(region)}")
        x0, y0, x1, y1 = region
        if not (0 <= x0 < x1 <= self.api_width and 0 <= y0 < y1 <= self.api_height):
            raise ScreenError(
                f"Region {list(region)} is not a rectangle on the screen: it needs "
                f"0 <= x0 < x1 <= {self.api_width} and 0 <= y0 < y1 <= {self.api_height} "
                f"(the screen is {self.api_width}x{self.api_height})."
            )
        sx = self.screen_width / self.api_width
        sy = self.screen_height / self.api_height
        return (
            math.floor(x0 * sx),
            math.floor(y0 * sy),
            min(self.screen_width, math.ceil(x1 * sx)),
            min(self.screen_height, math.ceil(y1 * sy)),
        )


def _scale(value: int, to_size: int, from_size: int) -> int:
    """The pixel of a ``to_size`` axis whose area holds the centre of pixel ``value`` of a
    ``from_size`` axis."""
    return min(to_size - 1, math.floor((value + 0.5) * to_size / from_size))


def fit_within(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image`` shrunk (never enlarged) to fit in width x height, keeping its ratio."""
    factor = min(width / image.width, height / image.height)
    if factor >= 1:
        return image
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of ``image``, compressed for speed (the API re-encodes anyway)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


class Screen:
    """One X display: capture, settle, scale and encode screenshots of it."""

    def __init__(
        self,
        display: str,
        width: int,
        height: int,
        *,
        backend: Backend | None = None,
        fixed_delay: float | None = None,
        limits: ImageLimits | None = None,
    ) -> None:
        self.display = display
        #: Given: screenshots fit these limits (the toolset); None: the XGA/WXGA targets.
        self.limits = limits
        self.scaling = (
            Scaling.within(width, height, limits) if limits else Scaling.for_screen(width, height)
        )
        chosen = backend or os.environ.get("SCREENSHOT_BACKEND") or "xcb"
        if chosen not in ("xcb", "scrot"):
            raise ScreenError(f"SCREENSHOT_BACKEND must be 'xcb' or 'scrot', got {chosen!r}")
        self.backend: Backend = chosen  # type: ignore[assignment]
        if fixed_delay is None and os.environ.get("SCREENSHOT_DELAY"):
            fixed_delay = float(os.environ["SCREENSHOT_DELAY"])
        self.fixed_delay = fixed_delay
        self._before: bytes | None = None
        self._acted = False

    async def capture(self) -> Image.Image:
        """The whole screen at full resolution, RGB."""
        image = await (self._grab_scrot() if self.backend == "scrot" else self._grab_xcb())
        expected = (self.scaling.screen_width, self.scaling.screen_height)
        if image.size != expected:
            raise ScreenError(
                f"display {self.display} is {image.width}x{image.height}, but WIDTH/HEIGHT "
                f"say {expected[0]}x{expected[1]}: set them to the display's size"
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

    async def before_action(self) -> None:
        """Remember the screen as it is before an action, for ``settled`` to compare with."""
        self._acted = True
        self._before = None if self.fixed_delay is not None else (await self.capture()).tobytes()

    async def settled(self) -> Image.Image:
        """The screen once it stops changing: after SETTLE_MIN_DELAY, frames are taken every
        SETTLE_INTERVAL until two in a row are identical or SETTLE_MAX has passed. If the
        screen still equals the frame ``before_action`` took, stillness counts only after
        SETTLE_REACTION (the app may not have drawn its answer yet). A fixed delay
        (``SCREENSHOT_DELAY``) replaces all this when set."""
        before, self._before = self._before, None
        self._acted = False
        if self.fixed_delay is not None:
            await asyncio.sleep(self.fixed_delay)
            return await self.capture()
        start = time.monotonic()
        await asyncio.sleep(SETTLE_MIN_DELAY)
        frame = await self.capture()
        raw = frame.tobytes()
        reacted = raw != before
        while time.monotonic() - start < SETTLE_MAX:
            await asyncio.sleep(SETTLE_INTERVAL)
            frame = await self.capture()
            previous, raw = raw, frame.tobytes()
            reacted = reacted or raw != before
            if raw == previous and (reacted or time.monotonic() - start >= SETTLE_REACTION):
                break
        return frame

    @property
    def action_pending(self) -> bool:
        """Whether an action ran since the screen last settled (a screenshot should settle)."""
        return self._acted

    def for_api(self, image: Image.Image) -> Image.Image:
        """A full-screen capture at the size the API sees."""
        if not self.scaling.scaled:
            return image
        size = (self.scaling.api_width, self.scaling.api_height)
        return image.resize(size, Image.Resampling.LANCZOS)

    async def encode(self, image: Image.Image) -> str:
        """Base64 PNG of a full-screen capture, scaled for the API."""

        def work() -> str:
            return base64.b64encode(encode_png(self.for_api(image))).decode("ascii")

        return await asyncio.to_thread(work)

    async def screenshot(self, *, settle: bool = False) -> str:
        """Base64 PNG of the screen as the API sees it (after settling, if asked)."""
        return await self.encode(await (self.settled() if settle else self.capture()))

    async def zoom(
        self, region: tuple[int, int, int, int] | list[int], *, settle: bool = False
    ) -> str:
        """Base64 PNG of an API-space region, cut from the full-resolution screen: as many
        pixels as the screen has there, shrunk only to fit the API size. With ``limits`` (the
        toolset) the crop is scaled to fill them, up or down, as the toolset's zoom promises."""
        box = self.scaling.region_to_screen(region)
        image = await (self.settled() if settle else self.capture())

        def work() -> str:
            crop = image.crop(box)
            if self.limits is None:
                crop = fit_within(crop, self.scaling.api_width, self.scaling.api_height)
            else:
                size = self.limits.fit(crop.width, crop.height, enlarge=True)
                if size != crop.size:
                    crop = crop.resize(size, Image.Resampling.LANCZOS)
            return base64.b64encode(encode_png(crop)).decode("ascii")

        return await asyncio.to_thread(work)
