"""What the model sees of the screen: its size for the API, the mapping of coordinates, and
screenshots at that size (the pixels themselves come from a ``Desktop``: in-process, or the
desktop server; see capture.py for how they are grabbed and settled).

The API works best with screenshots no bigger than XGA/WXGA, so a bigger screen is shown to
the model at the target size whose aspect ratio matches (XGA 4:3, WXGA 16:10, FWXGA ~16:9), or,
when none matches, scaled to fit within 1280x800. Screens no bigger than XGA are sent as they
are. Coordinates the model sends are in that scaled ("API") space and are mapped back here.

The computer toolset (``computer_toolset_20260801``) is different: the API no longer scales its
screenshots, so they are sent at the screen's own size when that fits the model's image limits
(``ImageLimits``), else at the largest size of the same ratio that does.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

from PIL import Image

from .backend import Desktop
from .capture import (
    PNG_COMPRESS_LEVEL,
    SETTLE_INTERVAL,
    SETTLE_MAX,
    SETTLE_MIN_DELAY,
    SETTLE_REACTION,
    Backend,
    encode_png,
    fit_size,
    fit_within,
)
from .errors import ScreenError
from .local import LocalDesktop

__all__ = [
    "FIT_WITHIN",
    "HIGH_RES_IMAGES",
    "PNG_COMPRESS_LEVEL",
    "RATIO_TOLERANCE",
    "SCALING_TARGETS",
    "SETTLE_INTERVAL",
    "SETTLE_MAX",
    "SETTLE_MIN_DELAY",
    "SETTLE_REACTION",
    "STANDARD_IMAGES",
    "Backend",
    "ImageLimits",
    "Scaling",
    "Screen",
    "ScreenError",
    "encode_png",
    "fit_within",
]

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


class Screen:
    """One desktop's screen as the model sees it: screenshots and zooms at the API's size,
    settled after an action. The pixels come from ``desktop`` (default: ``display`` in this
    process)."""

    def __init__(
        self,
        display: str,
        width: int,
        height: int,
        *,
        backend: Backend | None = None,
        fixed_delay: float | None = None,
        limits: ImageLimits | None = None,
        desktop: Desktop | None = None,
    ) -> None:
        self.display = display
        #: Given: screenshots fit these limits (the toolset); None: the XGA/WXGA targets.
        self.limits = limits
        self.scaling = (
            Scaling.within(width, height, limits) if limits else Scaling.for_screen(width, height)
        )
        self.desktop: Desktop = (
            desktop
            if desktop is not None
            else LocalDesktop(display, capture_backend=backend, fixed_delay=fixed_delay)
        )
        self._acted = False

    @property
    def backend(self) -> str:
        """How the pixels are grabbed here (``xcb``, ``scrot``), or ``server``."""
        local = self.desktop
        return local.capture.backend if isinstance(local, LocalDesktop) else "server"

    @property
    def _expect(self) -> tuple[int, int]:
        return self.scaling.screen_width, self.scaling.screen_height

    async def capture(self) -> Image.Image:
        """The whole screen at full resolution, RGB."""
        if isinstance(self.desktop, LocalDesktop):
            return await self.desktop.capture.grab(self._expect)
        shot = await self.desktop.screenshot(expect=self._expect)
        with Image.open(io.BytesIO(shot.png)) as image:
            return image.convert("RGB")

    async def before_action(self) -> None:
        """Remember the screen as it is before an action, for the next settled screenshot."""
        self._acted = True
        await self.desktop.note_screen(self._expect)

    def expect_action(self) -> None:
        """An action is starting whose first request notes the screen itself
        (``Desktop.run(note_screen=True)``): the next screenshot settles."""
        self._acted = True

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

    async def screenshot(self, *, settle: bool = False) -> str:
        """Base64 PNG of the screen as the API sees it (after settling, if asked: the screen
        once it stops changing, see ``capture.Capture.settled``)."""
        if settle:
            self._acted = False
        s = self.scaling
        size = (s.api_width, s.api_height) if s.scaled else None
        shot = await self.desktop.screenshot(settle=settle, size=size, expect=self._expect)
        return base64.b64encode(shot.png).decode("ascii")

    async def zoom(
        self, region: tuple[int, int, int, int] | list[int], *, settle: bool = False
    ) -> str:
        """Base64 PNG of an API-space region, cut from the full-resolution screen: as many
        pixels as the screen has there, shrunk only to fit the API size. With ``limits`` (the
        toolset) the crop is scaled to fill them, up or down, as the toolset's zoom promises."""
        box = self.scaling.region_to_screen(region)
        width, height = box[2] - box[0], box[3] - box[1]
        if self.limits is None:
            size = fit_size(width, height, self.scaling.api_width, self.scaling.api_height)
        else:
            size = self.limits.fit(width, height, enlarge=True)
        if settle:
            self._acted = False
        shot = await self.desktop.screenshot(
            settle=settle, region=box, size=size, expect=self._expect
        )
        return base64.b64encode(shot.png).decode("ascii")
