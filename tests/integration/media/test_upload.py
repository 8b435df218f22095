"""Uploads through the gateway: streamed to S3, registered, announced, processed."""

from __future__ import annotations

import pytest

from services.media.domain import MASTERS_BUCKET
from shared.buckets import DERIVATIVES_BUCKET
from tests.integration.media.conftest import sha
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


def test_jpeg_upload_is_202_then_ready_with_technical_metadata(media):
    record_id = media.new_record()
    data = jpeg(640, 480)
    answer = media.upload(
        record_id,
        data,
        "ảnh đình.jpg",
        fields={"caption_vi": "Đình Kênh", "caption_en": "Kenh communal house", "position": "2"},
        headers={"X-Checksum-SHA256": sha(data)},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "processing"
    asset_id = body["asset_id"]
    assert body["sha256"] == sha(data)
    asset = media.wait_done(asset_id)
    assert asset["status"] == "ready", asset
    assert asset["failure_text"] is None
    assert (asset["width"], asset["height"]) == (640, 480)
    assert asset["levels"] == 2
    assert asset["metadata"]["caption"] == {"vi": "Đình Kênh", "en": "Kenh communal house"}
    assert asset["position"] == 2
    assert asset["technical"]["format"] == "jpeg"
    assert asset["technical"]["bit_depth"] == 8
    assert media.keys(MASTERS_BUCKET, asset_id) == [f"assets/{asset_id}/original.jpg"]
    assert media.store.sha256_of(MASTERS_BUCKET, f"assets/{asset_id}/original.jpg") == sha(data)
    assert sorted(media.keys(DERIVATIVES_BUCKET, asset_id)) == [
        f"assets/{asset_id}/pyramid.tif",
        f"assets/{asset_id}/thumbnail.jpg",
    ]
    ingested = media.media_outbox("media.asset_ingested", asset_id)
    ready = media.media_outbox("media.derivative_ready", asset_id)
    assert len(ingested) == 1 and len(ready) == 1
    assert ready[0]["data"]["width"] == 640
    events = media.request(
        "GET", f"/api/v1/media/{asset_id}/events", token=media.token_for("cataloguer")
    ).json()["items"]
    types = [e["event_type"] for e in events]
    assert types[0] == "ingestion" and "derivative creation" in types
    assert all(e["outcome"] == "success" for e in events)


def test_metadata_fields_are_kept_and_a_records_assets_come_in_page_order(media):
    record_id = media.new_record()
    token = media.token_for("cataloguer")
    fields = {
        "caption_vi": "Trang 2",
        "caption_en": "Page 2",
        "creator": "Bảo tàng Hải Phòng",
        "date": "1887",
        "rights_statement": "http://rightsstatements.org/vocab/InC/1.0/",
        "licence": "CC BY-NC 4.0",
        "position": "2",
    }
    second = media.upload(record_id, jpeg(40, 40), "p2.jpg", fields=fields).json()["asset_id"]
    first = media.upload(record_id, jpeg(40, 40), "p1.jpg", fields={"position": "1"})
    first_id = first.json()["asset_id"]
    asset = media.asset(second)
    assert asset["metadata"] == {
        "caption": {"vi": "Trang 2", "en": "Page 2"},
        "creator": "Bảo tàng Hải Phòng",
        "date": "1887",
        "rights_statement": "http://rightsstatements.org/vocab/InC/1.0/",
        "licence": "CC BY-NC 4.0",
        "position": 2,
    }
    listed = media.request("GET", f"/api/v1/records/{record_id}/media", token=token).json()
    assert [a["asset_id"] for a in listed["items"]] == [first_id, second]
    before = set(media.store.list_keys(MASTERS_BUCKET))
    bad = media.upload(record_id, jpeg(40, 40), "p3.jpg", fields={"position": "third"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"]["field"] == "position"
    assert set(media.store.list_keys(MASTERS_BUCKET)) == before  # the streamed master removed
