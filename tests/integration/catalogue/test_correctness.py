"""Issue 15 over real HTTP: what the catalogue refuses, versions that mean something, search
ranks and facet labels, and refusals in the caller's language (vi by default, en on request)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.catalogue.conftest import record_body

pytestmark = pytest.mark.integration


def post(catalogue, body, **kwargs):
    return catalogue.request(
        "POST", "/api/v1/records", token=catalogue.token_for("cataloguer"), json=body, **kwargs
    )


# refusals -------------------------------------------------------------------------------------


def test_a_commune_outside_the_records_district_is_422(catalogue):
    body = record_body(
        address={"commune_pre2025": {"code": "ly_hoc"}, "district_pre2025": "le_chan"}
    )
    answer = post(catalogue, body)
    assert answer.status_code == 422, answer.text
    reasons = answer.json()["error"]["details"]["address.commune_pre2025"]
    assert any("vinh_bao" in r for r in reasons), reasons
    fine = record_body(
        address={"commune_pre2025": {"code": "ly_hoc"}, "district_pre2025": "vinh_bao"}
    )
    assert post(catalogue, fine).status_code == 201


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rank": "bogus"}, "rank"),
        ({"district": "nowhere"}, "district"),
        ({"class": "bogus"}, "class"),
    ],
)
def test_unknown_search_codes_are_422_naming_the_parameter(catalogue, params, field):
    answer = catalogue.request("GET", "/api/v1/records", params=params)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"]["details"]


def test_an_anonymous_state_filter_is_422_not_published_records(catalogue):
    answer = catalogue.request("GET", "/api/v1/records", params={"state": "draft"})
    assert answer.status_code == 422, answer.text
    assert "state" in answer.json()["error"]["details"]
    staff = catalogue.request(
        "GET", "/api/v1/records", params={"state": "draft"}, token=catalogue.token_for("reviewer")
    )
    assert staff.status_code == 200


def test_a_submit_without_comment_is_accepted_and_a_reject_names_the_comment(catalogue):
    rid = catalogue.create(record_body())["id"]
    path = f"/api/v1/records/{rid}/transitions"
    submitted = catalogue.request(
        "POST", path, token=catalogue.token_for("cataloguer"), json={"action": "submit"}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "in_review"
    rejected = catalogue.request(
        "POST", path, token=catalogue.token_for("reviewer"), json={"action": "reject"}
    )
    assert rejected.status_code == 422, rejected.text
    assert "comment" in rejected.json()["error"]["details"]
    assert "comment" in rejected.json()["error"]["message"]


# versions -------------------------------------------------------------------------------------


def test_an_identical_put_makes_no_new_version(catalogue):
    token = catalogue.token_for("cataloguer")
    body = record_body()
    created = catalogue.create(body)
    path = f"/api/v1/records/{created['id']}"
    again = catalogue.request("PUT", path, token=token, json=body, headers={"If-Match": '"1"'})
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 1
    assert again.headers["ETag"] == '"1"'
    history = catalogue.request("GET", f"{path}/history", token=token).json()["items"]
    assert [h["version"] for h in history] == [1]


def test_diff_without_parameters_compares_the_last_two_versions(catalogue):
    token = catalogue.token_for("cataloguer")
    body = record_body()
    created = catalogue.create(body)
    path = f"/api/v1/records/{created['id']}"
    changed = body | {"title": {"vi": body["title"]["vi"] + " mới"}}
    edited = catalogue.request("PUT", path, token=token, json=changed, headers={"If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    diff = catalogue.request("GET", f"{path}/diff", token=token)
    assert diff.status_code == 200, diff.text
    assert (diff.json()["from"], diff.json()["to"]) == (1, 2)
    bad = catalogue.request("GET", f"{path}/diff", token=token, params={"to": "latest-ish"})
    assert bad.status_code == 422, bad.text
    assert "to" in bad.json()["error"]["details"]


def test_history_names_who_changed_each_version(catalogue):
    token = catalogue.token_for("cataloguer")
    created = catalogue.create(record_body())
    history = catalogue.request(
        "GET", f"/api/v1/records/{created['id']}/history", token=token
    ).json()["items"]
    name = catalogue.users["cataloguer"]["username"]
    assert history[0]["changed_by"].startswith("user:")
    assert history[0]["changed_by_name"] == name


# search ---------------------------------------------------------------------------------------


def test_an_exact_title_ranks_first(catalogue):
    tag = uuid.uuid4().hex[:6]
    longer = catalogue.create(
        record_body(
            title={"vi": f"Sắc phong tại Đền Nghè {tag}"},
            description={"vi": f"Sắc phong của Đền Nghè {tag}, lưu tại Đền Nghè {tag}. " * 5},
        )
    )
    exact = catalogue.create(
        record_body(title={"vi": f"Đền Nghè {tag}"}, description={"vi": "Thờ nữ tướng Lê Chân."})
    )
    catalogue.publish(longer["id"])
    catalogue.publish(exact["id"])
    found = catalogue.request("GET", "/api/v1/records", params={"q": f"Đền Nghè {tag}"}).json()
    assert [i["id"] for i in found["items"]][:2] == [exact["id"], longer["id"]]


def test_facets_carry_labels(catalogue):
    tag = uuid.uuid4().hex[:6]
    rid = catalogue.create(
        record_body(
            title={"vi": f"Đình nhãn {tag}"},
            address={"commune_pre2025": {"code": "ly_hoc"}, "district_pre2025": "vinh_bao"},
        )
    )["id"]
    catalogue.publish(rid)
    facets = catalogue.request("GET", "/api/v1/records/facets", params={"q": tag}).json()["facets"]
    by_value = {(name, f["value"]): f for name, items in facets.items() for f in items}
    assert by_value[("class", "tangible_site")]["label"]["vi"] == "Di tích"
    assert by_value[("rank", "city")]["label"]["en"]
    assert by_value[("district", "vinh_bao")]["label"]["vi"].endswith("Vĩnh Bảo")
    assert by_value[("commune", "ly_hoc")]["label"] == {"vi": "xã Lý Học", "en": "Lý Học commune"}
    assert list(by_value[("has_images", False)]["label"]) == ["vi", "en"]


# refusals in the caller's language ------------------------------------------------------------


def test_catalogue_refusals_answer_in_vietnamese_by_default_and_english_on_request(catalogue):
    path = "/api/v1/records/00000000-0000-0000-0000-000000000000"
    vi_answer = catalogue.request("GET", path)
    en_answer = catalogue.request("GET", path, headers={"Accept-Language": "en"})
    assert vi_answer.headers["Content-Language"] == "vi"
    assert en_answer.headers["Content-Language"] == "en"
    assert "Accept-Language" in en_answer.headers["Vary"]
    vi, en = vi_answer.json()["error"], en_answer.json()["error"]
    assert vi["code"] == en["code"] == "not_found"
    assert vi["message"].startswith("Không tìm thấy"), vi
    assert en["message"].startswith("Not found"), en
    assert "00000000-0000-0000-0000-000000000000" in en["message"]
    both = catalogue.request(
        "GET", path, headers={"Accept-Language": "fr;q=0.9, en;q=0.8, vi;q=0.1"}
    ).json()["error"]
    assert both["message"] == en["message"]
    invalid = post(catalogue, record_body(title={"en": "no vi"}), headers={"Accept-Language": "vi"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["message"].startswith("Dữ liệu không hợp lệ")
    assert "title" in invalid.json()["error"]["details"]


def test_auth_refusals_answer_in_the_callers_language(catalogue):
    vi = catalogue.request("POST", "/api/v1/records", json=record_body())
    en = catalogue.request(
        "POST", "/api/v1/records", json=record_body(), headers={"Accept-Language": "en-GB"}
    )
    assert vi.status_code == en.status_code == 401
    assert vi.json()["error"]["message"].startswith("Cần đăng nhập"), vi.text
    assert en.json()["error"]["message"].startswith("Sign-in required"), en.text
    forbidden = catalogue.request(
        "POST", "/api/v1/records", token=catalogue.token_for("researcher"), json=record_body()
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"].startswith("Không có quyền")


def test_unknown_routes_answer_in_the_callers_language(catalogue):
    vi = catalogue.request("GET", "/api/v1/no-such-route").json()["error"]
    en = catalogue.request(
        "GET", "/api/v1/no-such-route", headers={"Accept-Language": "en"}
    ).json()["error"]
    assert vi["code"] == en["code"] == "not_found"
    assert vi["message"].startswith("Không tìm thấy") and en["message"].startswith("Not found")


# administrative units from the installed packages ---------------------------------------------


def terms(catalogue, scheme):
    answer = catalogue.request("GET", f"/api/v1/vocabularies/{scheme}")
    assert answer.status_code == 200, answer.text
    return {t["code"]: t for t in answer.json()["terms"]}


def test_the_2025_units_come_from_the_packages_with_their_versions(catalogue):
    from importlib import metadata

    current = terms(catalogue, "commune_current")
    assert len(current) == 114
    assert {t["broader"] for t in current.values()} == {"hai_phong"}
    new = current["nguyen_binh_khiem"]
    assert new["labels"] == {"vi": "xã Nguyễn Bỉnh Khiêm", "en": "Nguyễn Bỉnh Khiêm commune"}
    assert "xã Lý Học" in new["note"]["vi"]
    assert f"vietnam-provinces {metadata.version('vietnam-provinces')}" in new["added_by"]
    provinces = terms(catalogue, "province")
    assert len(provinces) == 35  # the 34 of today and Hải Dương, merged into Hải Phòng
    old = terms(catalogue, "commune_pre2025")
    assert len(old) > 300
    assert old["ly_hoc"]["broader"] == "vinh_bao"
    assert old["ly_hoc"]["replaced_by"] == "nguyen_binh_khiem"
    assert "xã Nguyễn Bỉnh Khiêm" in old["ly_hoc"]["note"]["vi"]


def test_a_record_keeps_its_old_and_its_new_commune(catalogue):
    body = record_body(
        address={"commune_pre2025": {"vi": "Xã Lý Học"}, "district_pre2025": "vinh_bao"}
    )
    address = catalogue.create(body)["address"]
    assert address["commune_pre2025"]["code"] == "ly_hoc"
    assert address["commune_current"] == {
        "code": "nguyen_binh_khiem",
        "vi": "xã Nguyễn Bỉnh Khiêm",
        "en": "Nguyễn Bỉnh Khiêm commune",
    }
    assert address["province_current"] == "hai_phong"
    by_new_name = catalogue.create(
        record_body(address={"commune_current": {"vi": "xã Cẩm Giàng"}})
    )["address"]
    assert by_new_name["commune_current"]["vi"] == "xã Cẩm Giàng"
