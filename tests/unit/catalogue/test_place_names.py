"""Communes named rather than coded (ADR 0043, 0046): spelling, then the record's district decide;
a commune outside the record's district is refused; an old commune brings its successor."""

from __future__ import annotations

from services.catalogue import domain

TERMS = {
    "commune_pre2025": {
        "tan_tien_an_lao": {"vi": "xã Tân Tiến", "en": "Tân Tiến commune"},
        "tan_tien_an_duong": {"vi": "xã Tân Tiến", "en": "Tân Tiến commune"},
        "ly_hoc": {"vi": "xã Lý Học", "en": "Lý Học commune"},
    },
    "commune_current": {
        "cam_giang_1": {"vi": "xã Cẩm Giang", "en": "Cẩm Giang commune"},
        "cam_giang_2": {"vi": "xã Cẩm Giàng", "en": "Cẩm Giàng commune"},
        "nguyen_binh_khiem": {"vi": "xã Nguyễn Bỉnh Khiêm", "en": "Nguyễn Bỉnh Khiêm commune"},
    },
}
PARENTS: dict[str, dict[str, str | None]] = {
    "commune_pre2025": {
        "tan_tien_an_lao": "an_lao",
        "tan_tien_an_duong": "an_duong",
        "ly_hoc": "vinh_bao",
    },
    "commune_current": dict.fromkeys(TERMS["commune_current"], "hai_phong"),
}
SUCCESSORS = {"ly_hoc": "nguyen_binh_khiem"}


def resolve(**address):
    return domain.resolve_places({"address": address}, TERMS, PARENTS, SUCCESSORS)


def test_a_name_several_communes_share_is_resolved_by_the_district_or_refused():
    doc, errors = resolve(commune_pre2025={"vi": "Xã Tân Tiến"}, district_pre2025="an_duong")
    assert not errors and doc["address"]["commune_pre2025"]["code"] == "tan_tien_an_duong"
    _, errors = resolve(commune_pre2025={"vi": "Xã Tân Tiến"})
    assert "ambiguous" in errors["address.commune_pre2025"][0]


def test_the_exact_spelling_tells_names_apart_that_differ_only_in_diacritics():
    doc, errors = resolve(commune_current={"vi": "xã Cẩm Giàng"})
    assert not errors and doc["address"]["commune_current"]["code"] == "cam_giang_2"
    doc, errors = resolve(commune_current={"vi": "Cẩm Giang"})
    assert not errors and doc["address"]["commune_current"]["code"] == "cam_giang_1"


def test_a_commune_outside_the_district_is_refused():
    _, errors = resolve(commune_pre2025={"code": "ly_hoc"}, district_pre2025="le_chan")
    assert "vinh_bao" in errors["address.commune_pre2025"][0]


def test_an_old_commune_brings_its_successor_unless_one_is_given():
    doc, _ = resolve(commune_pre2025={"code": "ly_hoc"}, district_pre2025="vinh_bao")
    assert doc["address"]["commune_current"]["code"] == "nguyen_binh_khiem"
    assert doc["address"]["province_current"] == "hai_phong"
    doc, _ = resolve(commune_pre2025={"code": "ly_hoc"}, commune_current={"code": "cam_giang_1"})
    assert doc["address"]["commune_current"]["code"] == "cam_giang_1"
