"""Search through the gateway: diacritics, facets, geography, cursors, who sees what."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.catalogue.conftest import record_body
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def counts(facet):
    """A facet's values and counts (without their labels)."""
    return [{"value": f["value"], "count": f["count"]} for f in facet]


@pytest.fixture(scope="module")
def seeded(catalogue):
    tag = uuid.uuid4().hex[:6]
    ids = {}
    ids["nghe"] = catalogue.create(
        record_body(
            title={"vi": f"Đền Nghè {tag}", "en": f"Nghè temple {tag}"},
            location={"lat": 20.857, "lon": 106.683, "approximate": True},
            rank={"level": "national"},
        )
    )["id"]
    ids["catba"] = catalogue.create(
        record_body(
            title={"vi": f"Quần đảo Cát Bà {tag}"},
            heritage_type="scenic_landscape",
            rank={"level": "special_national"},
            unesco={"list": "world_heritage", "year": 2023},
            location={"lat": 20.80, "lon": 107.00, "approximate": True},
            address={"district_pre2025": "cat_hai"},
        )
    )["id"]
    ids["restricted"] = catalogue.create(
        record_body(title={"vi": f"Địa bạ Nghè {tag}"}, rank={"level": "city"})
    )["id"]
    ids["draft"] = catalogue.create(record_body(title={"vi": f"Đền Nghè nháp {tag}"}))["id"]
    for key in ("nghe", "catba", "restricted"):
        catalogue.publish(ids[key])
    catalogue.set_policy("record", ids["restricted"], level="restricted", reason="fragile")
    wait_until(
        lambda: catalogue.catalogue_sql(
            "SELECT 1 FROM records WHERE id = CAST(:id AS uuid) AND access_level = 'restricted'",
            id=ids["restricted"],
        )
    )
    return tag, ids


def search(catalogue, token=None, **params):
    answer = catalogue.request("GET", "/api/v1/records", token=token, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("query", ["den nghe", "Đền Nghè", "DEN NGHE", "đền   nghè", "den ngh"])
def test_diacritics_and_case_never_matter(catalogue, seeded, query):
    tag, ids = seeded
    found = search(catalogue, q=f"{query} {tag}" if query != "den ngh" else f"{tag} den ngh")
    assert ids["nghe"] in [i["id"] for i in found["items"]]


def test_the_public_sees_only_published_records_its_policy_allows(catalogue, seeded):
    tag, ids = seeded
    public = {i["id"] for i in search(catalogue, q=tag)["items"]}
    assert ids["nghe"] in public and ids["catba"] in public
    assert ids["restricted"] not in public and ids["draft"] not in public
    researcher = {
        i["id"] for i in search(catalogue, token=catalogue.token_for("researcher"), q=tag)["items"]
    }
    assert ids["restricted"] in researcher and ids["draft"] not in researcher
    staff = search(catalogue, token=catalogue.token_for("cataloguer"), q=tag)
    assert {i["id"] for i in staff["items"]} == set(ids.values())
    assert {"value": "draft", "count": 1} in counts(staff["facets"]["state"])
    assert "state" not in search(catalogue, q=tag)["facets"]


def test_restricted_record_is_401_anonymous_and_200_for_a_researcher(catalogue, seeded):
    _, ids = seeded
    path = f"/api/v1/records/{ids['restricted']}"
    assert catalogue.request("GET", path).status_code == 401
    assert (
        catalogue.request("GET", path, token=catalogue.token_for("researcher")).status_code == 200
    )
    assert catalogue.request("GET", path, token=catalogue.token_for("partner")).status_code == 403


def test_facets_and_filters(catalogue, seeded):
    tag, ids = seeded
    found = search(catalogue, q=tag)
    assert {"value": "tangible_site", "count": 2} in counts(found["facets"]["class"])
    assert {"value": True, "count": 1} in counts(found["facets"]["unesco"])
    assert {"value": "cat_hai", "count": 1} in counts(found["facets"]["district"])
    only = search(catalogue, q=tag, unesco="true", rank="special_national")
    assert [i["id"] for i in only["items"]] == [ids["catba"]]
    facets = catalogue.request("GET", "/api/v1/records/facets", params={"q": tag}).json()
    assert facets["total"] == 2


def test_bounding_box_and_near_point(catalogue, seeded):
    tag, ids = seeded
    box = search(catalogue, q=tag, bbox="20.85,106.6,20.9,106.7")
    assert [i["id"] for i in box["items"]] == [ids["nghe"]]
    near = search(catalogue, q=tag, near="20.80,107.00,3", sort="distance")
    assert [i["id"] for i in near["items"]] == [ids["catba"]]
    assert near["items"][0]["distance_km"] < 0.01
    bad = catalogue.request("GET", "/api/v1/records", params={"bbox": "north"})
    assert bad.status_code == 422


def test_cursor_pagination_visits_every_record_once(catalogue, seeded):
    tag, ids = seeded
    token = catalogue.token_for("admin")
    seen, cursor = [], None
    while True:
        params = {"q": tag, "limit": 1, "sort": "title"} | ({"cursor": cursor} if cursor else {})
        page = search(catalogue, token=token, **params)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids.values()) and len(seen) == len(set(seen))
    bad = catalogue.request("GET", "/api/v1/records", params={"cursor": "garbage"})
    assert bad.status_code == 400


def test_query_syntax_in_user_input_is_inert(catalogue, seeded):
    for query in ["nghe & | ! :* (", "'; DROP TABLE records; --", "\\", "a" * 200]:
        answer = catalogue.request("GET", "/api/v1/records", params={"q": query})
        assert answer.status_code == 200, (query, answer.text)
    assert catalogue.request("GET", "/api/v1/records", params={"q": "a" * 201}).status_code == 422
