"""Small PNGs for tests that feed screenshots in, and the decoding of those a tool returns."""

from __future__ import annotations

import base64
import io

from PIL import Image

from computer_use_demo.tools.base import ToolResult


def png_b64(
    width: int = 64, height: int = 48, colour: str | tuple[int, int, int] = (200, 30, 30)
) -> str:
    """A plain ``width`` x ``height`` PNG of one colour, base64-encoded as the API carries it."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def png(result: ToolResult) -> Image.Image:
    """The screenshot a tool result carries, checked to be a PNG, as RGB pixels."""
    assert result.base64_image, result
    image = Image.open(io.BytesIO(base64.b64decode(result.base64_image)))
    assert image.format == "PNG"
    return image.convert("RGB")
