"""The administrative units built from the installed packages (ADR 0046): pure, no network."""

from __future__ import annotations

import json
import re

import pytest

from services.catalogue import admin_units
from services.catalogue.dependencies import VOCABULARIES

CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@pytest.fixture(scope="module")
def built():
    seed = json.loads(VOCABULARIES.read_text(encoding="utf-8"))["schemes"]
    return seed, admin_units.build(seed)


def test_34_provinces_and_114_current_communes_with_unique_codes(built):
    _, out = built
    assert len(out["province"]) == 34
    assert len(out["commune_current"]) == 114
    for terms in out.values():
        codes = [t["code"] for t in terms]
        assert len(codes) == len(set(codes))
        assert all(CODE.match(c) for c in codes)
        assert all(list(t["labels"]) == ["vi", "en"] for t in terms)
    cam = {
        t["labels"]["vi"]: t["code"]
        for t in out["commune_current"]
        if "Cẩm Gi" in t["labels"]["vi"]
    }
    assert len(set(cam.values())) == 2  # xã Cẩm Giang and xã Cẩm Giàng stay two units


def test_seeded_codes_are_kept_and_old_communes_name_their_successor(built):
    seed, out = built
    current = {t["code"]: t for t in out["commune_current"]}
    assert {t["code"] for t in seed["commune_current"]} <= set(current)
    old = {t["code"]: t for t in out["commune_pre2025"]}
    assert old["ly_hoc"]["broader"] == "vinh_bao"
    assert old["ly_hoc"]["replaced_by"] == "nguyen_binh_khiem"
    assert "xã Lý Học" in current["nguyen_binh_khiem"]["note"]["vi"]
    districts = {t["code"] for t in seed["district"]}
    assert {t["broader"] for t in out["commune_pre2025"]} <= districts
    assert {t["replaced_by"] for t in old.values()} - {None} <= set(current)


def test_the_source_names_both_packages_and_their_versions():
    source = admin_units.source()
    assert re.fullmatch(r"vietnam-provinces \S+; vietnamadminunits \S+", source)
