"""Canonical URI syntax (Image API 3.0 section 4.8; 2.1 section 4.7)."""

import pytest

from iiif.image import (
    CanonicalPath,
    ImageRequest,
    Limits,
    ResolvedRequest,
    canonical,
    canonical_link_header,
    canonical_uri,
    parse_path,
    resolve,
)

NO_LIMITS = Limits()


def resolved(
    path: str,
    width: int = 300,
    height: int = 200,
    limits: Limits = NO_LIMITS,
    version: int = 3,
) -> ResolvedRequest:
    parsed = parse_path(f"id/{path}", version)
    assert isinstance(parsed, ImageRequest)
    return resolve(parsed, width, height, limits)


# (request path, image size, limits, canonical 3.0, canonical 2.1)
CANONICAL_TABLE = [
    # region: "full" if the full image is requested, otherwise x,y,w,h
    ("full/max/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("0,0,300,200/max/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("pct:0,0,100,100/max/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("0,0,5000,5000/max/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("square/max/0/default.jpg", (300, 200), NO_LIMITS, "50,0,200,200/max/0/default.jpg",
     "50,0,200,200/full/0/default.jpg"),
    ("square/max/0/default.jpg", (200, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),  # 2.1: "including a square region of a square image"
    ("pct:41.6,7.5,40,70/max/0/default.jpg", (300, 200), NO_LIMITS,
     "125,15,120,140/max/0/default.jpg", "125,15,120,140/full/0/default.jpg"),
    ("125,15,200,200/max/0/default.jpg", (300, 200), NO_LIMITS,
     "125,15,175,185/max/0/default.jpg", "125,15,175,185/full/0/default.jpg"),
    # size: max without upscaling, ^max, else w,h or ^w,h (3.0); full, w, or w,h (2.1)
    ("full/300,200/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("full/pct:100/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("full/max/0/default.jpg", (300, 200), Limits(max_width=200), "full/max/0/default.jpg",
     "full/200,/0/default.jpg"),  # 2.1's deprecation note: w, is canonical for a limited max
    ("full/200,133/0/default.jpg", (300, 200), Limits(max_width=200), "full/max/0/default.jpg",
     "full/200,/0/default.jpg"),
    ("full/150,/0/default.jpg", (300, 200), NO_LIMITS, "full/150,100/0/default.jpg",
     "full/150,/0/default.jpg"),
    ("full/,100/0/default.jpg", (300, 200), NO_LIMITS, "full/150,100/0/default.jpg",
     "full/150,/0/default.jpg"),
    ("full/pct:50/0/default.jpg", (300, 200), NO_LIMITS, "full/150,100/0/default.jpg",
     "full/150,/0/default.jpg"),
    ("full/!150,150/0/default.jpg", (300, 200), NO_LIMITS, "full/150,100/0/default.jpg",
     "full/150,/0/default.jpg"),
    ("full/225,100/0/default.jpg", (300, 200), NO_LIMITS, "full/225,100/0/default.jpg",
     "full/225,100/0/default.jpg"),  # distorted: w,h in both
    ("full/^360,/0/default.jpg", (300, 200), NO_LIMITS, "full/^360,240/0/default.jpg",
     "full/360,/0/default.jpg"),
    ("full/^max/0/default.jpg", (300, 200), Limits(max_width=360), "full/^max/0/default.jpg",
     "full/360,/0/default.jpg"),
    ("full/^360,240/0/default.jpg", (300, 200), Limits(max_width=360),
     "full/^max/0/default.jpg", "full/360,/0/default.jpg"),
    ("full/^max/0/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),  # nothing to upscale to
    ("full/^150,/0/default.jpg", (300, 200), NO_LIMITS, "full/150,100/0/default.jpg",
     "full/150,/0/default.jpg"),  # ^ without upscaling is not canonical
    ("full/^360,360/0/default.jpg", (300, 200), NO_LIMITS, "full/^360,360/0/default.jpg",
     "full/360,360/0/default.jpg"),
    ("125,15,120,140/90,/!345/gray.jpg", (300, 200), NO_LIMITS,
     "125,15,120,140/90,105/!345/gray.jpg", "125,15,120,140/90,/!345/gray.jpg"),
    # rotation: ! if mirrored, then an integer if possible, else a trimmed decimal
    ("full/max/22.50/default.png", (300, 200), NO_LIMITS, "full/max/22.5/default.png",
     "full/full/22.5/default.png"),
    ("full/max/.5/default.png", (300, 200), NO_LIMITS, "full/max/0.5/default.png",
     "full/full/0.5/default.png"),
    ("full/max/090.000/default.jpg", (300, 200), NO_LIMITS, "full/max/90/default.jpg",
     "full/full/90/default.jpg"),
    ("full/max/!0/default.jpg", (300, 200), NO_LIMITS, "full/max/!0/default.jpg",
     "full/full/!0/default.jpg"),
    ("full/max/!180.0/default.jpg", (300, 200), NO_LIMITS, "full/max/!180/default.jpg",
     "full/full/!180/default.jpg"),
    ("full/max/360/default.jpg", (300, 200), NO_LIMITS, "full/max/0/default.jpg",
     "full/full/0/default.jpg"),
    ("full/max/0.0000001/default.jpg", (300, 200), NO_LIMITS,
     "full/max/0.0000001/default.jpg", "full/full/0.0000001/default.jpg"),
    # quality and format: as requested; format always explicit
    ("full/max/0/color.png", (300, 200), NO_LIMITS, "full/max/0/color.png",
     "full/full/0/color.png"),
    ("full/max/0/bitonal.tif", (300, 200), NO_LIMITS, "full/max/0/bitonal.tif",
     "full/full/0/bitonal.tif"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "image", "limits", "v3", "v2"), CANONICAL_TABLE)
def test_canonical_path_follows_the_spec_rules(
    path: str, image: tuple[int, int], limits: Limits, v3: str, v2: str
) -> None:
    result = resolved(path, *image, limits=limits)
    assert str(canonical(result, 3)) == v3
    assert str(canonical(result, 2)) == v2


@pytest.mark.parametrize(("path", "image", "limits", "v3", "v2"), CANONICAL_TABLE)
def test_canonical_paths_are_fixed_points(
    path: str, image: tuple[int, int], limits: Limits, v3: str, v2: str
) -> None:
    for version, text in ((3, v3), (2, v2)):
        again = resolved(text, *image, limits=limits, version=version)
        assert str(canonical(again, version)) == text


def test_image_api_2_requests_canonicalise_in_image_api_2_syntax() -> None:
    result = resolved("full/full/0/native.jpg", version=2)
    assert str(canonical(result, 2)) == "full/full/0/default.jpg"
    assert str(canonical(result, 3)) == "full/max/0/default.jpg"


def test_canonical_exposes_each_parameter() -> None:
    result = resolved("pct:41.6,7.5,40,70/,70/!22.5/gray.webp")
    assert canonical(result) == CanonicalPath(
        region="125,15,120,140", size="60,70", rotation="!22.5", quality="gray", format="webp"
    )


def test_spec_link_header_example() -> None:
    # "Link: <http://iiif.example.com/server/full/400,300/0/default.jpg>;rel="canonical""
    parsed = parse_path("server/full/pct:50/0/default.jpg")
    assert isinstance(parsed, ImageRequest)
    result = resolve(parsed, 800, 600, NO_LIMITS)
    assert canonical_link_header("http://iiif.example.com/", result) == (
        '<http://iiif.example.com/server/full/400,300/0/default.jpg>;rel="canonical"'
    )


def test_canonical_uri_encodes_the_identifier() -> None:
    parsed = parse_path("urn:foo:a123,456%3F%23%40%25/full/max/0/default.jpg")
    assert isinstance(parsed, ImageRequest)
    assert parsed.identifier == "urn:foo:a123,456?#@%"
    result = resolve(parsed, 10, 10, NO_LIMITS)
    assert canonical_uri("https://h/iiif/image/3", result) == (
        "https://h/iiif/image/3/urn:foo:a123,456%3F%23%40%25/full/max/0/default.jpg"
    )


def test_equivalent_requests_share_one_canonical_path() -> None:
    paths = [
        "full/pct:50/0/default.jpg",
        "full/150,/0/default.jpg",
        "full/,100/0/default.jpg",
        "full/!150,150/0/default.jpg",
        "0,0,300,200/150,100/360/default.jpg",
        "pct:0,0,100,100/^150,100/0/default.jpg",
    ]
    assert {str(canonical(resolved(path))) for path in paths} == {"full/150,100/0/default.jpg"}
