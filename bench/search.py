"""Catalogue search latency and CSV import throughput over 100,000 generated records.

Run:  .venv/bin/python bench/search.py [--records 100000] [--queries 400] [--json results.json]

Generates vi/en records (titles and descriptions with Vietnamese diacritics, the four classes,
ranks, districts, coordinates around Hải Phòng), imports them as one CSV through the catalogue's
importer (validation, vocabulary checks, versions and outbox events included: the path
``disan import`` takes), publishes them, then times the catalogue's search function for
diacritic-free queries with two facet filters, as an anonymous caller (published and public
only, facets computed). Times are measured in-process: SQL plus Python, without RPC or HTTP.
Everything happens in a throwaway schema that is dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from services.catalogue import importer, search  # noqa: E402
from services.catalogue.cli import operator  # noqa: E402
from services.catalogue.dependencies import seed_vocabularies  # noqa: E402
from shared.config import load_settings  # noqa: E402
from shared.db import make_engine, migrate, unit_of_work  # noqa: E402
from shared.principals import ANONYMOUS  # noqa: E402

KINDS = {
    "tangible_site": [
        ("Đền", "temple", "temple"),
        ("Chùa", "pagoda", "pagoda"),
        ("Đình", "communal house", "communal_house"),
        ("Miếu", "shrine", "temple"),
        ("Di tích", "historic site", "historic_site"),
    ],
    "intangible": [
        ("Lễ hội", "festival", "festival"),
        ("Hát", "singing", "performing_art"),
        ("Nghề", "craft", "craft"),
    ],
    "museum_object": [
        ("Tượng", "statue", "sculpture"),
        ("Bình gốm", "ceramic vase", "ceramics"),
        ("Trống đồng", "bronze drum", "artefact"),
    ],
    "documentary": [
        ("Sắc phong", "royal ordination", "royal_ordination"),
        ("Hương ước", "village covenant", "village_covenant"),
        ("Địa bạ", "land register", "land_register"),
    ],
}
PLACES = [
    "Nghè",
    "Hàng Kênh",
    "Dư Hàng",
    "Vĩnh Bảo",
    "Kiến Thụy",
    "Thủy Nguyên",
    "Đồ Sơn",
    "Cát Hải",
    "Tiên Lãng",
    "An Lão",
    "Lý Học",
    "Nhân Hòa",
    "Cổ Trai",
    "Trà Phương",
    "Bảo Hà",
    "Minh Đức",
    "Nam Hải",
    "An Biên",
    "Hồng Bàng",
    "Lê Chân",
    "Phù Liễn",
    "Quán Toan",
    "Đông Khê",
    "Vạn Mỹ",
    "Cấm",
    "Thiên Hương",
    "Hoa Động",
    "Tràng Kênh",
]
DISTRICTS = [
    "hong_bang",
    "ngo_quyen",
    "le_chan",
    "hai_an",
    "kien_an",
    "do_son",
    "duong_kinh",
    "thuy_nguyen",
    "an_duong",
    "an_lao",
    "kien_thuy",
    "tien_lang",
    "vinh_bao",
    "cat_hai",
    "chi_linh",
    "kinh_mon",
    "nam_sach",
    "thanh_ha",
]
RANKS = [
    "special_national",
    "national",
    "national",
    "city",
    "city",
    "city",
    "inventoried",
    "inventoried",
    "inventoried",
    "inventoried",
]
WORDS_VI = [
    "thờ",
    "làng",
    "cổ",
    "thế kỷ",
    "kiến trúc",
    "gỗ lim",
    "mái ngói",
    "lễ hội",
    "truyền thống",
    "nhân dân",
    "tu bổ",
    "triều",
    "nhà Mạc",
    "nhà Lý",
    "hoa văn",
    "rồng",
    "bia đá",
    "sắc phong",
    "tín ngưỡng",
    "cộng đồng",
]
WORDS_EN = [
    "worship",
    "village",
    "old",
    "century",
    "architecture",
    "ironwood",
    "tiled roof",
    "festival",
    "traditional",
    "people",
    "restored",
    "dynasty",
    "Mạc",
    "Lý",
    "motifs",
    "dragon",
    "stele",
    "ordination",
    "belief",
    "community",
]
COLUMNS = [
    "inventory_number",
    "heritage_class",
    "heritage_type",
    "title.vi",
    "title.en",
    "description.vi",
    "description.en",
    "rank.level",
    "unesco.list",
    "unesco.year",
    "intangible.domain",
    "museum_object.holding_institution.vi",
    "documentary.scripts",
    "location.lat",
    "location.lon",
    "location.approximate",
    "address.district_pre2025",
    "address.province_pre2025",
    "sources",
]
DOMAIN_OF = {"festival": "festival", "performing_art": "performing_art", "craft": "craft"}


def generate(n: int, seed: int = 7) -> str:
    """A CSV of ``n`` valid records."""
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    classes = list(KINDS)
    for i in range(n):
        cls = rnd.choices(classes, weights=[5, 2, 2, 1])[0]
        vi_kind, en_kind, htype = rnd.choice(KINDS[cls])
        place = rnd.choice(PLACES)
        words = rnd.sample(range(len(WORDS_VI)), 6)
        row = dict.fromkeys(COLUMNS, "")
        row |= {
            "inventory_number": f"B-{i:07d}",
            "heritage_class": cls,
            "heritage_type": htype,
            "title.vi": f"{vi_kind} {place} {i % 97}",
            "title.en": f"{place} {en_kind} {i % 97}",
            "description.vi": f"{vi_kind} {place}: " + ", ".join(WORDS_VI[w] for w in words) + ".",
            "description.en": f"The {en_kind} of {place}: "
            + ", ".join(WORDS_EN[w] for w in words)
            + ".",
            "location.lat": f"{20.6 + rnd.random() * 0.5:.5f}",
            "location.lon": f"{106.3 + rnd.random() * 0.8:.5f}",
            "location.approximate": "true",
            "address.district_pre2025": rnd.choice(DISTRICTS),
            "address.province_pre2025": "hai_phong",
            "sources": json.dumps([{"citation": "generated for the benchmark"}]),
        }
        if cls == "tangible_site":
            row["rank.level"] = rnd.choice(RANKS)
        if cls == "intangible":
            row["intangible.domain"] = DOMAIN_OF[htype]
        if cls == "museum_object":
            row["museum_object.holding_institution.vi"] = "Bảo tàng Hải Phòng"
        if cls == "documentary":
            row["documentary.scripts"] = '["han_nom"]'
        if rnd.random() < 0.01:
            row["unesco.list"], row["unesco.year"] = "world_heritage", "2023"
        writer.writerow([row[c] for c in COLUMNS])
    return out.getvalue()


def process_cpu() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a PostgreSQL backend, if it runs on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


QUERIES = [
    ({"q": "den", "class": "tangible_site", "rank": "national"}),
    ({"q": "chua vinh bao", "class": "tangible_site", "district": "vinh_bao"}),
    ({"q": "dinh hang kenh", "rank": "city", "district": "le_chan"}),
    ({"q": "le hoi do son", "class": "intangible", "district": "do_son"}),
    ({"q": "sac phong", "class": "documentary", "district": "kien_thuy"}),
    ({"q": "mieu co trai", "class": "tangible_site", "rank": "inventoried"}),
    ({"q": "tuong nha mac", "class": "museum_object", "district": "kien_thuy"}),
    ({"q": "nghe", "class": "tangible_site", "unesco": "false"}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the bench schema")
    args = parser.parse_args()

    from bench import bench_env
    from disan.cli.provision import provision

    env = bench_env()
    settings = load_settings(env=env)
    provision(settings)
    schema = "bench_catalogue_" + uuid.uuid4().hex[:6]
    migrate(settings.database_url, schema, ROOT / "services" / "catalogue" / "migrations")
    engine = make_engine(settings.database_url, schema, pool_size=2)
    results: dict[str, Any] = {
        "records": args.records,
        "queries": args.queries,
        "cpus": os.cpu_count(),
    }
    try:
        seed_vocabularies(engine)
        t0 = time.perf_counter()
        content = generate(args.records)
        results["generate_s"] = time.perf_counter() - t0
        results["csv_mb"] = len(content.encode()) / 1e6

        with unit_of_work(engine) as db:
            backend = db.execute("SELECT pg_backend_pid()").scalar_one()
            cpu0, pg0 = process_cpu(), backend_cpu(backend)
            t0 = time.perf_counter()
            report = importer.run_import(db, operator(), content, "csv", dry_run=False)
        import_s = time.perf_counter() - t0
        cpu1, pg1 = process_cpu(), backend_cpu(backend)
        assert report["created"] == args.records, report
        results["import_s"] = import_s
        results["import_rows_per_s"] = args.records / import_s
        # CPU per row: meaningful on a shared machine, where wall-clock time is not
        results["import_cpu_us_per_row"] = (cpu1 - cpu0) / args.records * 1e6
        if pg0 is not None and pg1 is not None:
            results["import_pg_backend_cpu_us_per_row"] = (pg1 - pg0) / args.records * 1e6
        results["load_average"] = os.getloadavg()[0]

        t0 = time.perf_counter()
        with unit_of_work(engine) as db:
            report = importer.run_import(
                db,
                operator(),
                content[: content.rindex("\n", 0, 2_000_000) + 1],
                "csv",
                dry_run=True,
            )
        results["dry_run_rows_per_s"] = report["rows"] / (time.perf_counter() - t0)

        with engine.begin() as conn:
            conn.execute(text("UPDATE records SET state = 'published'"))
            conn.execute(
                text("UPDATE records SET access_level = 'restricted' WHERE random() < 0.02")
            )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE records")
            )

        from shared.record_schemas import SearchSchema

        parsed = [SearchSchema().load(q) for q in QUERIES]
        for q in parsed:  # warm caches
            with unit_of_work(engine) as db:
                search.search(db, q, ANONYMOUS, datetime.now(UTC))
        timings: list[float] = []
        totals: dict[str, int] = {}
        for i in range(args.queries):
            query = parsed[i % len(parsed)]
            t0 = time.perf_counter()
            with unit_of_work(engine) as db:
                page = search.search(db, query, ANONYMOUS, datetime.now(UTC))
            timings.append((time.perf_counter() - t0) * 1000)
            totals[QUERIES[i % len(QUERIES)]["q"]] = page["total"]
        results |= {
            "search_p50_ms": percentile(timings, 0.50),
            "search_p95_ms": percentile(timings, 0.95),
            "search_p99_ms": percentile(timings, 0.99),
            "search_mean_ms": statistics.fmean(timings),
            "matches_per_query": totals,
        }
    finally:
        engine.dispose()
        if not args.keep:
            admin = make_engine(settings.database_url, "public", pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()

    print(f"\n{'measure':<46}{'value':>12}{'goal':>14}")
    print(f"{'records (CSV ' + format(results['csv_mb'], '.1f') + ' MB)':<46}{args.records:>12}")
    print(
        f"{'CSV import, rows/s (one all-or-nothing batch)':<46}"
        f"{results['import_rows_per_s']:>12.0f}{'≥ 2000':>14}"
    )
    print(
        f"{'CSV import, CPU of this process, µs/row':<46}{results['import_cpu_us_per_row']:>12.0f}"
    )
    if "import_pg_backend_cpu_us_per_row" in results:
        print(
            f"{'CSV import, CPU of its PostgreSQL backend, µs/row':<46}"
            f"{results['import_pg_backend_cpu_us_per_row']:>12.0f}"
        )
    print(f"{'load average at the end of the import':<46}{results['load_average']:>12.1f}")
    print(f"{'CSV dry run (validation only), rows/s':<46}{results['dry_run_rows_per_s']:>12.0f}")
    print(f"{'search p50, ms (no diacritics, two facets)':<46}{results['search_p50_ms']:>12.1f}")
    print(f"{'search p95, ms':<46}{results['search_p95_ms']:>12.1f}{'< 50':>14}")
    print(f"{'search p99, ms':<46}{results['search_p99_ms']:>12.1f}")
    print(f"matches per query: {results['matches_per_query']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
