"""Records through the real gateway: create, read, edit with ETags, workflow, history, restore."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def test_cataloguer_creates_a_draft_that_the_public_cannot_see(catalogue):
    record = catalogue.create(record_body())
    assert record["state"] == "draft" and record["version"] == 1
    assert record["title"]["vi"].startswith("Đền thử nghiệm")
    path = f"/api/v1/records/{record['id']}"
    assert catalogue.request("GET", path).status_code == 404
    staff = catalogue.request("GET", path, token=catalogue.token_for("reviewer"))
    assert staff.status_code == 200
    assert staff.headers["ETag"] == '"1"'


def test_every_text_is_nfc_normalised_and_markup_is_kept_as_text(catalogue):
    decomposed = "Đe\u0302\u0300n"  # "Đền" in NFD
    script = "<script>alert('x')</script><b>bold</b>"
    record = catalogue.create(
        record_body(title={"vi": decomposed, "en": "Temple"}, description={"vi": script})
    )
    assert record["title"]["vi"] == "Đền"
    got = catalogue.request(
        "GET", f"/api/v1/records/{record['id']}", token=catalogue.token_for("cataloguer")
    )
    assert got.json()["description"]["vi"] == script
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_the_workflow_follows_roles_and_a_withdrawal_needs_a_comment(catalogue):
    record = catalogue.create(record_body())
    rid = record["id"]
    assert catalogue.move(rid, "publish", "reviewer").status_code == 409  # draft → publish
    assert catalogue.move(rid, "submit", "reviewer").status_code == 403
    assert catalogue.move(rid, "submit", "cataloguer").status_code == 200
    assert catalogue.move(rid, "publish", "cataloguer").status_code == 403
    published = catalogue.move(rid, "publish", "reviewer", "checked against the decision")
    assert published.status_code == 200 and published.json()["state"] == "published"
    assert catalogue.request("GET", f"/api/v1/records/{rid}").status_code == 200
    no_comment = catalogue.move(rid, "withdraw", "reviewer", " ")
    assert no_comment.status_code == 422
    assert "comment" in no_comment.json()["error"]["details"]
    assert catalogue.move(rid, "withdraw", "reviewer", "duplicate").json()["state"] == "withdrawn"
    assert catalogue.request("GET", f"/api/v1/records/{rid}").status_code == 404
    history = catalogue.request(
        "GET", f"/api/v1/records/{rid}/history", token=catalogue.token_for("reviewer")
    ).json()["items"]
    assert [h["action"] for h in history] == ["withdraw", "publish", "submit", "created"]
    assert history[1]["comment"] == "checked against the decision"
    assert all(h["changed_by"].startswith("user:") for h in history)
    types = [e["type"] for e in catalogue.outbox("catalogue.record_published")]
    assert types and catalogue.outbox("catalogue.record_withdrawn")


def test_put_needs_if_match_and_a_stale_etag_is_412(catalogue):
    record = catalogue.create(record_body())
    path = f"/api/v1/records/{record['id']}"
    token = catalogue.token_for("cataloguer")
    body = {k: v for k, v in record.items() if k in record_body()}
    body["title"] = {"vi": "Tên mới", "en": "New name"}
    missing = catalogue.request("PUT", path, token=token, json=body)
    assert missing.status_code == 428
    assert missing.json()["error"]["code"] == "precondition_required"
    first = catalogue.request("PUT", path, token=token, json=body, headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    body["title"] = {"vi": "Tên khác"}
    stale = catalogue.request("PUT", path, token=token, json=body, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    got = catalogue.request("GET", path, token=token).json()
    assert got["title"] == {"vi": "Tên mới", "en": "New name"}


def test_concurrent_edits_never_overwrite_each_other(catalogue):
    import concurrent.futures

    record = catalogue.create(record_body())
    path = f"/api/v1/records/{record['id']}"
    token = catalogue.token_for("cataloguer")
    body = {k: v for k, v in record.items() if k in record_body()}

    def edit(n: int) -> int:
        mine = body | {"title": {"vi": f"Sửa {n}"}}
        return catalogue.request(
            "PUT", path, token=token, json=mine, headers={"If-Match": '"1"'}
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(edit, range(8)))
    assert codes.count(200) == 1 and codes.count(412) == 7
    assert catalogue.request("GET", path, token=token).json()["version"] == 2


def test_history_diff_and_restore(catalogue):
    record = catalogue.create(record_body())
    rid, token = record["id"], catalogue.token_for("cataloguer")
    body = {k: v for k, v in record.items() if k in record_body()}
    changed = body | {"title": {"vi": "Tên sai"}}
    catalogue.request(
        "PUT", f"/api/v1/records/{rid}", token=token, json=changed, headers={"If-Match": '"1"'}
    )
    diff = catalogue.request("GET", f"/api/v1/records/{rid}/diff?from=1&to=2", token=token).json()
    changes = diff["changes"]
    assert {"path": "title.vi", "before": body["title"]["vi"], "after": "Tên sai"} in changes
    assert {"path": "title.en", "before": body["title"]["en"], "after": None} in diff["changes"]
    old = catalogue.request("GET", f"/api/v1/records/{rid}/versions/1", token=token).json()
    assert old["data"]["title"] == body["title"]
    restored = catalogue.request(
        "POST",
        f"/api/v1/records/{rid}/restore",
        token=token,
        json={"version": 1, "comment": "undo"},
        headers={"If-Match": '"2"'},
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["title"] == body["title"] and restored.json()["version"] == 3
    history = catalogue.request("GET", f"/api/v1/records/{rid}/history", token=token).json()
    assert history["items"][0]["action"] == "restored"
    assert (
        catalogue.request("GET", f"/api/v1/records/{rid}/versions/9", token=token).status_code
        == 404
    )


def test_relations_must_point_to_existing_records(catalogue):
    site = catalogue.create(record_body())
    festival = catalogue.create(
        record_body(
            heritage_class="intangible",
            heritage_type="festival",
            rank=None,
            intangible={"domain": "festival", "communities": [{"vi": "Dân làng"}]},
            relations=[{"type": "held_at", "target": site["id"]}],
        )
    )
    assert festival["relations"][0]["target"] == site["id"]
    staff_view = catalogue.request(
        "GET", f"/api/v1/records/{site['id']}", token=catalogue.token_for("reviewer")
    ).json()
    assert staff_view["referenced_by"] == [
        {
            "id": festival["id"],
            "heritage_class": "intangible",
            "title": festival["title"],
            "type": "held_at",
        }
    ]
    catalogue.publish(site["id"])
    public_view = catalogue.request("GET", f"/api/v1/records/{site['id']}").json()
    assert public_view["referenced_by"] == []  # the festival is still a draft
    bad = catalogue.request(
        "POST",
        "/api/v1/records",
        token=catalogue.token_for("cataloguer"),
        json=record_body(relations=[{"type": "held_at", "target": str(uuid.uuid4())}]),
    )
    assert bad.status_code == 422 and "relations" in bad.json()["error"]["details"]


def test_events_are_announced_through_the_outbox(catalogue):
    record = catalogue.create(record_body())
    created = wait_until(
        lambda: [
            e
            for e in catalogue.outbox("catalogue.record_created")
            if e["data"]["record_id"] == record["id"]
        ]
    )
    assert created[0]["data"]["inventory_number"] == record["inventory_number"]
    sent = catalogue.catalogue_sql(
        "SELECT sent_at FROM outbox WHERE envelope->'data'->>'record_id' = :id", id=record["id"]
    )
    wait_until(
        lambda: all(
            r[0] is not None
            for r in catalogue.catalogue_sql(
                "SELECT sent_at FROM outbox WHERE envelope->'data'->>'record_id' = :id",
                id=record["id"],
            )
        )
    )
    assert sent


def test_admin_deletes_a_draft_and_the_history_stays(catalogue):
    record = catalogue.create(record_body())
    path = f"/api/v1/records/{record['id']}"
    admin = catalogue.token_for("admin")
    assert catalogue.request("DELETE", path, token=admin).status_code == 428
    gone = catalogue.request("DELETE", path, token=admin, headers={"If-Match": '"1"'})
    assert gone.status_code == 200, gone.text
    assert catalogue.request("GET", path, token=admin).status_code == 404
    assert catalogue.outbox("catalogue.record_deleted")
    history = catalogue.request("GET", f"{path}/history", token=admin).json()["items"]
    assert history[0]["action"] == "deleted"
