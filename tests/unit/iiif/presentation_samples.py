"""Sample records and assets for the presentation tests (unit and conformance)."""

from __future__ import annotations

from typing import Any

from services.iiif import domain

BASE = "https://disan.example"
RECORD_ID = "8c1b0a4e-5a2b-5f7e-9a51-1f0f3c9e2d11"
IMAGE, PDF, AUDIO, VIDEO, MODEL = (f"{n}1111111-1111-4111-8111-111111111111" for n in range(1, 6))


def probe(base: str, resource_id: str) -> dict[str, Any]:
    return {"id": f"{base}/iiif/auth/2/probe/asset/{resource_id}", "type": "AuthProbeService2"}


def record(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": RECORD_ID,
        "inventory_number": "HP-TL-0001",
        "heritage_class": "documentary",
        "title": {"vi": "Sắc phong đình Hàng Kênh", "en": "Royal decrees of Hàng Kênh"},
        "description": {"vi": "Bộ sắc phong chữ Hán Nôm.", "en": "Decrees in Hán-Nôm."},
        "rank": {"level": "national", "decision": {"number": "313/VH-QĐ", "date": "1975-04-21"}},
        "unesco": {"list": "memory_of_world", "year": 2024},
        "location": {"lat": 20.8449, "lon": 106.6881, "approximate": True},
        "address": {
            "district_pre2025": "le_chan",
            "province_pre2025": "hai_phong",
            "commune_current": {"vi": "Phường Lê Chân"},
            "province_current": "hai_phong",
        },
        "documentary": {"scripts": ["han_nom"], "extent": {"vi": "21 đạo", "en": "21 decrees"}},
        "rights": {"statement": "https://rightsstatements.org/vocab/InC-EDU/1.0/"},
    }
    return doc | overrides


def assets() -> list[dict[str, Any]]:
    return [
        {"asset_id": IMAGE, "kind": "image", "width": 4000, "height": 3000,
         "metadata": {"section": {"vi": "Đạo thứ nhất", "en": "First decree"}}},
        {"asset_id": PDF, "kind": "pdf", "format": "pdf", "metadata": {},
         "pages": [{"page": 1, "width": 1240, "height": 1754},
                   {"page": 2, "width": 1240, "height": 1754}]},
        {"asset_id": AUDIO, "kind": "audio", "format": "mp3", "mime_type": "audio/mpeg",
         "duration": 61.5, "metadata": {}},
        {"asset_id": VIDEO, "kind": "video", "format": "mp4", "mime_type": "video/mp4",
         "duration": 12.0, "width": 640, "height": 480, "metadata": {}},
        {"asset_id": MODEL, "kind": "model", "format": "glb", "mime_type": "model/gltf-binary",
         "metadata": {}},
    ]  # fmt: skip


LABELS = {
    ("rank", "national"): {"vi": "Di tích quốc gia", "en": "National relic"},
    ("district", "le_chan"): {"vi": "Lê Chân", "en": "Lê Chân"},
    ("province", "hai_phong"): {"vi": "Hải Phòng", "en": "Hải Phòng"},
    ("unesco_list", "memory_of_world"): {"vi": "Ký ức thế giới", "en": "Memory of the World"},
    ("script", "han_nom"): {"vi": "Hán Nôm", "en": "Hán-Nôm"},
}


def every_kind_inputs(level: str = "public", **record_overrides: Any) -> domain.Inputs:
    return domain.Inputs(
        base=BASE,
        record=record(**record_overrides),
        assets=assets(),
        level=level,
        labels=LABELS,
        annotation_pages=[f"{BASE}/iiif/annotations/3/pages/abc"],
        services=[{"id": f"{BASE}/iiif/search/2/{RECORD_ID}", "type": "SearchService2"}],
    )
