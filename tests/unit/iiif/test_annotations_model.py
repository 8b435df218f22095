"""The W3C Web Annotation model: what a client may send, and what the server writes back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from iiif.annotations import (
    MAX_VALUE_CHARS,
    AnnotationError,
    Region,
    Stored,
    Target,
    annotation_collection,
    annotation_page,
    check_inside,
    parse_annotation,
    parse_target,
    parse_transcription,
    parse_xywh,
    serialise,
)
from tests.conformance.presentation import presentation_errors

CANVAS = "https://disan.example/iiif/presentation/3/records/r1/canvas/a1"
ME = "https://disan.example/api/v1/users/42"


def doc(**overrides):
    base = {
        "type": "Annotation",
        "motivation": "commenting",
        "body": {"type": "TextualBody", "value": "Bia đá thời Lê", "language": "vi"},
        "target": f"{CANVAS}#xywh=10,20,30,40",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


# xywh --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fragment", "region"),
    [
        ("xywh=0,0,1,1", Region(0, 0, 1, 1)),
        ("xywh=pixel:5,6,7,8", Region(5, 6, 7, 8)),
        ("10,20,30,40", Region(10, 20, 30, 40)),
    ],
)
def test_xywh_in_pixels_is_parsed(fragment, region):
    assert parse_xywh(fragment) == region


@pytest.mark.parametrize(
    "fragment",
    [
        "xywh=percent:1,2,3,4",
        "xywh=1,2,3",
        "xywh=-1,2,3,4",
        "xywh=1,2,0,4",
        "xywh=a,b,c,d",
        "xywh=1.5,2,3,4",
        "xywh=1,2,3,4,5",
        "t=1,2",
    ],
)
def test_bad_xywh_is_refused(fragment):
    with pytest.raises(AnnotationError) as err:
        parse_xywh(fragment)
    assert err.value.field == "target"


def test_a_region_must_stay_inside_the_canvas():
    check_inside(Region(0, 0, 100, 50), 100, 50)
    check_inside(None, 100, 50)
    for region in (Region(1, 0, 100, 50), Region(0, 1, 100, 50), Region(200, 0, 1, 1)):
        with pytest.raises(AnnotationError, match="outside the canvas"):
            check_inside(region, 100, 50)


# targets -----------------------------------------------------------------------------------


def test_every_accepted_target_form_gives_the_same_canvas_and_region():
    region = Region(10, 20, 30, 40)
    forms = [
        f"{CANVAS}#xywh=10,20,30,40",
        [f"{CANVAS}#xywh=10,20,30,40"],
        {
            "type": "SpecificResource",
            "source": CANVAS,
            "selector": {"type": "FragmentSelector", "value": "xywh=10,20,30,40"},
        },
        {
            "type": "SpecificResource",
            "source": {"id": CANVAS, "type": "Canvas"},
            "selector": [
                {
                    "type": "FragmentSelector",
                    "conformsTo": "http://www.w3.org/TR/media-frags/",
                    "value": "xywh=10,20,30,40",
                }
            ],
        },
    ]
    for form in forms:
        assert parse_target(form) == Target(CANVAS, region)
    assert parse_target({"id": CANVAS, "type": "Canvas"}) == Target(CANVAS)
    assert Target(CANVAS, region).uri == f"{CANVAS}#xywh=10,20,30,40"


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "/relative/canvas",
        [CANVAS, CANVAS],
        [],
        42,
        {"type": "SpecificResource"},
        {
            "type": "SpecificResource",
            "source": CANVAS,
            "selector": {"type": "SvgSelector", "value": "<svg/>"},
        },
        {
            "type": "SpecificResource",
            "source": CANVAS + "#xywh=1,1,1,1",
            "selector": {"type": "FragmentSelector", "value": "xywh=1,1,1,1"},
        },
        {"type": "Manifest", "id": CANVAS},
    ],
)
def test_other_targets_are_refused(target):
    with pytest.raises(AnnotationError) as err:
        parse_target(target)
    assert err.value.field == "target"


# the whole annotation ----------------------------------------------------------------------


def test_a_comment_is_parsed_and_normalised_to_nfc():
    decomposed = "Đe\u0302\u0300n"
    new = parse_annotation(doc(body={"type": "TextualBody", "value": decomposed}), ME)
    assert new.motivation == "commenting"
    assert new.bodies[0].value == "Đền"
    assert new.visibility == "private"
    assert new.target.region == Region(10, 20, 30, 40)


@pytest.mark.parametrize(
    "motivation",
    ["commenting", "tagging", "describing", "transcribing", "oa:commenting", ["tagging"]],
)
def test_the_four_motivations_are_accepted(motivation):
    assert parse_annotation(doc(motivation=motivation), ME).motivation.endswith(
        str(motivation[0] if isinstance(motivation, list) else motivation).removeprefix("oa:")
    )


@pytest.mark.parametrize(
    "motivation", ["painting", "highlighting", None, ["commenting", "tagging"]]
)
def test_other_motivations_are_refused(motivation):
    with pytest.raises(AnnotationError) as err:
        parse_annotation(doc(motivation=motivation), ME)
    assert err.value.field == "motivation"


def test_a_forged_creator_is_refused_and_the_own_one_accepted():
    with pytest.raises(AnnotationError) as err:
        parse_annotation(doc(creator={"id": "https://disan.example/api/v1/users/1"}), ME)
    assert err.value.field == "creator"
    with pytest.raises(AnnotationError):
        parse_annotation(doc(creator=[ME, "someone else"]), ME)
    assert parse_annotation(doc(creator={"id": ME, "type": "Person"}), ME)


def test_server_set_properties_are_ignored_so_a_read_document_can_be_sent_back():
    new = parse_annotation(
        doc(id="https://evil.example/a", created="1999-01-01T00:00:00Z", modified="x"), ME
    )
    assert new.motivation == "commenting"


def test_huge_and_empty_bodies_are_refused():
    too_long = "x" * (MAX_VALUE_CHARS + 1)
    for body in (
        {"type": "TextualBody", "value": too_long},
        {"type": "TextualBody", "value": "  "},
        {"type": "TextualBody", "value": 5},
        [{"type": "TextualBody", "value": "a"}] * 11,
        [],
        {"type": "Image", "id": "https://x.example/a.jpg"},
        {"type": "TextualBody", "value": "a", "format": "application/javascript"},
        {"type": "TextualBody", "value": "a", "language": "not a language!"},
    ):
        with pytest.raises(AnnotationError) as err:
            parse_annotation(doc(body=body), ME)
        assert err.value.field.startswith("body")
    with pytest.raises(AnnotationError):
        parse_annotation(doc(motivation="tagging", body={"value": "t" * 201}), ME)


def test_html_and_script_are_kept_as_text():
    script = "<script>alert('x')</script><b>đậm</b>"
    new = parse_annotation(
        doc(body={"type": "TextualBody", "value": script, "format": "text/html"}), ME
    )
    assert new.bodies[0].value == script and new.bodies[0].format == "text/html"


def test_body_value_and_several_bodies():
    assert parse_annotation(doc(body=None, bodyValue="chú thích"), ME).text == "chú thích"
    new = parse_annotation(
        doc(
            body=[
                {"type": "TextualBody", "value": "a"},
                {"type": "TextualBody", "value": "b", "purpose": "tagging"},
            ]
        ),
        ME,
    )
    assert new.text == "a\nb"


def test_visibility_and_group():
    assert parse_annotation(doc(visibility="public"), ME).visibility == "public"
    group = parse_annotation(doc(visibility="group", group="han-nom-2026"), ME)
    assert group.group == "han-nom-2026"
    for bad in (
        doc(visibility="friends"),
        doc(visibility="group"),
        doc(visibility="group", group="Bad Name"),
        doc(group="han-nom-2026"),
    ):
        with pytest.raises(AnnotationError):
            parse_annotation(bad, ME)


def test_not_an_object_or_not_an_annotation_is_refused():
    for bad in (
        [],
        "x",
        doc(type="AnnotationPage"),
        {k: v for k, v in doc().items() if k != "target"},
    ):
        with pytest.raises(AnnotationError):
            parse_annotation(bad, ME)


def test_a_han_nom_transcription_becomes_one_annotation_per_line():
    lines = parse_transcription(
        {
            "language": "vi-Hani",
            "visibility": "public",
            "lines": [
                {
                    "xywh": "10,10,400,40",
                    "text": "大越史記全書",
                    "reading": "Đại Việt sử ký toàn thư",
                },
                {"xywh": "10,60,400,40", "text": "卷之一"},
            ],
        },
        CANVAS,
        ME,
    )
    assert [line.line for line in lines] == [1, 2]
    assert all(line.motivation == "transcribing" for line in lines)
    assert lines[0].bodies[0].language == "vi-Hani"
    assert lines[0].bodies[1].value == "Đại Việt sử ký toàn thư"
    assert lines[1].target.uri == f"{CANVAS}#xywh=10,60,400,40"
    with pytest.raises(AnnotationError) as err:
        parse_transcription(
            {"lines": [{"xywh": "1,1,1,1", "text": "a"}, {"xywh": "bad", "text": "b"}]}, CANVAS, ME
        )
    assert err.value.field == "lines[1].target"
    with pytest.raises(AnnotationError):
        parse_transcription({"lines": []}, CANVAS, ME)


# serialisation -----------------------------------------------------------------------------


def stored(n: int = 1, **kw) -> Stored:
    moment = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    values = {
        "id": f"https://disan.example/iiif/annotations/3/a{n}",
        "motivation": "commenting",
        "bodies": [{"type": "TextualBody", "value": "Bia đá", "format": "text/plain"}],
        "target": Target(CANVAS, Region(1, 2, 3, 4)),
        "creator_id": ME,
        "creator_name": "Nguyễn Văn A",
        "created": moment,
        "modified": moment,
        "visibility": "public",
    } | kw
    return Stored(**values)


def test_serialised_annotation_names_the_server_recorded_author_and_times():
    out = serialise(stored())
    assert out["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert out["creator"] == {"id": ME, "type": "Person", "name": "Nguyễn Văn A"}
    assert out["created"] == "2026-11-27T08:00:00Z"
    assert out["target"] == f"{CANVAS}#xywh=1,2,3,4"
    assert out["body"]["value"] == "Bia đá"
    again = parse_annotation(json.loads(json.dumps(out)), ME)
    assert again.target == Target(CANVAS, Region(1, 2, 3, 4))


def test_pages_and_containers_validate_against_the_presentation_3_schema():
    container = "https://disan.example/iiif/annotations/3/records/r1/canvases/k"
    items = [serialise(stored(n), context=False) for n in range(3)]
    label = {"vi": ["Chú giải"], "en": ["Annotations"]}
    for page, last in ((0, 1), (1, 1), (0, 0)):
        doc_ = annotation_page(
            f"{container}?page={page}",
            items,
            container=container,
            label=label,
            total=3,
            page=page,
            last_page=last,
            page_url=lambda n: f"{container}?page={n}",
        )
        assert presentation_errors(doc_) == []
    empty = annotation_page(
        f"{container}?page=0", [], container=container, total=0, page=0, last_page=0, page_url=str
    )
    assert presentation_errors(empty) == []
    for total in (0, 3):
        coll = annotation_collection(
            container,
            label=label,
            total=total,
            first=f"{container}?page=0",
            last=f"{container}?page=0",
        )
        assert presentation_errors(coll) == []
    assert presentation_errors(serialise(stored())) == []


def test_the_schema_check_can_fail():
    container = "https://disan.example/c"
    bad = annotation_page(
        container,
        [serialise(stored(), context=False)],
        container=container,
        total=1,
        page=0,
        last_page=0,
        page_url=str,
    )
    bad["startIndex"] = 0  # not a Presentation 3 property of AnnotationPage
    assert presentation_errors(bad)
