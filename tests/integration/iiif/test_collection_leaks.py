"""IIIF collections list no record the public may not read (issue 14).

Real access, catalogue, media and iiif services and the gateway over HTTP: a restricted record
with an image is not in ``collections/all`` nor in any collection it belongs to, for an
anonymous client, a partner key (the record itself answers it 403) and a revoked key; Change
Discovery may name its manifest's URL, never its content.
"""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import wait_until
from tests.integration.iiif.annotation_platform import start_annotation_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(settings):
    platform, stop = start_annotation_platform(settings)
    yield platform
    stop()


def _collection_text(platform, name: str, **auth: str) -> str:
    """The collection and its pages as text (what the caller is told)."""
    path = f"/iiif/presentation/3/collections/{name}"
    top = platform.request("GET", path, **auth)
    if top.status_code == 404:
        return top.text
    assert top.status_code == 200, top.text
    texts = [top.text]
    for item in top.json().get("items", []):
        if item.get("type") == "Collection" and "/page/" in item["id"]:
            page = item["id"].split("/iiif/", 1)[1]
            texts.append(platform.request("GET", f"/iiif/{page}", **auth).text)
    return "\n".join(texts)


def test_collections_list_no_restricted_record(platform):
    admin = platform.token_for("admin")
    made = platform.new_key(name="Đối tác bảo tàng", roles=["partner"])
    revoked = platform.new_key(name="Đối tác đã thu hồi", roles=["partner"])
    assert platform.request("DELETE", f"/api/v1/apikeys/{revoked['id']}", token=admin).ok
    record_id, _ = platform.published_with_image(title={"vi": "Sắc phong mật", "en": "Secret"})
    public_id, _ = platform.published_with_image()
    platform.set_policy("record", record_id, level="restricted", reason="hồ sơ mật")
    wait_until(
        lambda: platform.iiif_sql(
            "SELECT 1 FROM manifests WHERE record_id = CAST(:r AS uuid) AND NOT public",
            r=record_id,
        ),
        timeout=15,
    )
    time.sleep(1.0)  # the gateway's caches (0.5 s in tests)
    record = platform.request("GET", f"/api/v1/records/{record_id}", key=made["key"])
    assert record.status_code == 403
    (names,) = platform.iiif_sql(
        "SELECT collections FROM manifests WHERE record_id = CAST(:r AS uuid)", r=record_id
    )[0]
    assert "all" in names
    for name in names:
        for auth in ({}, {"key": made["key"]}):
            text = _collection_text(platform, name, **auth)
            assert record_id not in text and "Sắc phong mật" not in text, (name, auth)
        assert public_id in _collection_text(platform, "all")
        gone = platform.request(
            "GET", f"/iiif/presentation/3/collections/{name}", key=revoked["key"]
        )
        assert gone.status_code == 401 and record_id not in gone.text
    # the manifest, its content search and autocomplete: refused, nothing of the record
    for path in (
        f"/iiif/presentation/3/records/{record_id}/manifest",
        f"/iiif/search/2/records/{record_id}?q=S%E1%BA%AFc",
        f"/iiif/search/2/records/{record_id}/autocomplete?q=S%E1%BA%AFc",
    ):
        for auth, status in (
            ({}, 401),
            ({"key": made["key"]}, 403),
            ({"key": revoked["key"]}, 401),
        ):
            answer = platform.request("GET", path, **auth)
            assert answer.status_code == status, (path, auth, answer.status_code)
            assert "Sắc phong mật" not in answer.text, (path, auth)
    # Change Discovery names the manifest (allowed by the spec), nothing of its content
    changes = platform.request("GET", "/iiif/discovery/1/all-changes/page/0").text
    assert "Sắc phong mật" not in changes
