"""What an uploader says reaches the canvases, and pages keep their order (issue 15), across
the real pieces: uploads through the gateway (form and presigned multipart, S3 over HTTP), the
media and iiif services over RabbitMQ, the manifest read back over HTTP."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conformance.presentation import presentation_errors
from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform
from tests.integration.media.support import png

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


def manifest(platform, record_id: str, canvases: int) -> dict | None:
    found = platform.request("GET", f"/iiif/presentation/3/records/{record_id}/manifest")
    if found.status_code != 200 or len(found.json()["items"]) != canvases:
        return None
    return found.json()


def canvas_assets(doc: dict) -> list[str]:
    return [c["id"].rsplit("/", 1)[1] for c in doc["items"]]


def test_pages_keep_their_upload_order_carry_their_captions_and_can_be_reordered(platform):
    record_id = str(platform.create(record_body())["id"])
    ids = []
    for n in (1, 2, 3):
        fields = {"caption_vi": f"Tờ {n}", "caption_en": f"Leaf {n}"}
        if n == 2:
            fields |= {"creator": "Nguyễn Văn A", "date": "1924"}
        answer = platform.upload(record_id, png(30 + n, 20), f"p{n}.png", fields=fields)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["asset_id"])
    for asset_id in ids:
        assert platform.wait_done(asset_id)["status"] == "ready"
    platform.publish(record_id)
    doc = wait_until(lambda: manifest(platform, record_id, 3), timeout=30)
    assert presentation_errors(doc) == []
    assert canvas_assets(doc) == ids
    assert [c["label"] for c in doc["items"]] == [
        {"vi": [f"Tờ {n}"], "en": [f"Leaf {n}"]} for n in (1, 2, 3)
    ]
    assert all(list(c["label"]) == ["vi", "en"] for c in doc["items"])
    shown = {m["label"]["en"][0]: m["value"]["vi"][0] for m in doc["items"][1]["metadata"]}
    assert shown == {"Creator": "Nguyễn Văn A", "Date": "1924"}
    token = platform.token_for("cataloguer")
    listed = platform.request("GET", f"/api/v1/records/{record_id}/media", token=token).json()
    assert [(a["asset_id"], a["position"]) for a in listed["items"]] == [
        (a, n) for n, a in enumerate(ids)
    ]

    order = [ids[2], ids[0], ids[1]]
    path = f"/api/v1/records/{record_id}/media/order"
    answer = platform.request("PUT", path, token=token, json={"assets": order})
    assert answer.status_code == 200, answer.text
    assert [a["asset_id"] for a in answer.json()["items"]] == order
    doc = wait_until(
        lambda: (d := manifest(platform, record_id, 3)) and canvas_assets(d) == order and d,
        timeout=30,
    )
    assert doc["items"][0]["label"]["vi"] == ["Tờ 3"]

    for body, reason in (
        ({"assets": order[:2]}, "order_mismatch"),
        ({"assets": [*order, str(uuid.uuid4())]}, "order_mismatch"),
        ({"assets": [order[0], order[0], order[1]]}, "duplicate_asset"),
        ({"assets": ["nope"]}, "invalid_order"),
        ({"assets": []}, "invalid_order"),
    ):
        refused = platform.request("PUT", path, token=token, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["details"]["reason"] == reason
        assert list(refused.json()["error"]["details"]["text"]) == ["vi", "en"]
    assert platform.request("PUT", path, json={"assets": order}).status_code == 401
    broken = platform.request(
        "PUT", path, token=token, data="[", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400, broken.text


def test_a_presigned_upload_keeps_its_caption_and_unknown_metadata_is_refused(platform):
    record_id = str(platform.create(record_body())["id"])
    token = platform.token_for("cataloguer")
    data = png(40, 30)

    def presigned(metadata: dict) -> requests.Response:
        started = platform.request(
            "POST",
            f"/api/v1/records/{record_id}/media/uploads",
            token=token,
            json={"size": len(data), "content_type": "image/png"},
        )
        assert started.status_code == 201, started.text
        plan = started.json()
        put = requests.put(plan["parts"][0]["url"], data=data, timeout=60)
        assert put.status_code == 200, put.text
        return platform.request(
            "POST",
            f"/api/v1/records/{record_id}/media/uploads/{plan['asset_id']}/complete",
            token=token,
            json={"upload_id": plan["upload_id"], "filename": "bia.png", "metadata": metadata},
        )

    done = presigned({"caption": {"vi": "Bìa", "en": "Cover"}, "creator": "Bảo tàng"})
    assert done.status_code == 202, done.text
    asset = platform.wait_done(done.json()["asset_id"])
    assert asset["metadata"]["caption"] == {"vi": "Bìa", "en": "Cover"}
    assert asset["metadata"]["creator"] == "Bảo tàng"

    refused = presigned({"title": "Cover"})
    assert refused.status_code == 422, refused.text
    details = refused.json()["error"]["details"]
    assert (details["field"], details["reason"]) == ("title", "unknown_metadata")
    assert list(details["text"]) == ["vi", "en"]

    form = platform.upload(record_id, png(20, 20), "x.png", fields={"label": "Page"})
    assert form.status_code == 422, form.text
    assert form.json()["error"]["details"]["field"] == "label"
