"""Splitting request paths and the identifier policy (Image API 3.0 sections 2, 3 and 9)."""

from decimal import Decimal

import pytest

from iiif.image import (
    MAX_IDENTIFIER_LENGTH,
    BadRequest,
    BaseUriRequest,
    Format,
    ImageRequest,
    InfoRequest,
    NotFound,
    Quality,
    Region,
    RegionKind,
    Rotation,
    Size,
    SizeKind,
    decode_identifier,
    parse_path,
    quote_identifier,
)


def test_image_request_path_splits_into_its_five_parameters() -> None:
    request = parse_path("abcd1234/125,15,120,140/90,/!345/gray.jpg")
    assert request == ImageRequest(
        identifier="abcd1234",
        region=Region(RegionKind.PIXELS, *map(Decimal, (125, 15, 120, 140))),
        size=Size(SizeKind.WIDTH, width=90),
        rotation=Rotation(Decimal(345), mirror=True),
        quality=Quality.GRAY,
        format=Format.JPG,
        version=3,
    )


def test_leading_slash_is_ignored() -> None:
    assert parse_path("/abcd1234/info.json") == InfoRequest("abcd1234", 3)


def test_info_request_path() -> None:
    assert parse_path("abcd1234/info.json", 2) == InfoRequest("abcd1234", 2)


def test_bare_identifier_is_a_base_uri_request() -> None:
    assert parse_path("abcd1234") == BaseUriRequest("abcd1234", 3)


def test_image_api_2_path_keeps_full_and_native() -> None:
    request = parse_path("id1/full/full/0/native.png", 2)
    assert isinstance(request, ImageRequest)
    assert request.size == Size(SizeKind.FULL)
    assert request.quality is Quality.DEFAULT
    assert request.format is Format.PNG
    assert request.version == 2


def test_percent_encoded_parameters_are_decoded_once() -> None:
    request = parse_path("bb157hs6068/full/pct%3A100/270/bitonal.jpg")
    assert isinstance(request, ImageRequest)
    assert request.size == Size(SizeKind.PERCENT, percent=Decimal(100))
    upscaled = parse_path("id/full/%5Emax/0/default.jpg")
    assert isinstance(upscaled, ImageRequest)
    assert upscaled.size == Size(SizeKind.MAX, upscale=True)


# The table of section 9: (identifier, encoded identifier).
SPEC_ENCODING_TABLE = [
    ("id1", "id1"),
    ("bb157hs6068", "bb157hs6068"),
    ("ark:/12025/654xz321", "ark:%2F12025%2F654xz321"),
    ("urn:foo:a123,456", "urn:foo:a123,456"),
    (
        "urn:sici:1046-8188(199501)13:1%3C69:FTTHBI%3E2.0.TX;2-4",
        "urn:sici:1046-8188(199501)13:1%253C69:FTTHBI%253E2.0.TX;2-4",
    ),
    ("https://example.com/?54#a", "https:%2F%2Fexample.com%2F%3F54%23a"),
]


@pytest.mark.parametrize(("identifier", "encoded"), SPEC_ENCODING_TABLE)
def test_identifiers_encode_as_in_the_spec_table(identifier: str, encoded: str) -> None:
    assert quote_identifier(identifier) == encoded


@pytest.mark.parametrize(
    ("identifier", "encoded"), [row for row in SPEC_ENCODING_TABLE if "/" not in row[0]]
)
def test_spec_table_identifiers_without_slashes_decode_back(identifier: str, encoded: str) -> None:
    request = parse_path(f"{encoded}/full/max/0/default.jpg")
    assert isinstance(request, ImageRequest)
    assert request.identifier == identifier


@pytest.mark.parametrize(
    "encoded", [row[1] for row in SPEC_ENCODING_TABLE if "/" in row[0]] + ["a%2Fb", "a%2fb"]
)
def test_identifier_with_an_encoded_slash_is_404(encoded: str) -> None:
    with pytest.raises(NotFound) as exc:
        parse_path(f"{encoded}/full/max/0/default.jpg")
    assert exc.value.status == 404
    assert exc.value.parameter == "identifier"


@pytest.mark.parametrize(
    "path",
    [
        "a/b/full/max/0/default.jpg",  # unencoded slash, or a framework that decoded %2F
        "a/b/c/full/max/0/default.jpg",
        "a/b/info.json",
        "a/b/c/info.json",
    ],
)
def test_extra_path_segments_mean_a_slash_in_the_identifier_and_are_404(path: str) -> None:
    with pytest.raises(NotFound) as exc:
        parse_path(path)
    assert exc.value.parameter == "identifier"


@pytest.mark.parametrize(
    "raw",
    [
        "..",
        "a..b",
        "%2E%2E",
        ".",
        "a%5Cb",  # backslash
        "..%2Fetc%2Fpasswd",
    ],
)
def test_traversal_identifiers_are_404(raw: str) -> None:
    with pytest.raises(NotFound) as exc:
        decode_identifier(raw)
    assert exc.value.parameter == "identifier"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a%00b",  # NUL
        "a%0Ab",  # newline
        "a%09b",  # tab
        "a%7Fb",  # DEL
        "a%C2%85b",  # NEL (C1 control)
        "a%20b",  # space
        "a%C2%A0b",  # no-break space
        "a%E2%80%8Bb",  # zero-width space (format character)
        "a%E2%80%AEb",  # right-to-left override
        "a%EF%BB%BFb",  # byte order mark
        "e%CC%81",  # "e" + combining acute: not NFC
        "a%ZZb",  # malformed escapes
        "a%2",
        "a%",
        "a%FFb",  # not UTF-8
        "a%C3b",
        "a%ED%A0%80b",  # an encoded surrogate
        "x" * (MAX_IDENTIFIER_LENGTH + 1),
        "%C3%A9" * (MAX_IDENTIFIER_LENGTH + 1),
    ],
)
def test_malformed_or_ambiguous_identifiers_are_400(raw: str) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_identifier(raw)
    assert exc.value.status == 400
    assert exc.value.parameter == "identifier"


def test_nfc_unicode_identifiers_are_allowed_and_round_trip() -> None:
    identifier = "Hải_Phòng-đình-Hàng-Kênh"
    encoded = quote_identifier(identifier)
    assert encoded.isascii()
    assert decode_identifier(encoded) == identifier
    request = parse_path(f"{encoded}/info.json")
    assert request == InfoRequest(identifier, 3)


def test_identifier_of_exactly_the_maximum_length_is_allowed() -> None:
    identifier = "x" * MAX_IDENTIFIER_LENGTH
    assert decode_identifier(identifier) == identifier


def test_identifier_is_decoded_exactly_once() -> None:
    # "%2541" is an encoded "%41": the identifier is the text "%41", never "A".
    assert decode_identifier("%2541") == "%41"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("id/", "path"),
        ("id/bogus", "path"),
        ("id/full/max", "path"),
        ("id/full/max/0", "path"),
        ("id/full/max/0/default.jpg/", "identifier"),  # six segments: reads as a slash
        ("id/info.xml", "format"),
        ("id/info", "format"),
        ("id/info.json.gz", "format"),
        ("id/full/max/0/default", "format"),
        ("id/full/max/0/default.", "format"),
        ("id/full/max/0/.jpg", "quality"),
        ("id/full/max/0/default.jpg.png", "quality"),
        ("id/full/max/0/default.jpg?x=1", "path"),
        ("id/full/max/0/default.jpg#frag", "path"),
        ("id/all/max/0/default.jpg", "region"),
        ("id/full/full/0/default.jpg", "size"),
        ("id/full/max/-90/default.jpg", "rotation"),
        ("id/full/max/0/grey.jpg", "quality"),
        ("id/full/max/0/default.jp2", "format"),
        ("id/full/pct%ZZ/0/default.jpg", "size"),
        ("id/" + "x" * 3000, "path"),
    ],
)
def test_malformed_paths_name_the_parameter_at_fault(path: str, parameter: str) -> None:
    with pytest.raises((BadRequest, NotFound)) as exc:
        parse_path(path)
    assert exc.value.parameter == parameter


def test_unencoded_brackets_in_an_identifier_are_refused_or_not_found() -> None:
    # The validator's id_error_unescaped accepts 400 or 404; "[frob]" is a valid name here,
    # so the server answers 404 when it does not exist. Parsing must not choke on it.
    request = parse_path("[frob]/full/max/0/default.jpg")
    assert isinstance(request, ImageRequest)
    assert request.identifier == "[frob]"


def test_version_must_be_an_int() -> None:
    with pytest.raises(ValueError):
        parse_path("id/info.json", "3")  # type: ignore[arg-type]
