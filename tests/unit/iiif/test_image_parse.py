"""Parsing of each request parameter, from the Image API 3.0 / 2.1 tables and bad input."""

from decimal import Decimal

import pytest

from iiif.image import (
    BadRequest,
    Format,
    ImageRequestError,
    Quality,
    Region,
    RegionKind,
    Rotation,
    Size,
    SizeKind,
    parse_format,
    parse_quality,
    parse_region,
    parse_rotation,
    parse_size,
)
from iiif.image.request import check_version


def assert_refused(exc: pytest.ExceptionInfo[ImageRequestError], parameter: str) -> None:
    assert exc.value.status == 400
    assert exc.value.parameter == parameter
    assert exc.value.reason


# --- region (3.0 section 4.1; the rows of its example table) -------------------------

REGION_CASES = [
    ("full", Region(RegionKind.FULL)),
    ("square", Region(RegionKind.SQUARE)),
    ("125,15,120,140", Region(RegionKind.PIXELS, *map(Decimal, (125, 15, 120, 140)))),
    (
        "pct:41.6,7.5,40,70",
        Region(RegionKind.PERCENT, *map(Decimal, ("41.6", "7.5", "40", "70"))),
    ),
    ("125,15,200,200", Region(RegionKind.PIXELS, *map(Decimal, (125, 15, 200, 200)))),
    (
        "pct:41.6,7.5,66.6,100",
        Region(RegionKind.PERCENT, *map(Decimal, ("41.6", "7.5", "66.6", "100"))),
    ),
    ("0,0,1,1", Region(RegionKind.PIXELS, *map(Decimal, (0, 0, 1, 1)))),
    ("pct:0,0,100,100", Region(RegionKind.PERCENT, *map(Decimal, (0, 0, 100, 100)))),
    ("pct:.5,0.25,1,1", Region(RegionKind.PERCENT, *map(Decimal, (".5", "0.25", "1", "1")))),
]


@pytest.mark.parametrize(("text", "expected"), REGION_CASES)
def test_region_forms_from_the_spec_parse(text: str, expected: Region) -> None:
    assert parse_region(text) == expected


BAD_REGIONS = [
    "",
    "Full",
    "FULL",
    "full ",
    "!square",
    "square!",
    "a,b,c,d",
    "pct:a,b,c,d",
    "1,2,3",
    "1,2,3,4,5",
    "0,0,0,100",  # zero width
    "0,0,100,0",  # zero height
    "pct:0,0,0,50",
    "pct:0,0,50,0.0",
    "-1,0,10,10",
    "+1,0,10,10",
    "1.5,0,10,10",  # floats where pixels (integers) are required
    "0,0,10.0,10",
    "1e3,0,10,10",
    "pct:-10,0,50,100",
    "pct:+10,0,50,100",
    "pct:0,0,50,1000",  # a percentage above 100
    "pct:0,0,100.0001,50",
    "pct:nan,0,10,10",
    "pct:inf,0,10,10",
    "pct:1e2,0,10,10",
    "pct:1E-2,0,10,10",
    "pct:5.,0,10,10",
    "nan,0,10,10",
    "0,0,10,10 ",
    " 0,0,10,10",
    "0, 0,10,10",
    "0,0,10,１０",  # full-width digits
    "0,0,10,٣",  # Arabic-Indic digit
    "0,0,99999999999,10",  # absurd
    "0,0,1000000000000000000000,10",
    "pct:" + "1" * 40 + ",0,10,10",
    "PCT:0,0,10,10",
    "pct:0,0,10,10,",
]


@pytest.mark.parametrize("text", BAD_REGIONS)
def test_bad_region_is_400_naming_region(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_region(text)
    assert_refused(exc, "region")


# --- size (3.0 section 4.2; 2.1 section 4.2) ------------------------------------------

SIZE_CASES_V3 = [
    ("max", Size(SizeKind.MAX)),
    ("^max", Size(SizeKind.MAX, upscale=True)),
    ("150,", Size(SizeKind.WIDTH, width=150)),
    ("^360,", Size(SizeKind.WIDTH, upscale=True, width=360)),
    (",150", Size(SizeKind.HEIGHT, height=150)),
    ("^,240", Size(SizeKind.HEIGHT, upscale=True, height=240)),
    ("pct:50", Size(SizeKind.PERCENT, percent=Decimal(50))),
    ("pct:100", Size(SizeKind.PERCENT, percent=Decimal(100))),
    ("pct:0.5", Size(SizeKind.PERCENT, percent=Decimal("0.5"))),
    ("^pct:120", Size(SizeKind.PERCENT, upscale=True, percent=Decimal(120))),
    ("225,100", Size(SizeKind.EXACT, width=225, height=100)),
    ("^360,360", Size(SizeKind.EXACT, upscale=True, width=360, height=360)),
    ("!225,100", Size(SizeKind.CONFINED, width=225, height=100)),
    ("^!360,360", Size(SizeKind.CONFINED, upscale=True, width=360, height=360)),
]


@pytest.mark.parametrize(("text", "expected"), SIZE_CASES_V3)
def test_size_forms_of_image_api_3_parse(text: str, expected: Size) -> None:
    assert parse_size(text, 3) == expected


SIZE_CASES_V2 = [
    # 2.1: "full" is the full size (not max), and every form but full/max may scale above it.
    ("full", Size(SizeKind.FULL)),
    ("max", Size(SizeKind.MAX)),
    ("150,", Size(SizeKind.WIDTH, upscale=True, width=150)),
    (",150", Size(SizeKind.HEIGHT, upscale=True, height=150)),
    ("pct:50", Size(SizeKind.PERCENT, upscale=True, percent=Decimal(50))),
    ("pct:120", Size(SizeKind.PERCENT, upscale=True, percent=Decimal(120))),
    ("225,100", Size(SizeKind.EXACT, upscale=True, width=225, height=100)),
    ("!225,100", Size(SizeKind.CONFINED, upscale=True, width=225, height=100)),
]


@pytest.mark.parametrize(("text", "expected"), SIZE_CASES_V2)
def test_size_forms_of_image_api_2_parse(text: str, expected: Size) -> None:
    assert parse_size(text, 2) == expected


BAD_SIZES_V3 = [
    "",
    "full",  # removed in 3.0
    "Max",
    "max ",
    "^",
    "^^max",
    "!max",
    "^full",
    ",",
    "^,",
    "0,",  # zero sizes
    ",0",
    "0,0",
    "0,10",
    "10,0",
    "!0,0",
    "!0,10",
    "^!0,0",
    "pct:0",
    "pct:0.0",
    "^pct:0",
    "pct:101",  # above 100 without ^
    "pct:100.5",
    "pct:120",  # the spec's example is missing its ^: without it, this is an error
    ",^240",  # the spec's example typo: ^ must lead
    "-10,",
    ",-10",
    "+10,",
    "pct:-5",
    "pct:+5",
    "10.5,",  # floats where integers are required
    ",10.0",
    "1e3,",
    "pct:1e2",
    "pct:nan",
    "pct:inf",
    "nan,",
    "inf,",
    "!10,",  # !w,h needs both
    "!,10",
    "!,",
    "1,1,1",
    "bad-size",
    "pct:a",
    "pct:",
    "pct:50%",
    "2400000,",  # absurd widths and heights
    ",2400000",
    "65536,",
    "^99999999999,",
    "^pct:10001",
    "^pct:" + "9" * 30,
    "１０,",  # full-width digits
    " 10,",
    "!^10,10",
]


@pytest.mark.parametrize("text", BAD_SIZES_V3)
def test_bad_size_is_400_naming_size(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_size(text, 3)
    assert_refused(exc, "size")


@pytest.mark.parametrize("text", ["^max", "^150,", "^,150", "^pct:50", "^10,10", "^!10,10", "0,"])
def test_bad_size_of_image_api_2_is_400(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_size(text, 2)
    assert_refused(exc, "size")


# --- rotation (3.0 section 4.3) ---------------------------------------------------------

ROTATION_CASES = [
    ("0", Rotation(Decimal(0), False)),
    ("180", Rotation(Decimal(180), False)),
    ("90", Rotation(Decimal(90), False)),
    ("22.5", Rotation(Decimal("22.5"), False)),
    ("!0", Rotation(Decimal(0), True)),
    ("!180", Rotation(Decimal(180), True)),
    ("!345", Rotation(Decimal(345), True)),
    ("360", Rotation(Decimal(360), False)),
    ("0.000001", Rotation(Decimal("0.000001"), False)),
    ("!123.45678", Rotation(Decimal("123.45678"), True)),
    ("359.9999999999", Rotation(Decimal("359.9999999999"), False)),
]


@pytest.mark.parametrize(("text", "expected"), ROTATION_CASES)
def test_rotation_forms_from_the_spec_parse(text: str, expected: Rotation) -> None:
    assert parse_rotation(text) == expected


BAD_ROTATIONS = [
    "",
    "!",
    "-1",
    "-0.0000001",
    "+90",
    "360.0000001",
    "361",
    "720",
    "abc",
    "1!",
    "!!4",
    "90!",
    "1e2",
    "1e400",
    "9" * 400,
    "nan",
    "inf",
    "NaN",
    "Infinity",
    " 90",
    "90 ",
    "９０",
    "0x10",
    "90,",
    "5.",
]


@pytest.mark.parametrize("text", BAD_ROTATIONS)
def test_bad_rotation_is_400_naming_rotation(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_rotation(text)
    assert_refused(exc, "rotation")


# --- quality and format (sections 4.4 and 4.5) ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", Quality.DEFAULT),
        ("color", Quality.COLOR),
        ("gray", Quality.GRAY),
        ("bitonal", Quality.BITONAL),
    ],
)
@pytest.mark.parametrize("version", [2, 3])
def test_qualities_parse_in_both_versions(text: str, expected: Quality, version: int) -> None:
    assert parse_quality(text, version) is expected


def test_native_is_the_default_quality_only_in_image_api_2() -> None:
    assert parse_quality("native", 2) is Quality.DEFAULT
    with pytest.raises(BadRequest) as exc:
        parse_quality("native", 3)
    assert_refused(exc, "quality")


@pytest.mark.parametrize("text", ["", "grey", "Gray", "DEFAULT", "colour", "does_not_exist"])
def test_bad_quality_is_400_naming_quality(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_quality(text)
    assert_refused(exc, "quality")


@pytest.mark.parametrize(
    ("text", "expected", "media_type"),
    [
        ("jpg", Format.JPG, "image/jpeg"),
        ("png", Format.PNG, "image/png"),
        ("webp", Format.WEBP, "image/webp"),
        ("tif", Format.TIF, "image/tiff"),
        ("gif", Format.GIF, "image/gif"),
    ],
)
def test_formats_libvips_writes_parse_with_their_media_type(
    text: str, expected: Format, media_type: str
) -> None:
    fmt = parse_format(text)
    assert fmt is expected
    assert fmt.media_type == media_type


@pytest.mark.parametrize("text", ["jp2", "pdf"])
def test_spec_formats_we_cannot_write_are_400_saying_unsupported(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_format(text)
    assert_refused(exc, "format")
    assert "not supported" in exc.value.reason


@pytest.mark.parametrize("text", ["", "JPG", "jpeg", "tiff", "no spaces", "~", "jpg ", "exe"])
def test_bad_format_is_400_naming_format(text: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_format(text)
    assert_refused(exc, "format")


# --- versions ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3", "2.1", 3.0, 1, 4, True, None])
def test_versions_are_the_ints_2_and_3_only(version: object) -> None:
    with pytest.raises(ValueError):
        check_version(version)  # type: ignore[arg-type]


def test_error_reasons_do_not_echo_huge_input() -> None:
    with pytest.raises(BadRequest) as exc:
        parse_region("x" * 5000)
    assert len(exc.value.reason) < 200
    assert str(exc.value).startswith("region: ")
