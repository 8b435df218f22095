"""Who may read an asset and a record's list of assets: outsiders are refused.

An asset is as visible as its record (a draft's assets are 404 to non-staff, like the draft)
and as its own policy (inherited from the record unless set on the asset). A record's list
leaves out the assets its caller may not read.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_until
from tests.integration.media.support import jpeg

pytestmark = pytest.mark.integration


def _upload(media, record_id, position="1"):
    answer = media.upload(record_id, jpeg(32, 32), "a.jpg", fields={"position": position})
    assert answer.status_code == 202, answer.text
    return answer.json()["asset_id"]


def _get(media, path, role=None):
    return media.request("GET", path, token=media.token_for(role) if role else None)


def _wait_policy_known(media, asset_id):
    """Access learns which record an asset belongs to from ``media.asset_ingested``."""
    wait_until(
        lambda: media.sql("SELECT 1 FROM asset_records WHERE asset_id = :a", a=asset_id),
        timeout=30,
    )


def test_an_asset_of_a_draft_record_is_404_to_non_staff(media):
    record_id = media.new_record()  # a draft
    asset_id = _upload(media, record_id)
    for role in (None, "researcher", "partner"):
        answer = _get(media, f"/api/v1/media/{asset_id}", role)
        assert answer.status_code == 404, (role, answer.text)
        listed = _get(media, f"/api/v1/records/{record_id}/media", role)
        assert listed.status_code == 404, (role, listed.text)
    assert _get(media, f"/api/v1/media/{asset_id}", "reviewer").status_code == 200
    listed = _get(media, f"/api/v1/records/{record_id}/media", "cataloguer")
    assert [a["asset_id"] for a in listed.json()["items"]] == [asset_id]


def test_a_staff_only_record_refuses_its_assets_to_outsiders(media):
    record_id = media.new_record()
    media.publish(record_id)
    asset_id = _upload(media, record_id)
    _wait_policy_known(media, asset_id)
    media.set_policy("record", record_id, level="staff_only", reason="sacred objects")
    for path in (f"/api/v1/media/{asset_id}", f"/api/v1/records/{record_id}/media"):
        anonymous = _get(media, path)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["error"]["code"] == "unauthorized"
        researcher = _get(media, path, "researcher")
        assert researcher.status_code == 403, researcher.text
        assert "sacred objects" in researcher.json()["error"]["message"]
        assert _get(media, path, "cataloguer").status_code == 200


def test_a_record_list_leaves_out_assets_the_caller_may_not_read(media):
    record_id = media.new_record()
    media.publish(record_id)
    open_id = _upload(media, record_id, "1")
    closed_id = _upload(media, record_id, "2")
    _wait_policy_known(media, closed_id)
    media.set_policy("asset", closed_id, level="restricted", reason="living persons")

    def listed(role):
        answer = _get(media, f"/api/v1/records/{record_id}/media", role)
        assert answer.status_code == 200, answer.text
        return [a["asset_id"] for a in answer.json()["items"]]

    assert listed(None) == [open_id]
    assert listed("partner") == [open_id]
    assert listed("researcher") == [open_id, closed_id]
    assert listed("cataloguer") == [open_id, closed_id]
    assert _get(media, f"/api/v1/media/{closed_id}").status_code == 401
    assert _get(media, f"/api/v1/media/{open_id}").status_code == 200


def test_staff_routes_refuse_outsiders(media):
    asset_id = _upload(media, media.new_record())
    for path in (f"/api/v1/media/{asset_id}/events", f"/api/v1/media/{asset_id}/versions"):
        assert _get(media, path).status_code == 401
        assert _get(media, path, "researcher").status_code == 403
        assert _get(media, path, "cataloguer").status_code == 200
    deleted = media.request(
        "DELETE", f"/api/v1/media/{asset_id}", token=media.token_for("reviewer")
    )
    assert deleted.status_code == 403, deleted.text
    record_id = media.new_record()
    started = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads",
        token=media.token_for("researcher"),
        json={"size": 1000},
    )
    assert started.status_code == 403, started.text
    completed = media.request(
        "POST",
        f"/api/v1/records/{record_id}/media/uploads/{asset_id}/complete",
        json={"upload_id": "x"},
    )
    assert completed.status_code == 401, completed.text


def test_an_open_asset_of_a_staff_only_record_stays_closed_to_outsiders(media):
    """The record's policy applies to its assets' JSON as to its list and its IIIF content
    (also while the access service has not yet learnt which record a new asset belongs to)."""
    record_id = media.new_record()
    media.publish(record_id)
    media.set_policy("record", record_id, level="staff_only")
    asset_id = _upload(media, record_id)
    media.set_policy("asset", asset_id, level="public")
    assert _get(media, f"/api/v1/media/{asset_id}").status_code == 401
    assert _get(media, f"/api/v1/media/{asset_id}", "researcher").status_code == 403
    assert _get(media, f"/api/v1/media/{asset_id}", "cataloguer").status_code == 200
