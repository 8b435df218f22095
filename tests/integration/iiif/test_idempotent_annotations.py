"""An annotation POSTed twice with its Idempotency-Key is one annotation (issue 14); real HTTP,
RabbitMQ, PostgreSQL and S3 under the whole annotation platform."""

from __future__ import annotations

import json
import uuid

import pytest

from services.gateway.annotations import ANNO_TYPE
from tests.integration.iiif.annotation_platform import start_annotation_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def iiif(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


def test_an_annotation_posted_twice_with_its_key_is_one_annotation(iiif):
    record_id, canvas = iiif.published_with_image(320, 200)
    text = f"Bia đá thời Lê {uuid.uuid4().hex[:6]}"
    doc = {
        "@context": "http://www.w3.org/ns/anno.jsonld",
        "type": "Annotation",
        "motivation": "commenting",
        "body": {"type": "TextualBody", "value": text, "language": "vi", "format": "text/plain"},
        "target": f"{canvas}#xywh=10,20,100,50",
    }
    key = str(uuid.uuid4())
    answers = [
        iiif.request(
            "POST",
            f"/iiif/annotations/3/records/{record_id}",
            token=iiif.token_for("researcher"),
            data=json.dumps(doc),
            headers={"Content-Type": ANNO_TYPE, "Idempotency-Key": key},
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201], answers[1].text
    assert answers[1].json() == answers[0].json()
    rows = iiif.iiif_sql("SELECT count(*) FROM annotations WHERE body_text LIKE :t", t=f"%{text}%")
    assert rows[0][0] == 1
