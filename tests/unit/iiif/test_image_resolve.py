"""Resolving requests against an image's size and the server's limits (3.0 sections 4.1-4.3).

The spec's example images are 300 x 200 pixels: its region examples
``125,15,120,140`` and ``pct:41.6,7.5,40,70`` name the same pixels, and
``125,15,200,200`` is returned as 175 x 185.
"""

import pytest

from iiif.image import (
    BadRequest,
    ImageRequest,
    Limits,
    NotImplemented_,
    PixelRegion,
    Quality,
    ResolvedRequest,
    TooLarge,
    max_size,
    parse_path,
    resolve,
)

WIDTH, HEIGHT = 300, 200
NO_LIMITS = Limits()


def request(
    region: str = "full", size: str = "max", rotation: str = "0", version: int = 3
) -> ImageRequest:
    parsed = parse_path(f"id/{region}/{size}/{rotation}/default.jpg", version)
    assert isinstance(parsed, ImageRequest)
    return parsed


def resolved(
    region: str = "full",
    size: str = "max",
    rotation: str = "0",
    limits: Limits = NO_LIMITS,
    version: int = 3,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> ResolvedRequest:
    return resolve(request(region, size, rotation, version), width, height, limits)


# --- region -------------------------------------------------------------------------------

SPEC_REGION_TABLE = [
    ("full", PixelRegion(0, 0, 300, 200)),
    ("square", PixelRegion(50, 0, 200, 200)),  # centred in the longer dimension
    ("125,15,120,140", PixelRegion(125, 15, 120, 140)),
    ("pct:41.6,7.5,40,70", PixelRegion(125, 15, 120, 140)),
    ("125,15,200,200", PixelRegion(125, 15, 175, 185)),  # "returned image is 175,185 px"
    ("pct:41.6,7.5,66.6,100", PixelRegion(125, 15, 175, 185)),
]


@pytest.mark.parametrize(("region", "expected"), SPEC_REGION_TABLE)
@pytest.mark.parametrize("version", [2, 3])
def test_spec_region_examples_give_the_spec_pixels(
    region: str, expected: PixelRegion, version: int
) -> None:
    result = resolved(region, version=version)
    assert result.region == expected
    assert (result.width, result.height) == (expected.width, expected.height)


def test_square_of_a_portrait_image_is_centred_vertically() -> None:
    assert resolved("square", width=200, height=301).region == PixelRegion(0, 50, 200, 200)


def test_tiny_percentage_region_is_at_least_one_pixel() -> None:
    assert resolved("pct:10,10,0.01,0.01").region == PixelRegion(30, 20, 1, 1)


@pytest.mark.parametrize(
    "region",
    [
        "300,0,10,10",  # starts just past the right edge
        "0,200,10,10",  # just past the bottom edge
        "1000,1000,10,10",
        "pct:100,0,10,10",
        "pct:0,100,10,10",
        "pct:99.9,99.9,10,10",  # rounds to 300,200: outside
        "9999999,0,1,1",
    ],
)
def test_region_entirely_outside_the_image_is_400(region: str) -> None:
    with pytest.raises(BadRequest) as exc:
        resolved(region)
    assert exc.value.status == 400
    assert exc.value.parameter == "region"


def test_region_touching_the_last_pixel_is_one_pixel() -> None:
    assert resolved("299,199,50,50").region == PixelRegion(299, 199, 1, 1)


# --- size: the example rows of 3.0 section 4.2 ---------------------------------------------

SPEC_SIZE_TABLE = [
    # (size, limits, expected size, upscaled)
    ("max", Limits(max_width=200), (200, 133), False),  # "assuming a maxWidth of 200px"
    ("^max", Limits(max_width=360), (360, 240), True),  # "assuming a maxWidth of 360px"
    ("150,", NO_LIMITS, (150, 100), False),
    ("^360,", NO_LIMITS, (360, 240), True),
    (",150", NO_LIMITS, (225, 150), False),
    ("^,240", NO_LIMITS, (360, 240), True),  # printed as ",^240" in the spec: a typo
    ("pct:50", NO_LIMITS, (150, 100), False),
    ("^pct:120", NO_LIMITS, (360, 240), True),  # printed as "pct:120": ^ is needed
    ("225,100", NO_LIMITS, (225, 100), False),
    ("^360,360", NO_LIMITS, (360, 360), True),
    ("!225,100", NO_LIMITS, (150, 100), False),  # "returned image is 150,100 px"
    ("^!360,360", NO_LIMITS, (360, 240), True),  # "returned image is 360,240 px"
]


@pytest.mark.parametrize(("size", "limits", "expected", "upscaled"), SPEC_SIZE_TABLE)
def test_spec_size_examples_give_the_spec_dimensions(
    size: str, limits: Limits, expected: tuple[int, int], upscaled: bool
) -> None:
    result = resolved(size=size, limits=limits)
    assert (result.width, result.height) == expected
    assert result.upscaled is upscaled


def test_spec_order_of_implementation_example() -> None:
    result = resolved("125,15,120,140", "90,", "!345")
    assert result.region == PixelRegion(125, 15, 120, 140)
    assert (result.width, result.height) == (90, 105)
    assert result.mirror is True
    assert result.rotation == 345.0


@pytest.mark.parametrize("size", ["301,", ",201", "301,200", "300,201", "301,1", "pct:100.5"])
def test_upscaling_without_caret_is_400_in_image_api_3(size: str) -> None:
    with pytest.raises(BadRequest) as exc:
        resolved(size=size)
    assert exc.value.status == 400
    assert exc.value.parameter == "size"


def test_upscaling_without_caret_relative_to_the_region_not_the_image() -> None:
    with pytest.raises(BadRequest):
        resolved("0,0,100,100", "101,")
    assert (resolved("0,0,100,100", "^101,").width, resolved("0,0,100,100", "100,").width) == (
        101,
        100,
    )


def test_caret_without_upscaling_is_allowed_and_not_marked_upscaled() -> None:
    result = resolved(size="^150,")
    assert (result.width, result.height, result.upscaled) == (150, 100, False)


def test_non_caret_confined_size_never_upscales() -> None:
    result = resolved(size="!1000,1000")
    assert (result.width, result.height, result.upscaled) == (300, 200, False)


NO_UPSCALING = Limits(max_width=1000, allow_upscaling=False)


@pytest.mark.parametrize("size", ["^301,", "^,201", "^pct:150", "^301,200", "^max", "^!400,400"])
def test_caret_upscaling_is_501_when_the_server_does_not_upscale(size: str) -> None:
    with pytest.raises(NotImplemented_) as exc:
        resolved(size=size, limits=NO_UPSCALING)
    assert exc.value.status == 501
    assert exc.value.parameter == "size"


def test_caret_without_need_to_upscale_works_when_the_server_does_not_upscale() -> None:
    assert (resolved(size="^max", limits=Limits(allow_upscaling=False)).width) == 300
    assert resolved(size="^150,", limits=NO_UPSCALING).width == 150


@pytest.mark.parametrize("size", ["1,", ",1", "pct:0.5", "!1,1"])
def test_one_pixel_results_are_allowed(size: str) -> None:
    result = resolved(size=size)
    assert min(result.width, result.height) == 1


@pytest.mark.parametrize(("size", "width", "height"), [("10,", 1000, 1), (",10", 1, 1000)])
def test_results_under_one_pixel_are_400(size: str, width: int, height: int) -> None:
    with pytest.raises(BadRequest) as exc:
        resolved(size=size, width=width, height=height)
    assert exc.value.parameter == "size"
    assert "1 pixel" in exc.value.reason


def test_pct_smaller_than_a_pixel_is_400() -> None:
    with pytest.raises(BadRequest):
        resolved(size="pct:0.1")  # 0.3 x 0.2 pixels


# --- server limits --------------------------------------------------------------------------

LIMITS = Limits(max_width=200, max_height=100, max_area=15_000)


@pytest.mark.parametrize(
    ("size", "reason_word"),
    [
        ("201,", "width"),
        (",101", "height"),
        ("200,100", "15000"),  # 20,000 pixels > maxArea
        ("151,100", "15000"),
        ("pct:90", "width"),
    ],
)
def test_sizes_over_the_limits_are_400_too_large(size: str, reason_word: str) -> None:
    with pytest.raises(TooLarge) as exc:
        resolved(size=size, limits=LIMITS)
    assert exc.value.status == 400
    assert exc.value.parameter == "size"
    assert reason_word in exc.value.reason


def test_max_height_defaults_to_max_width() -> None:
    limits = Limits(max_width=150)
    assert limits.effective_max_height == 150
    with pytest.raises(TooLarge):
        resolved(size=",151", limits=limits, width=200, height=300)
    result = resolved(size="max", limits=limits, width=200, height=300)
    assert (result.width, result.height) == (100, 150)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (Limits(max_width=200), (200, 133)),
        (Limits(max_width=1000, max_height=100), (150, 100)),
        (Limits(max_area=15_000), (150, 100)),
        (Limits(max_area=60_000), (300, 200)),  # the region fits: no upscaling for max
        (Limits(max_width=200, max_height=100, max_area=15_000), (150, 100)),
        (Limits(max_area=1), (1, 1)),
    ],
)
def test_max_honours_every_limit(limits: Limits, expected: tuple[int, int]) -> None:
    result = resolved(size="max", limits=limits)
    assert (result.width, result.height) == expected
    assert result.upscaled is False


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (Limits(max_width=600), (600, 400)),
        (Limits(max_width=1000, max_height=300), (450, 300)),
        (Limits(max_area=240_000), (600, 400)),
        (Limits(), (300, 200)),  # no limits: nothing to scale up to
    ],
)
def test_caret_max_scales_up_to_the_limits(limits: Limits, expected: tuple[int, int]) -> None:
    result = resolved(size="^max", limits=limits)
    assert (result.width, result.height) == expected


def test_confined_sizes_fit_within_the_limits_instead_of_failing() -> None:
    result = resolved(size="^!1000,1000", limits=Limits(max_width=450))
    assert (result.width, result.height) == (450, 300)
    result = resolved(size="!1000,1000", limits=Limits(max_area=15_000))
    assert (result.width, result.height) == (150, 100)


def test_absurd_sizes_are_refused_even_without_limits() -> None:
    with pytest.raises(BadRequest) as exc:
        resolved(size="2400000,")
    assert exc.value.parameter == "size"
    with pytest.raises(TooLarge):
        # 100,000 x 100,000 passes parsing, not the hard ceiling of 65,535 a side
        resolved(size="^pct:10000", width=1000, height=1000)
    assert max_size(100_000, 100, Limits()) == (65_535, 66)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_height": 100},  # maxHeight needs maxWidth
        {"max_width": 0},
        {"max_width": -1},
        {"max_area": 0},
        {"max_width": 1.5},
        {"max_width": True},
    ],
)
def test_invalid_limits_are_a_programming_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Limits(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-5, 10)])
def test_resolve_needs_positive_image_dimensions(width: int, height: int) -> None:
    with pytest.raises(ValueError):
        resolve(request(), width, height, NO_LIMITS)


# --- Image API 2.1 differences ----------------------------------------------------------------


def test_image_api_2_full_is_the_full_size_and_max_the_largest_allowed() -> None:
    assert (resolved(size="full", version=2).width, resolved(size="max", version=2).width) == (
        300,
        300,
    )
    result = resolved(size="max", limits=Limits(max_width=200), version=2)
    assert (result.width, result.height) == (200, 133)


def test_image_api_2_full_over_the_limits_is_refused_never_scaled_down() -> None:
    # 2.1: ``full`` is the region unscaled; a smaller image with 200 would be a lie
    with pytest.raises(TooLarge) as caught:
        resolved(size="full", limits=Limits(max_width=200), version=2)
    assert caught.value.parameter == "size"
    assert "max" in caught.value.reason


@pytest.mark.parametrize(
    ("size", "expected"),
    [("360,", (360, 240)), (",240", (360, 240)), ("pct:120", (360, 240)), ("360,360", (360, 360))],
)
def test_image_api_2_upscales_without_caret(size: str, expected: tuple[int, int]) -> None:
    result = resolved(size=size, version=2)
    assert (result.width, result.height) == expected
    assert result.upscaled is True


def test_image_api_2_confined_size_is_a_best_fit_that_may_upscale() -> None:
    result = resolved(size="!360,360", version=2)
    assert (result.width, result.height) == (360, 240)


def test_image_api_2_confined_size_without_upscaling_support_is_capped_not_refused() -> None:
    result = resolved(size="!360,360", version=2, limits=NO_UPSCALING)
    assert (result.width, result.height, result.upscaled) == (300, 200, False)


def test_image_api_2_upscaling_when_the_server_does_not_upscale_is_501() -> None:
    with pytest.raises(NotImplemented_):
        resolved(size="360,", version=2, limits=NO_UPSCALING)


def test_image_api_2_native_quality_resolves_to_default() -> None:
    parsed = parse_path("id/full/full/0/native.jpg", 2)
    assert isinstance(parsed, ImageRequest)
    assert resolve(parsed, WIDTH, HEIGHT, NO_LIMITS).quality is Quality.DEFAULT


# --- rotation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "mirror", "degrees", "rotated"),
    [
        ("0", False, 0.0, (300, 200)),
        ("90", False, 90.0, (200, 300)),
        ("180", False, 180.0, (300, 200)),
        ("270", False, 270.0, (200, 300)),
        ("360", False, 0.0, (300, 200)),
        ("!0", True, 0.0, (300, 200)),
        ("!90", True, 90.0, (200, 300)),
        ("22.5", False, 22.5, (354, 300)),
        ("45", False, 45.0, (354, 354)),
    ],
)
def test_rotation_resolves_degrees_mirror_and_bounding_box(
    rotation: str, mirror: bool, degrees: float, rotated: tuple[int, int]
) -> None:
    result = resolved(rotation=rotation)
    assert result.mirror is mirror
    assert result.rotation == degrees
    assert result.rotated_size == rotated
    assert (result.width, result.height) == (300, 200)  # rotation never scales


# --- max with an arbitrary rotation -------------------------------------------------------

BIG_LIMITS = Limits(max_width=10000, max_height=10000, max_area=25_000_000)


def _within(size: tuple[int, int], limits: Limits) -> bool:
    width, height = size
    assert limits.max_width is not None and limits.max_area is not None
    return (
        width <= limits.max_width
        and height <= limits.max_width
        and (width * height <= limits.max_area)
    )


@pytest.mark.parametrize("rotation", ["45", "30", "!135", "359.5"])
@pytest.mark.parametrize("size", ["max", "^max"])
def test_max_with_an_arbitrary_rotation_is_the_largest_size_whose_canvas_fits(
    rotation: str, size: str
) -> None:
    result = resolved(size=size, rotation=rotation, limits=BIG_LIMITS, width=8192, height=6144)
    assert _within(result.rotated_size, BIG_LIMITS)
    assert abs(result.width / result.height - 8192 / 6144) < 0.01
    bigger = resolved(
        size=f"{result.width + 2},",
        rotation=rotation,
        limits=Limits(),
        width=8192,
        height=6144,
    )
    assert not _within(bigger.rotated_size, BIG_LIMITS)  # as large as the limits allow


def test_max_with_a_right_angle_is_unchanged() -> None:
    result = resolved(rotation="90", limits=BIG_LIMITS, width=8192, height=6144)
    assert (result.width, result.height) == (5773, 4330)
