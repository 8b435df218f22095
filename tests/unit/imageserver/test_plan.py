from __future__ import annotations

import pytest

from iiif.image import Limits, parse_path, resolve
from services.imageserver.plan import (
    LevelSize,
    Plan,
    TileRef,
    confined_needs_upscale,
    find_passthrough,
    plan_render,
    rotated_canvas_over_limits,
)

LEVELS = [
    LevelSize(1300, 900, 256, 256),
    LevelSize(650, 450, 256, 256),
    LevelSize(325, 225, 256, 256),
]
CAPABLE = [True, True, True]


def _resolved(path: str, version: int = 3):  # type: ignore[no-untyped-def]
    request = parse_path(path, version)
    return resolve(request, 1300, 900, Limits(max_width=5000, max_area=20_000_000))


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("a/0,0,256,256/256,/0/default.jpg", TileRef(0, 0, 0)),
        ("a/768,512,256,256/256,256/0/default.jpg", TileRef(0, 3, 2)),
        ("a/0,0,256,256/max/0/color.jpg", TileRef(0, 0, 0)),
        ("a/512,0,512,512/256,/0/default.jpg", TileRef(1, 1, 0)),
        ("a/0,0,1024,1024/256,/0/default.jpg", None),  # level 2 is only 225 high
    ],
)
def test_requests_that_are_one_stored_tile_pass_through(path: str, tile: TileRef | None) -> None:
    assert find_passthrough(_resolved(path), LEVELS, CAPABLE) == tile


@pytest.mark.parametrize(
    "path",
    [
        "a/0,0,256,256/256,/90/default.jpg",
        "a/0,0,256,256/256,/!0/default.jpg",
        "a/0,0,256,256/256,/0/gray.jpg",
        "a/0,0,256,256/256,/0/default.png",
        "a/0,0,256,256/128,/0/default.jpg",
        "a/1,0,256,256/256,/0/default.jpg",
        "a/1280,0,256,256/20,/0/default.jpg",  # edge tile: stored tiles are padded
        "a/1024,768,256,256/256,/0/default.jpg",  # clipped region
    ],
)
def test_anything_else_is_rendered(path: str) -> None:
    assert find_passthrough(_resolved(path), LEVELS, CAPABLE) is None


def test_pages_that_are_not_jpeg_never_pass_through() -> None:
    resolved = _resolved("a/0,0,256,256/256,/0/default.jpg")
    assert find_passthrough(resolved, LEVELS, [False, True, True]) is None


@pytest.mark.parametrize(
    ("path", "plan"),
    [
        ("a/full/max/0/default.jpg", Plan(0, 0, 0, 1300, 900)),
        ("a/full/650,/0/default.jpg", Plan(1, 0, 0, 650, 450)),
        ("a/full/600,/0/default.jpg", Plan(1, 0, 0, 650, 450)),
        ("a/full/100,/0/default.jpg", Plan(2, 0, 0, 325, 225)),
        ("a/100,100,400,400/100,/0/default.jpg", Plan(2, 25, 25, 100, 100)),
        ("a/101,99,3,3/^300,/0/default.jpg", Plan(0, 101, 99, 3, 3)),
    ],
)
def test_render_reads_the_smallest_page_with_enough_detail(path: str, plan: Plan) -> None:
    assert plan_render(_resolved(path), LEVELS) == plan


def test_plans_stay_inside_the_page_for_odd_sizes() -> None:
    levels = [LevelSize(1001, 999, 256, 256), LevelSize(500, 499, 256, 256)]
    request = parse_path("a/997,995,4,4/2,/0/default.jpg")
    resolved = resolve(request, 1001, 999, Limits())
    plan = plan_render(resolved, levels)
    page = levels[plan.level]
    assert plan.x + plan.width <= page.width and plan.y + plan.height <= page.height
    assert plan.width >= 1 and plan.height >= 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/full/!2000,3000/0/default.jpg", True),
        ("a/full/!2000,500/0/default.jpg", False),
        ("a/full/^!2000,3000/0/default.jpg", False),
        ("a/full/!1300,900/0/default.jpg", False),
    ],
)
def test_confined_boxes_larger_than_the_region_are_upscaling(path: str, expected: bool) -> None:
    request = parse_path(path)
    resolved = resolve(request, 1300, 900, Limits(max_width=5000))
    assert confined_needs_upscale(request, resolved) is expected


@pytest.mark.parametrize(
    ("path", "canvas"),
    [
        ("a/full/^4000,/0/default.jpg", None),  # 4000x2769 = 11M pixels, no turn
        ("a/full/^4000,/90/default.jpg", None),  # a right angle: the same pixels
        ("a/full/^4000,/!180/default.jpg", None),
        ("a/full/^4000,/45/default.jpg", (4786, 4786)),  # 22.9M > 20M
        ("a/full/^4000,/1/default.jpg", None),  # 4047x2838 = 11.5M
        ("a/full/^4900,/30/default.png", (5940, 5388)),  # over maxWidth 5000
        ("a/full/max/45/default.jpg", None),  # 1555x1555
    ],
)
def test_a_turned_canvas_must_be_within_the_limits(
    path: str, canvas: tuple[int, int] | None
) -> None:
    assert rotated_canvas_over_limits(_resolved(path)) == canvas
