"""Image information documents and pyramid helpers (Image API 3.0 section 5; 2.1 section 5)."""

import json
from typing import Any

import pytest

from iiif.image import (
    CONTEXT_V2,
    CONTEXT_V3,
    FEATURES_V3,
    LEVEL2_FEATURES_V3,
    PROTOCOL,
    Limits,
    info_json,
    profile_uri,
    pyramid_sizes,
    scale_factors_for,
)

# The image of the spec's examples: 6000 x 4000, limits 3000 x 2000 and 4,000,000 pixels.
SPEC_LIMITS = Limits(max_width=3000, max_height=2000, max_area=4_000_000)
BASE = "https://example.org/image-service"
EXTRAS: dict[str, Any] = {
    "extra_formats": ["webp", "tif", "jpg"],
    "extra_qualities": ["color", "gray", "bitonal", "default"],
    "extra_features": [
        "canonicalLinkHeader",
        "mirroring",
        "profileLinkHeader",
        "rotationArbitrary",
        "sizeUpscaling",
        "regionByPx",
    ],
}


def spec_info(version: int = 3, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "base_uri": BASE,
        "identifier": "abcd1234",
        "width": 6000,
        "height": 4000,
        "tile_width": 512,
        "tile_height": 512,
        "scale_factors": [1, 2, 4, 8, 16],
        "sizes": [(150, 100), (600, 400), (3000, 2000)],
        "limits": SPEC_LIMITS,
        **EXTRAS,
        "version": version,
    }
    arguments.update(overrides)
    return info_json(**arguments)


def test_image_api_3_info_has_the_spec_properties_in_order() -> None:
    doc = spec_info()
    assert list(doc)[0] == "@context"  # "SHOULD appear as the very first key-value pair"
    assert doc == {
        "@context": CONTEXT_V3,
        "id": "https://example.org/image-service/abcd1234",
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": 6000,
        "height": 4000,
        "maxWidth": 3000,
        "maxHeight": 2000,
        "maxArea": 4_000_000,
        # The spec's complete response also lists 3000 x 2000, but that is 6,000,000 pixels,
        # over its own maxArea; servers MUST keep listed sizes within the limits.
        "sizes": [{"width": 150, "height": 100}, {"width": 600, "height": 400}],
        "tiles": [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8, 16]}],
        "extraFormats": ["webp", "tif"],
        "extraQualities": ["color", "gray", "bitonal"],
        "extraFeatures": [
            "canonicalLinkHeader",
            "mirroring",
            "profileLinkHeader",
            "rotationArbitrary",
            "sizeUpscaling",
        ],
    }
    json.dumps(doc)  # plain JSON types only


def test_image_api_3_info_lists_auth_services() -> None:
    service = [
        {
            "id": "https://example.org/auth/probe",
            "type": "AuthProbeService2",
            "service": [{"id": "https://example.org/auth/login", "type": "AuthAccessService2"}],
        }
    ]
    doc = spec_info(service=service)
    assert doc["service"] == service
    assert doc["service"] is not service  # a copy: callers may not mutate the document


def test_image_api_3_info_omits_empty_optional_lists() -> None:
    doc = spec_info(extra_formats=[], extra_qualities=["default"], extra_features=[], sizes=[])
    for key in ("extraFormats", "extraQualities", "extraFeatures", "sizes", "service"):
        assert key not in doc


def test_only_declared_limits_are_advertised() -> None:
    doc = spec_info(limits=Limits(max_width=3000), extra_features=[])
    assert (doc["maxWidth"], "maxHeight" in doc, "maxArea" in doc) == (3000, False, False)


def test_sizes_beyond_the_image_or_the_limits_are_left_out_and_sorted() -> None:
    sizes = [(6000, 4000), (3000, 2000), (150, 100), (150, 100), (8000, 6000), (2500, 2001)]
    doc = spec_info(sizes=sizes, limits=Limits(max_width=3000, max_height=2000))
    assert doc["sizes"] == [{"width": 150, "height": 100}, {"width": 3000, "height": 2000}]
    doc = spec_info(sizes=sizes, limits=Limits(max_width=3000, max_area=4_000_000))
    assert doc["sizes"] == [{"width": 150, "height": 100}]


def test_identifier_is_percent_encoded_in_the_id() -> None:
    doc = spec_info(identifier="ark:/12025/654xz321", base_uri=BASE + "/")
    assert doc["id"] == "https://example.org/image-service/ark:%2F12025%2F654xz321"


def test_image_api_2_info_follows_the_2_1_layout() -> None:
    doc = spec_info(version=2)
    assert list(doc)[0] == "@context"
    assert doc == {
        "@context": CONTEXT_V2,
        "@id": "https://example.org/image-service/abcd1234",
        "protocol": PROTOCOL,
        "width": 6000,
        "height": 4000,
        # The spec's complete response also lists 3000 x 2000, but that is 6,000,000 pixels,
        # over its own maxArea; servers MUST keep listed sizes within the limits.
        "sizes": [{"width": 150, "height": 100}, {"width": 600, "height": 400}],
        "tiles": [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8, 16]}],
        "profile": [
            "http://iiif.io/api/image/2/level2.json",
            {
                "formats": ["webp", "tif"],
                "qualities": ["color", "gray"],  # default and bitonal are in 2.1's level 2
                "supports": [
                    "canonicalLinkHeader",
                    "mirroring",
                    "profileLinkHeader",
                    "rotationArbitrary",
                    "sizeAboveFull",  # 3.0's sizeUpscaling
                    "regionSquare",  # level 2 in 3.0, optional in 2.1
                ],
                "maxWidth": 3000,
                "maxHeight": 2000,
                "maxArea": 4_000_000,
            },
        ],
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"extra_formats": ["jp2"]}, "format"),
        ({"extra_qualities": ["grey"]}, "quality"),
        ({"extra_features": ["teleportation"]}, "feature"),
        ({"extra_features": ["sizeUpscaling"], "limits": Limits()}, "maxWidth or maxArea"),
        (
            {"extra_features": ["sizeUpscaling"], "limits": Limits(1000, allow_upscaling=False)},
            "allow_upscaling",
        ),
        ({"scale_factors": [1, 2, 2]}, "only once"),
        ({"scale_factors": []}, "scale_factors"),
        ({"scale_factors": [0, 1]}, "scale_factors"),
        ({"tile_width": 4096}, "tiles"),
        ({"tile_width": 2048, "tile_height": 2048}, "tiles"),  # 4.2M pixels > maxArea
        ({"width": 0}, "width"),
        ({"tile_height": -1}, "tile_height"),
        ({"version": 4}, "version"),
    ],
)
def test_inconsistent_info_arguments_are_a_programming_error(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        spec_info(**overrides)


def test_extension_features_named_by_uri_are_allowed() -> None:
    doc = spec_info(extra_features=["https://example.org/feature/x"])
    assert doc["extraFeatures"] == ["https://example.org/feature/x"]


def test_level2_features_are_the_spec_feature_names() -> None:
    assert LEVEL2_FEATURES_V3 < FEATURES_V3
    assert len(FEATURES_V3) == 17
    assert {"mirroring", "rotationArbitrary", "sizeUpscaling"}.isdisjoint(LEVEL2_FEATURES_V3)


def test_profile_uri_for_the_link_header() -> None:
    assert profile_uri(3) == "http://iiif.io/api/image/3/level2.json"
    assert profile_uri(2) == "http://iiif.io/api/image/2/level2.json"


# --- pyramid helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "tile", "expected"),
    [
        (6000, 4000, 512, [1, 2, 4, 8, 16]),  # the spec's tiles example
        (512, 512, 512, [1]),
        (513, 100, 512, [1, 2]),
        (100, 513, 512, [1, 2]),
        (1, 1, 256, [1]),
        (1000, 1000, 256, [1, 2, 4]),
        (12000, 9000, 256, [1, 2, 4, 8, 16, 32, 64]),
    ],
)
def test_scale_factors_go_until_the_image_fits_one_tile(
    width: int, height: int, tile: int, expected: list[int]
) -> None:
    factors = scale_factors_for(width, height, tile)
    assert factors == expected
    top = factors[-1]
    assert -(-width // top) <= tile and -(-height // top) <= tile


def test_scale_factors_for_non_square_tiles() -> None:
    assert scale_factors_for(4000, 1000, 1024, 256) == [1, 2, 4]


def test_pyramid_sizes_are_ceiling_divisions_smallest_first() -> None:
    assert pyramid_sizes(6000, 4000, 5) == [
        (375, 250),
        (750, 500),
        (1500, 1000),
        (3000, 2000),
        (6000, 4000),
    ]
    assert pyramid_sizes(1001, 1003, 3) == [(251, 251), (501, 502), (1001, 1003)]
    assert pyramid_sizes(3, 2, 4) == [(1, 1), (2, 1), (3, 2)]  # duplicates collapse


@pytest.mark.parametrize("arguments", [(0, 10, 1), (10, 10, 0), (10, -1, 2)])
def test_pyramid_sizes_need_positive_arguments(arguments: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        pyramid_sizes(*arguments)


def test_pyramid_sizes_feed_info_json_within_limits() -> None:
    sizes = pyramid_sizes(6000, 4000, 5)
    factors = scale_factors_for(6000, 4000, 512)
    doc = spec_info(sizes=sizes, scale_factors=factors)
    # 3000 x 2000 and 6000 x 4000 are over the 4,000,000-pixel maxArea
    assert [(s["width"], s["height"]) for s in doc["sizes"]] == sizes[:-2]
