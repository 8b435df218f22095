"""The gateway's one place per kind of input (ADR 0037): JSON depth and text, control
characters in parameters, truncated multipart, UUID path parameters."""

from __future__ import annotations

import pytest
from werkzeug.sansio.multipart import Data, Epilogue, File, NeedData, Preamble
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.http import (
    MAX_JSON_DEPTH,
    StrictMultipartDecoder,
    check_parameters,
    form_text,
    load_json,
    uuid_param,
)
from shared.errors import BadRequest, NotFound


def reason(exc: pytest.ExceptionInfo[BaseException]) -> str:
    details = getattr(exc.value, "details", None) or {}
    assert set(details["text"]) == {"vi", "en"}
    return str(details["reason"])


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 3_000, 100_000])
def test_json_deeper_than_the_limit_is_400_not_a_recursion_error(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        with pytest.raises(BadRequest) as exc:
            load_json(raw)
        assert reason(exc) == "json_too_deep"


def test_json_up_to_the_limit_is_taken() -> None:
    raw = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert load_json(raw) is not None
    assert load_json('{"title": {"vi": "Đình Hàng Kênh\\n"}}'.encode()) == {
        "title": {"vi": "Đình Hàng Kênh\n"}
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": NaN}', "invalid_json"),
        (b'{"a": -Infinity}', "invalid_json"),
        (b'{"a": ' + b"9" * 5000 + b"}", "invalid_json"),
        (b'{"a": "\xff"}', "invalid_json"),
        (b'{"a": [1,', "invalid_json"),
        (b'{"a": "x\\u0000"}', "invalid_text"),
        (b'{"a\\u0000": 1}', "invalid_text"),
        (b'["\\ud800"]', "invalid_text"),
    ],
)
def test_json_that_would_fail_further_down_is_400(raw: bytes, expected: str) -> None:
    with pytest.raises(BadRequest) as exc:
        load_json(raw)
    assert reason(exc) == expected


def request(query: str) -> Request:
    return Request(EnvironBuilder(path="/x", query_string=query).get_environ())


@pytest.mark.parametrize("query", ["type=a%00b", "actor=%1B[31m", "q=a%0Ab", "a%00=1", "x=%C2%85"])
def test_control_characters_in_query_parameters_are_400(query: str) -> None:
    with pytest.raises(BadRequest) as exc:
        check_parameters(request(query), {})
    assert reason(exc) == "control_character"


def test_control_characters_in_path_parameters_are_404() -> None:
    with pytest.raises(NotFound) as exc:
        check_parameters(request(""), {"record_id": "a\x00b"})
    assert reason(exc) == "control_character"


def test_ordinary_parameters_pass() -> None:
    check_parameters(request("q=%C4%91%C3%ACnh+h%C3%A0ng&limit=5&x=%FF"), {"id": "Đình 1"})


def events(body: bytes) -> list[object]:
    decoder = StrictMultipartDecoder(b"b0undary", max_form_memory_size=None)
    decoder.receive_data(body)
    decoder.receive_data(None)
    seen: list[object] = []
    while not seen or not isinstance(seen[-1], Epilogue):
        event = decoder.next_event()
        assert not isinstance(event, NeedData)
        seen.append(event)
    return seen


HEAD = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'


def test_a_whole_multipart_body_is_read() -> None:
    seen = events(HEAD + b"PNGDATA\r\n--b0undary--\r\n")
    assert [type(e) for e in seen if not isinstance(e, Data)] == [Preamble, File, Epilogue]


@pytest.mark.parametrize(
    "body",
    [
        HEAD + b"PNGDATA" * 100,  # no closing boundary
        HEAD,  # cut after the headers
        b"--b0undary\r\nX: y\r\n\r\nabc\r\n--b0undary--\r\n",  # no Content-Disposition
        b"only a preamble",
    ],
)
def test_a_truncated_or_malformed_multipart_body_is_400(body: bytes) -> None:
    with pytest.raises(BadRequest) as exc:
        events(body)
    assert reason(exc) == "malformed_multipart"


def test_form_fields_with_nul_are_400_and_bad_utf8_is_replaced() -> None:
    assert form_text(b"caf\xc3\xa9 \xff") == "café \ufffd"
    with pytest.raises(BadRequest) as exc:
        form_text(b"a\x00b")
    assert reason(exc) == "invalid_text"


def test_uuid_path_parameters_are_canonical_or_400() -> None:
    assert uuid_param("id", "0B7D3C52-3A8E-4D7F-9A61-5C2F1E0D9B44") == (
        "0b7d3c52-3a8e-4d7f-9a61-5c2f1e0d9b44"
    )
    for value in ("0", "x" * 300, "0b7d3c52-3a8e-4d7f-9a61-5c2f1e0d9b4"):
        with pytest.raises(BadRequest) as exc:
            uuid_param("id", value)
        assert reason(exc) == "invalid_id"
