"""Scaling and coordinate mapping between the real screen and what the API sees (pure)."""

import base64
import io

import pytest
from PIL import Image

from computer_use_demo.desktop.screen import Scaling, ScreenError, encode_png, fit_within


@pytest.mark.parametrize(
    ("screen", "api"),
    [
        ((1920, 1080), (1366, 768)),  # ~16:9 -> FWXGA
        ((1920, 1200), (1280, 800)),  # 16:10 -> WXGA
        ((2560, 1600), (1280, 800)),
        ((1600, 1200), (1024, 768)),  # 4:3 -> XGA
        ((2000, 1000), (1280, 640)),  # 2:1 matches none: fit within 1280x800
        ((1280, 1024), (1000, 800)),  # 5:4 matches none
        ((768, 1024), (600, 800)),  # portrait
        ((1024, 768), (1024, 768)),  # XGA itself: as is
        ((800, 600), (800, 600)),  # smaller than XGA: as is
        ((640, 480), (640, 480)),
        ((1280, 800), (1280, 800)),  # already a target: not scaled
        ((1366, 768), (1366, 768)),
        ((1200, 600), (1200, 600)),  # odd ratio but fits within 1280x800
    ],
)
def test_api_size_for_screen(screen: tuple[int, int], api: tuple[int, int]) -> None:
    scaling = Scaling.for_screen(*screen)
    assert (scaling.api_width, scaling.api_height) == api
    assert scaling.scaled == (screen != api)
    # Never more than the API recommends.
    assert scaling.api_width * scaling.api_height <= 1366 * 768


@pytest.mark.parametrize(
    ("screen", "api_point", "screen_point"),
    [
        ((1920, 1080), (683, 384), (960, 540)),  # centre
        ((1920, 1080), (0, 0), (0, 0)),
        ((1920, 1080), (1365, 767), (1919, 1079)),  # bottom-right pixel stays on screen
        ((1920, 1080), (100, 50), (141, 71)),
        ((1920, 1200), (640, 400), (960, 600)),
        ((1920, 1200), (1279, 799), (1919, 1199)),
        ((2000, 1000), (640, 320), (1000, 500)),
        ((2000, 1000), (1279, 639), (1999, 999)),
        ((800, 600), (799, 599), (799, 599)),  # not scaled: identity
    ],
)
def test_coordinates_map_both_ways(
    screen: tuple[int, int], api_point: tuple[int, int], screen_point: tuple[int, int]
) -> None:
    scaling = Scaling.for_screen(*screen)
    assert scaling.to_screen(*api_point) == screen_point
    assert scaling.to_api(*screen_point) == api_point


@pytest.mark.parametrize("screen", [(1920, 1080), (1920, 1200), (2000, 1000), (1024, 768)])
def test_round_trip_from_every_api_edge(screen: tuple[int, int]) -> None:
    scaling = Scaling.for_screen(*screen)
    for x in (0, 1, scaling.api_width // 3, scaling.api_width - 1):
        for y in (0, 1, scaling.api_height // 3, scaling.api_height - 1):
            assert scaling.to_api(*scaling.to_screen(x, y)) == (x, y)


@pytest.mark.parametrize(
    ("screen", "bad"),
    [((1920, 1080), (1366, 0)), ((1920, 1080), (0, 768)), ((1024, 768), (-1, 5))],
)
def test_out_of_bounds_names_the_bounds(screen: tuple[int, int], bad: tuple[int, int]) -> None:
    scaling = Scaling.for_screen(*screen)
    with pytest.raises(ScreenError) as err:
        scaling.to_screen(*bad)
    message = str(err.value)
    assert f"{scaling.api_width}x{scaling.api_height}" in message
    assert f"0..{scaling.api_width - 1}" in message and f"0..{scaling.api_height - 1}" in message


def test_screen_to_api_clamps_onto_the_screen() -> None:
    scaling = Scaling.for_screen(1920, 1080)
    assert scaling.to_api(1919, 1079) == (1365, 767)
    assert scaling.to_api(5000, -3) == (1365, 0)


def test_zoom_region_maps_to_more_screen_pixels() -> None:
    scaling = Scaling.for_screen(1920, 1080)
    box = scaling.region_to_screen([100, 100, 200, 150])
    # 1920/1366 = 1.4056: the box covers every screen pixel under the API rectangle.
    assert box == (140, 140, 282, 211)
    assert scaling.region_to_screen([0, 0, 1366, 768]) == (0, 0, 1920, 1080)
    assert Scaling.for_screen(800, 600).region_to_screen([10, 20, 30, 40]) == (10, 20, 30, 40)


@pytest.mark.parametrize(
    "region", [[10, 10, 10, 20], [20, 10, 10, 20], [0, 0, 1367, 10], [-1, 0, 10, 10], [1, 2, 3]]
)
def test_bad_zoom_regions_are_refused(region: list[int]) -> None:
    with pytest.raises(ScreenError, match=r"1366|\[x0, y0, x1, y1\]"):
        Scaling.for_screen(1920, 1080).region_to_screen(region)


def test_fit_within_only_shrinks_and_keeps_the_ratio() -> None:
    small = Image.new("RGB", (200, 100))
    assert fit_within(small, 1366, 768) is small
    big = fit_within(Image.new("RGB", (1920, 540)), 1366, 768)
    assert big.size == (1366, 384)


def test_encode_png_round_trips_pixels() -> None:
    image = Image.new("RGB", (64, 32), (10, 200, 30))
    image.putpixel((5, 7), (255, 0, 0))
    decoded = Image.open(io.BytesIO(encode_png(image)))
    assert decoded.format == "PNG" and decoded.size == (64, 32)
    assert decoded.convert("RGB").getpixel((5, 7)) == (255, 0, 0)
    assert base64.b64encode(encode_png(image))  # bytes, ready for base64
