"""Hải Phòng's administrative units before and after the 2025 reform, built from two installed
packages (ADR 0046); nothing is fetched over the network.

- ``vietnam-provinces`` lists the 34 provinces and the communes, wards and special zones since
  1 July 2025: the ``province`` terms and Hải Phòng's ``commune_current`` terms.
- ``vietnamadminunits`` holds the units before the reform and which new unit each became: the
  ``commune_pre2025`` terms of Hải Phòng and Hải Dương (merged into Hải Phòng), broader = their
  district, and ``replaced_by`` = the current commune that took the whole old one in (None
  where the old commune was split between several).

Each term keeps both names: an old commune's note says which current commune it became, a
current commune's note lists the old communes it was formed from. Terms are added where
missing (the seed file's and admins' terms are kept); ``added_by`` records the packages and
their versions.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("vietnam-provinces", "vietnamadminunits")
# the old provinces whose communes are Hải Phòng's now, and their codes in the seed vocabulary
OLD_PROVINCES = {"thanhphohaiphong": "hai_phong", "tinhhaiduong": "hai_duong"}
CURRENT_PROVINCE = "hai_phong"
CONVERTER_PROVINCE = "thanhphohaiphong"  # the package's key of today's Hải Phòng
_ENGLISH_TYPE = {"xã": "commune", "phường": "ward", "đặc khu": "special zone", "thị trấn": "town"}


def source() -> str:
    """Where the generated terms come from: the packages and their installed versions."""
    return "; ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)


def key(text: str) -> str:
    """A name folded for matching: lower case, no diacritics (đ → d), letters and digits only."""
    folded = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


def accented_key(text: str) -> str:
    """A name as the converter keys ambiguous ones: lower case, NFC, without spaces."""
    return "".join(unicodedata.normalize("NFC", text.lower()).split())


def code_of(text: str) -> str:
    """A vocabulary code from a name: ``Lý Học`` → ``ly_hoc``."""
    folded = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return "_".join("".join(c if c.isalnum() else " " for c in plain).split())


def _labels(kind: str, name: str) -> dict[str, str]:
    kind = kind.lower()
    return {"vi": f"{kind} {name}", "en": f"{name} {_ENGLISH_TYPE.get(kind, kind)}"}


def _package_files() -> tuple[Path, Path, Path]:
    import vietnam_provinces
    import vietnamadminunits

    units = Path(vietnamadminunits.__file__).parent / "data"
    return (
        Path(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH),
        units / "parser_legacy.json",
        units / "converter_2025.json",
    )


def load() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """The packages' data: current provinces with wards, legacy units, the 2025 conversion."""
    current, legacy, converter = _package_files()
    return (
        json.loads(current.read_text(encoding="utf-8")),
        json.loads(legacy.read_text(encoding="utf-8")),
        json.loads(converter.read_text(encoding="utf-8")),
    )


def build(
    seed: dict[str, list[dict[str, Any]]],
    data: tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The ``province``, ``commune_current`` and ``commune_pre2025`` terms, reusing the codes
    of the seed file's terms for the same units (records use them)."""
    current, legacy, converter = data if data is not None else load()
    provinces = [_province(p) for p in current]
    hai_phong = next(p for p in current if p["codename"] == CURRENT_PROVINCE)
    new_codes = _current_codes(hai_phong["wards"], seed.get("commune_current", []))
    old = _old_communes(legacy, seed)
    successors = _successors(converter, old, new_codes)
    formed_from: dict[str, list[str]] = {}
    pre2025 = []
    for unit in old:
        successor = successors.get(unit["legacy_key"])
        if successor is not None:
            formed_from.setdefault(successor, []).append(unit["labels"]["vi"])
        pre2025.append(_old_term(unit, successor, new_codes))
    communes = [
        _current_term(ward, new_codes[accented_key(ward["name"])], formed_from)
        for ward in hai_phong["wards"]
    ]
    return {"province": provinces, "commune_current": communes, "commune_pre2025": pre2025}


def _province(province: dict[str, Any]) -> dict[str, Any]:
    name = str(province["name"])
    for prefix in ("Thành phố ", "Tỉnh "):
        name = name.removeprefix(prefix)
    return {"code": province["codename"], "labels": {"vi": name, "en": name}, "broader": None}


def _current_codes(
    wards: list[dict[str, Any]], seeded: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each current commune's code and labels by its full name, folded (``phuongaiquoc``) and
    with its diacritics (``xãcẩmgiàng``: the converter's key where folded names collide).
    Codes are the package's short code, with the unit's number where two share one (Cẩm
    Giang and Cẩm Giàng); seeded codes are kept."""
    by_name = {key(t["labels"]["vi"]): t["code"] for t in seeded}
    shorts = [w["short_codename"] for w in wards]
    folded = [key(w["name"]) for w in wards]
    out: dict[str, dict[str, Any]] = {}
    for ward in wards:
        name_key = key(ward["name"])
        short = ward["short_codename"]
        unique = shorts.count(short) == 1
        code = by_name.get(name_key) or (short if unique else f"{short}_{ward['code']}")
        kind = str(ward["division_type"])
        short_name = str(ward["name"])[len(kind) :].strip()
        entry = {"code": code, "labels": _labels(kind, short_name)}
        out[accented_key(ward["name"])] = entry
        if folded.count(name_key) == 1:
            out[name_key] = entry
    return out


def _old_communes(legacy: dict[str, Any], seed: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """The communes of Hải Phòng and Hải Dương before the reform, with their seed district
    codes (units whose district the seed file lacks are left out)."""
    districts = {
        (t.get("broader"), key(t["labels"]["vi"].removeprefix("TP. "))): t["code"]
        for t in seed.get("district", [])
    }
    seeded = {
        (t.get("broader"), key(t["labels"]["vi"])): t["code"] for t in seed["commune_pre2025"]
    }
    units = []
    for province_key, province in OLD_PROVINCES.items():
        names = legacy["DICT_PROVINCE_DISTRICT"][province_key]
        wards = legacy["DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED"][province_key]
        for district_key, district_wards in wards.items():
            short = names.get(district_key, {}).get("districtShort", "")
            district = districts.get((province, key(short)))
            if district is None:
                continue
            for ward_key, ward in district_wards.items():
                if not isinstance(ward.get("wardShort"), str):
                    continue  # a district without communes (Bạch Long Vĩ): NaN in the data
                labels = _labels(ward["wardType"], ward["wardShort"])
                units.append(
                    {
                        "legacy_key": f"{province_key}_{district_key}_{ward_key}",
                        "district": district,
                        "labels": labels,
                        "code": seeded.get((district, key(labels["vi"]))),
                        "short": code_of(ward["wardShort"]),
                    }
                )
    _give_codes(units)
    return units


def _give_codes(units: list[dict[str, Any]]) -> None:
    """Seeded codes stay; others are the short name, or name_district where names repeat."""
    taken = {u["code"] for u in units if u["code"]}
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit["short"]] = counts.get(unit["short"], 0) + 1
    for unit in units:
        if unit["code"]:
            continue
        code = (
            unit["short"] if counts[unit["short"]] == 1 else f"{unit['short']}_{unit['district']}"
        )
        if code in taken:
            code = f"{unit['short']}_{unit['district']}"
        unit["code"] = code[:64]
        taken.add(unit["code"])


def _successors(
    converter: dict[str, Any], old: Iterable[dict[str, Any]], new_codes: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Legacy key of an old commune → code of the current commune that took it in whole."""
    whole: dict[str, str] = {}
    undivided = converter["DICT_PROVINCE_WARD_NO_DIVIDED"][CONVERTER_PROVINCE]
    for new_key, old_keys in undivided.items():
        target = new_codes.get(new_key)
        if target is None:
            continue
        for old_key in old_keys:
            whole[old_key] = target["code"]
    wanted = {u["legacy_key"] for u in old}
    return {k: v for k, v in whole.items() if k in wanted}


def _old_term(
    unit: dict[str, Any], successor: str | None, new_codes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    labels = {c["code"]: c["labels"] for c in new_codes.values()}  # one code, one unit
    if successor is not None:
        new = labels[successor]
        note = {
            "vi": f"Trước 1/7/2025; từ đó thuộc {new['vi']}.",
            "en": f"Before 1 July 2025; since then part of {new['en']}.",
        }
    else:
        note = {
            "vi": "Trước 1/7/2025; từ đó chia cho nhiều đơn vị cấp xã.",
            "en": "Before 1 July 2025; since then divided between several communes.",
        }
    return {
        "code": unit["code"],
        "labels": unit["labels"],
        "broader": unit["district"],
        "note": note,
        "replaced_by": successor,
    }


def _current_term(
    ward: dict[str, Any], coded: dict[str, Any], formed_from: dict[str, list[str]]
) -> dict[str, Any]:
    old = formed_from.get(coded["code"], [])
    note = {
        "vi": "Đơn vị hành chính cấp xã từ ngày 1/7/2025"
        + (f", gồm {', '.join(old)} trước đây." if old else "."),
        "en": "Commune-level unit since 1 July 2025"
        + (f", formed from {', '.join(old)}." if old else "."),
    }
    return {"code": coded["code"], "labels": coded["labels"], "broader": CURRENT_PROVINCE} | {
        "note": note
    }
