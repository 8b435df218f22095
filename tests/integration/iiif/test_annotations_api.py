"""Annotations through the real gateway and iiif service (W3C Web Annotation Protocol)."""

from __future__ import annotations

import json

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from services.iiif import annotations as service_annotations
from tests.conformance.presentation import assert_valid_presentation
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform

pytestmark = pytest.mark.integration

ANNO_TYPE = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'


@pytest.fixture(scope="module")
def iiif(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


@pytest.fixture(scope="module")
def record(iiif):
    """A published record with a 320×200 image: (record id, canvas URL)."""
    return iiif.published_with_image(320, 200)


def container_path(record_id: str, canvas: str | None = None) -> str:
    path = f"/iiif/annotations/3/records/{record_id}"
    return path if canvas is None else f"{path}/canvases/{service_annotations.canvas_key(canvas)}"


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def comment(canvas: str, text: str = "Bia đá thời Lê", **extra):
    return {
        "@context": "http://www.w3.org/ns/anno.jsonld",
        "type": "Annotation",
        "motivation": "commenting",
        "body": {"type": "TextualBody", "value": text, "language": "vi", "format": "text/plain"},
        "target": f"{canvas}#xywh=10,20,100,50",
    } | extra


def post(iiif, record_id, doc, token, canvas=None, **kw):
    return iiif.request(
        "POST",
        container_path(record_id, canvas),
        token=token,
        data=json.dumps(doc),
        headers={"Content-Type": ANNO_TYPE} | kw.pop("headers", {}),
        **kw,
    )


def count_rows(iiif) -> int:
    return int(iiif.iiif_sql("SELECT count(*) FROM annotations")[0][0])


# create and read ---------------------------------------------------------------------------------


def test_a_researcher_annotates_a_canvas_and_the_server_records_who_and_when(iiif, record):
    record_id, canvas = record
    token = iiif.token_for("researcher")
    answer = post(iiif, record_id, comment(canvas, visibility="public"), token)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Content-Type"] == ANNO_TYPE
    assert answer.headers["ETag"] == '"1"'
    anno = answer.json()
    assert answer.headers["Location"] == anno["id"]
    assert anno["creator"]["id"].endswith(f"/api/v1/users/{iiif.user_id('researcher')}")
    assert anno["created"].endswith("Z") and anno["target"] == f"{canvas}#xywh=10,20,100,50"
    assert anno["body"]["value"] == "Bia đá thời Lê"
    read = iiif.request("GET", path_of(anno["id"]))
    assert read.status_code == 200 and read.json() == anno
    assert read.headers["Content-Type"] == ANNO_TYPE
    assert "ldp#Resource" in read.headers["Link"]
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    events = iiif.iiif_outbox("iiif.annotation_created")
    mine = [e for e in events if e["data"]["annotation_id"] == anno["id"].rsplit("/", 1)[1]]
    assert mine and mine[0]["actor"] == f"user:{iiif.user_id('researcher')}"
    assert mine[0]["data"]["visibility"] == "public"
    assert "value" not in json.dumps(mine[0]["data"])  # no text in events


def test_the_canvas_container_pages_are_valid_presentation_3_and_list_public_ones(iiif, record):
    record_id, canvas = record
    created = post(
        iiif,
        record_id,
        comment(canvas, "công khai", visibility="public"),
        iiif.token_for("researcher"),
        canvas=canvas,
    )
    assert created.status_code == 201, created.text
    container = iiif.request("GET", container_path(record_id, canvas))
    assert container.status_code == 200, container.text
    assert "ldp#BasicContainer" in container.headers["Link"]
    assert container.headers["Accept-Post"] == ANNO_TYPE
    coll = container.json()
    assert coll["type"] == "AnnotationCollection" and coll["total"] >= 1
    page = iiif.request("GET", path_of(coll["first"]["id"]))
    assert page.status_code == 200
    doc = page.json()
    assert doc["type"] == "AnnotationPage"
    assert created.json()["id"] in [a["id"] for a in doc["items"]]
    for served in (coll, doc):
        assert_valid_presentation(served)
    again = iiif.request(
        "GET", path_of(coll["first"]["id"]), headers={"If-None-Match": page.headers["ETag"]}
    )
    assert again.status_code == 304


def test_private_annotations_are_read_by_their_author_only(iiif, record):
    record_id, canvas = record
    _, other = iiif.new_user("researcher")
    token = iiif.token_for("researcher")
    created = post(iiif, record_id, comment(canvas, "ghi chú riêng"), token)
    assert created.status_code == 201 and created.json()["visibility"] == "private"
    url = path_of(created.json()["id"])
    hidden = iiif.request("GET", url)
    assert hidden.status_code == 404 and hidden.headers["Access-Control-Allow-Origin"] == "*"
    assert iiif.request("GET", url, token=other).status_code == 404
    assert iiif.request("GET", url, token=token).status_code == 200
    assert iiif.request("GET", url, token=iiif.token_for("admin")).status_code == 200

    def ids(tok):
        page = iiif.request("GET", container_path(record_id, canvas) + "?page=0", token=tok)
        assert page.status_code == 200, page.text
        return [a["id"] for a in page.json()["items"]]

    assert created.json()["id"] in ids(token)
    assert created.json()["id"] not in ids(None)
    assert created.json()["id"] not in ids(other)


def test_group_annotations_are_read_by_the_group_members(iiif, record):
    record_id, canvas = record
    member_id, member = iiif.new_user("researcher")
    outsider_id, outsider = iiif.new_user("researcher")
    author_id, author = iiif.new_user("researcher")
    group = iiif.request(
        "PUT",
        "/api/v1/annotation-groups/han-nom-hp",
        token=iiif.token_for("admin"),
        json={
            "label": {"vi": "Nhóm Hán Nôm", "en": "Hán-Nôm group"},
            "members": [member_id, author_id],
        },
    )
    assert group.status_code == 200, group.text
    assert sorted(group.json()["members"]) == sorted([member_id, author_id])
    denied = iiif.request(
        "PUT",
        "/api/v1/annotation-groups/x1",
        token=member,
        json={"label": {"vi": "x"}, "members": []},
    )
    assert denied.status_code == 403
    anonymous = iiif.request(
        "PUT", "/api/v1/annotation-groups/x1", json={"label": {"vi": "x"}, "members": []}
    )
    assert anonymous.status_code == 401
    mine = iiif.request("GET", "/api/v1/annotation-groups", token=member).json()["items"]
    assert [g["name"] for g in mine] == ["han-nom-hp"]
    assert list(mine[0]["label"]) == ["vi", "en"]  # Vietnamese first, as every language map
    assert iiif.request("GET", "/api/v1/annotation-groups", token=outsider).json()["items"] == []
    created = post(
        iiif, record_id, comment(canvas, "cho nhóm", visibility="group", group="han-nom-hp"), author
    )
    assert created.status_code == 201, created.text
    url = path_of(created.json()["id"])
    assert iiif.request("GET", url, token=member).status_code == 200
    assert iiif.request("GET", url, token=outsider).status_code == 404
    assert iiif.request("GET", url).status_code == 404
    not_member = post(
        iiif, record_id, comment(canvas, visibility="group", group="han-nom-hp"), outsider
    )
    assert not_member.status_code == 403


# edit and delete ---------------------------------------------------------------------------------


def test_edits_need_if_match_and_only_the_author_or_an_admin_may_edit(iiif, record):
    record_id, canvas = record
    token = iiif.token_for("researcher")
    _, other = iiif.new_user("researcher")
    created = post(iiif, record_id, comment(canvas, "bản đầu"), token).json()
    url = path_of(created["id"])
    edited = created | {"body": {"type": "TextualBody", "value": "bản sửa"}}
    headers = {"Content-Type": ANNO_TYPE}

    def put(tok, etag=None):
        extra = {"If-Match": etag} if etag else {}
        return iiif.request("PUT", url, token=tok, data=json.dumps(edited), headers=headers | extra)

    missing = put(token)
    assert missing.status_code == 428 and missing.json()["error"]["code"] == "precondition_required"
    assert put(other, '"1"').status_code in (403, 404)  # private: the other cannot even see it
    ok = put(token, '"1"')
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"' and ok.json()["body"]["value"] == "bản sửa"
    assert ok.json()["created"] == created["created"]
    assert put(token, '"1"').status_code == 412
    assert put(token, "garbage").status_code == 412
    by_admin = put(iiif.token_for("admin"), '"2"')
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["creator"] == created["creator"]  # the author stays the author
    assert iiif.iiif_outbox("iiif.annotation_updated")
    assert iiif.request("DELETE", url, token=token).status_code == 428
    assert iiif.request("DELETE", url, token=token, headers={"If-Match": '"1"'}).status_code == 412
    gone = iiif.request("DELETE", url, token=token, headers={"If-Match": '"3"'})
    assert gone.status_code == 204
    assert iiif.request("GET", url, token=token).status_code == 404
    assert any(
        e["data"]["annotation_id"] == created["id"].rsplit("/", 1)[1]
        for e in iiif.iiif_outbox("iiif.annotation_deleted")
    )


def test_editing_another_users_public_annotation_is_403_and_changes_nothing(iiif, record):
    record_id, canvas = record
    created = post(
        iiif,
        record_id,
        comment(canvas, "của tôi", visibility="public"),
        iiif.token_for("researcher"),
    ).json()
    _, other = iiif.new_user("researcher")
    url = path_of(created["id"])
    hijack = created | {"body": {"type": "TextualBody", "value": "đã bị sửa"}}
    answer = iiif.request(
        "PUT",
        url,
        token=other,
        data=json.dumps(hijack),
        headers={"Content-Type": ANNO_TYPE, "If-Match": '"1"'},
    )
    assert answer.status_code == 403
    delete = iiif.request("DELETE", url, token=other, headers={"If-Match": '"1"'})
    assert delete.status_code == 403
    assert iiif.request("GET", url).json()["body"]["value"] == "của tôi"


# who may write -----------------------------------------------------------------------------------


def test_outsiders_cannot_write(iiif, record):
    record_id, canvas = record
    before = count_rows(iiif)
    assert post(iiif, record_id, comment(canvas), None).status_code == 401
    assert post(iiif, record_id, comment(canvas), iiif.token_for("partner")).status_code == 403
    key = iiif.new_key(roles=["researcher"])["key"]
    by_key = iiif.request(
        "POST",
        container_path(record_id),
        key=key,
        data=json.dumps(comment(canvas)),
        headers={"Content-Type": ANNO_TYPE},
    )
    assert by_key.status_code == 403
    assert count_rows(iiif) == before
    public = post(
        iiif, record_id, comment(canvas, visibility="public"), iiif.token_for("researcher")
    )
    url = path_of(public.json()["id"])
    edit = {
        "data": json.dumps(comment(canvas, "x")),
        "headers": {"Content-Type": ANNO_TYPE, "If-Match": '"1"'},
    }
    assert iiif.request("PUT", url, **edit).status_code == 401
    assert iiif.request("PUT", url, token=iiif.token_for("partner"), **edit).status_code == 403
    assert iiif.request("DELETE", url, headers={"If-Match": '"1"'}).status_code == 401
    assert iiif.request("GET", url).json()["body"]["value"] == "Bia đá thời Lê"
    transcription = container_path(record_id, canvas) + "/transcription"
    lines = {"lines": [{"xywh": "1,1,10,10", "text": "一"}]}
    assert iiif.request("POST", transcription, json=lines).status_code == 401
    assert iiif.request("GET", "/api/v1/annotation-groups").status_code == 401


# bad input ---------------------------------------------------------------------------------------


def test_bad_annotations_are_refused_with_a_reason_and_change_nothing(iiif, record):
    record_id, canvas = record
    other_record, other_canvas = iiif.published_with_image(64, 64)
    token = iiif.token_for("researcher")
    before = count_rows(iiif)
    cases = {
        "another manifest": (comment(other_canvas), 422, "another manifest"),
        "outside": (
            comment(canvas) | {"target": f"{canvas}#xywh=300,150,100,100"},
            422,
            "outside the canvas",
        ),
        "unknown canvas": (comment(canvas + "x"), 422, "no such canvas"),
        "forged creator": (
            comment(canvas) | {"creator": {"id": "https://evil.example/u/1"}},
            422,
            "creator",
        ),
        "long body": (comment(canvas, "chữ" * 5000), 422, "longer than"),
        "motivation": (comment(canvas) | {"motivation": "painting"}, 422, "motivation"),
    }
    for name, (doc, status, reason) in cases.items():
        answer = post(iiif, record_id, doc, token)
        assert answer.status_code == status, (name, answer.text)
        assert reason in answer.json()["error"]["message"], (name, answer.text)
    huge = post(iiif, record_id, comment(canvas, "x" * 70_000), token)
    assert huge.status_code == 413
    not_json = iiif.request(
        "POST",
        container_path(record_id),
        token=token,
        data="<a/>",
        headers={"Content-Type": "text/html"},
    )
    assert not_json.status_code == 415
    wrong_canvas = post(iiif, record_id, comment(canvas), token, canvas=other_canvas)
    assert wrong_canvas.status_code == 404  # that canvas is not a container of this record
    assert post(iiif, other_record, comment(canvas), token).status_code == 422
    assert post(iiif, "not-a-uuid", comment(canvas), token).status_code == 404
    assert count_rows(iiif) == before


def test_html_and_script_are_stored_and_served_as_data(iiif, record):
    record_id, canvas = record
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    created = post(
        iiif,
        record_id,
        comment(canvas, script, visibility="public")
        | {"body": {"type": "TextualBody", "value": script, "format": "text/html"}},
        iiif.token_for("researcher"),
    )
    assert created.status_code == 201, created.text
    read = iiif.request("GET", path_of(created.json()["id"]))
    assert read.json()["body"]["value"] == script
    assert read.headers["Content-Type"].startswith("application/ld+json")
    assert read.headers["X-Content-Type-Options"] == "nosniff"


# paging, transcriptions, the manifest ------------------------------------------------------------


def test_containers_page_and_transcription_lines_come_in_order(iiif, monkeypatch):
    record_id, canvas = iiif.published_with_image(400, 300)
    monkeypatch.setattr(service_annotations, "PAGE_SIZE", 2)
    token = iiif.token_for("researcher")
    lines = {
        "language": "vi-Hani",
        "visibility": "public",
        "lines": [
            {"xywh": "10,10,380,30", "text": "大越史記全書", "reading": "Đại Việt sử ký toàn thư"},
            {"xywh": "10,50,380,30", "text": "卷之一"},
            {"xywh": "10,90,380,30", "text": "外紀"},
        ],
    }
    path = container_path(record_id, canvas) + "/transcription"
    answer = iiif.request("POST", path, token=token, json=lines)
    assert answer.status_code == 201, answer.text
    assert [a["line"] for a in answer.json()["items"]] == [1, 2, 3]
    bad = lines | {"lines": [*lines["lines"], {"xywh": "10,290,380,30", "text": "ngoài"}]}
    refused = iiif.request("POST", path, token=token, json=bad)
    assert refused.status_code == 422 and "lines[3]" in refused.json()["error"]["message"]
    coll = iiif.request("GET", container_path(record_id, canvas)).json()
    assert coll["total"] == 3 and coll["last"]["id"].endswith("?page=1")
    first = iiif.request("GET", path_of(coll["first"]["id"])).json()
    second = iiif.request("GET", path_of(first["next"]["id"])).json()
    assert [a["line"] for a in first["items"] + second["items"]] == [1, 2, 3]
    assert second["prev"]["id"] == coll["first"]["id"] and "next" not in second
    assert first["items"][0]["body"][0]["language"] == "vi-Hani"
    assert iiif.request("GET", container_path(record_id, canvas) + "?page=2").status_code == 404
    assert iiif.request("GET", container_path(record_id, canvas) + "?page=x").status_code == 400
    for doc in (coll, first, second):
        assert_valid_presentation(doc)


def test_public_annotations_appear_in_the_manifest(iiif):
    record_id, canvas = iiif.published_with_image(120, 80)
    created = post(
        iiif,
        record_id,
        comment(canvas, "hiện trong manifest", visibility="public"),
        iiif.token_for("researcher"),
        canvas=canvas,
    )
    assert created.status_code == 201
    page = f"{container_path(record_id, canvas)}?page=0"

    def manifest():
        # the manifest is rebuilt by the service's timer; a read racing it may fail: ask again
        try:
            with ServiceRpcProxy("iiif", {"AMQP_URI": iiif.settings.amqp_uri}) as proxy:
                return json.loads(proxy.get_manifest(record_id)["body"])
        except RemoteError:
            return None

    doc = wait_until(
        lambda: (m := manifest()) and m["items"][0].get("annotations") and m, timeout=15
    )
    # on the Canvas (where viewers such as Mirador look) and on the Manifest
    [on_canvas] = doc["items"][0]["annotations"]
    assert on_canvas["type"] == "AnnotationPage"
    assert on_canvas["id"].endswith(page)
    assert on_canvas["id"] in [a["id"] for a in doc.get("annotations", [])]
    served = iiif.request("GET", path_of(on_canvas["id"]))
    assert created.json()["id"] in [a["id"] for a in served.json()["items"]]
    # deleting the only public annotation takes the page out of the manifest again
    gone = iiif.request(
        "DELETE",
        path_of(created.json()["id"]),
        token=iiif.token_for("researcher"),
        headers={"If-Match": '"1"'},
    )
    assert gone.status_code == 204
    wait_until(lambda: (m := manifest()) and not m["items"][0].get("annotations"), timeout=15)
