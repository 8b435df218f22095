"""Annotations: create throughput, container page, Content Search and autocomplete latency.

Run:  .venv/bin/python bench/annotations.py [--annotations 20000] [--queries 300] [--json out.json]

One published record with 50 canvases in a throwaway iiif schema (migrations 0001 and 0002),
``--annotations`` public comments with Vietnamese text spread over the canvases (a third of
them private to other users), created through the service's own use case (checks, insert,
outbox event, manifest invalidation: the path the RPC takes). Then, as an anonymous caller, the
first page of a canvas container, Content Search for diacritic-free queries with hits and
highlighting, and autocomplete. Times are in-process (SQL plus Python, no RPC or HTTP). No
speed goal is set by the issue; the figures say what one record with many annotations costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

from services.iiif import annotations, search  # noqa: E402
from shared.config import load_settings  # noqa: E402
from shared.db import make_engine, migrate, unit_of_work  # noqa: E402
from shared.principals import ANONYMOUS, Principal  # noqa: E402

BASE = "http://127.0.0.1:8000"
WORDS = (
    "đình làng bia đá công đức Cảnh Hưng thờ Thành hoàng hoành phi câu đối sắc phong chữ Hán "
    "Nôm lễ hội rước kiệu trùng tu năm thứ hậu cung tiền tế mái ngói gỗ lim chạm khắc rồng "
    "phượng văn bia ghi chép dòng họ khoa bảng tiến sĩ Hải Phòng Kiến Thụy Lê Chân"
).split()
QUERIES = ["dinh lang", "bia da", "canh hung", "sac phong", "chu han", "rong phuong", "tien si"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed(engine: Any, record_id: str, canvases: int) -> list[str]:
    ids = [f"{BASE}/iiif/presentation/3/records/{record_id}/canvas/{n}" for n in range(canvases)]
    doc = {"id": record_id, "title": {"vi": "Đình Kiền Bái", "en": "Kiền Bái communal house"}}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO records (record_id, state, version, heritage_class, doc, updated_at) "
                "VALUES (CAST(:id AS uuid), 'published', 1, 'tangible_site', CAST(:doc AS jsonb), "
                "now())"
            ),
            {"id": record_id, "doc": json.dumps(doc, ensure_ascii=False)},
        )
        for n, canvas in enumerate(ids):
            conn.execute(
                text(
                    "INSERT INTO canvases (canvas_id, record_id, asset_id, page, position, width, "
                    "height) VALUES (:c, CAST(:r AS uuid), CAST(:a AS uuid), 0, :n, 4000, 3000)"
                ),
                {"c": canvas, "r": record_id, "a": str(uuid.uuid4()), "n": n},
            )
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--annotations", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    from bench import bench_env
    from disan.cli.provision import provision

    settings = load_settings(env=bench_env())
    provision(settings)
    schema = "bench_iiif_" + uuid.uuid4().hex[:6]
    migrate(settings.database_url, schema, ROOT / "services" / "iiif" / "migrations")
    engine = make_engine(settings.database_url, schema, pool_size=2)
    rng = random.Random(7)
    record_id = str(uuid.uuid4())
    results: dict[str, Any] = {"annotations": args.annotations, "cpus": os.cpu_count()}
    try:
        canvases = seed(engine, record_id, 50)
        authors = [
            Principal("user", str(n), f"Nhà nghiên cứu {n}", frozenset({"researcher"}))
            for n in range(20)
        ]
        t0 = time.perf_counter()
        batch = 200
        for start in range(0, args.annotations, batch):
            with unit_of_work(engine) as db:
                for n in range(start, min(start + batch, args.annotations)):
                    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
                    doc = {
                        "motivation": "commenting",
                        "body": {"type": "TextualBody", "value": words, "language": "vi"},
                        "target": f"{rng.choice(canvases)}#xywh=10,10,400,300",
                        "visibility": "private" if n % 3 == 0 else "public",
                    }
                    annotations.create(db, BASE, authors[n % 20], record_id, None, doc, None)
        create_s = time.perf_counter() - t0
        results["create_per_s"] = args.annotations / create_s
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE annotations")
            )

        def timed(fn: Any, n: int) -> list[float]:
            out = []
            for i in range(n):
                t = time.perf_counter()
                with unit_of_work(engine) as db:
                    fn(db, i)
                out.append((time.perf_counter() - t) * 1000)
            return out

        key = annotations.canvas_key(canvases[0])
        page = timed(
            lambda db, i: annotations.container(db, BASE, ANONYMOUS, record_id, key, "0"),
            args.queries // 3,
        )
        hits: dict[str, int] = {}

        def one_search(db: Any, i: int) -> None:
            q = QUERIES[i % len(QUERIES)]
            doc = search.search(db, BASE, ANONYMOUS, record_id, {"q": q})
            hits[q] = doc.get("partOf", {}).get("total", len(doc["items"]))

        searches = timed(one_search, args.queries)
        complete = timed(
            lambda db, i: search.autocomplete(
                db, BASE, ANONYMOUS, record_id, {"q": QUERIES[i % len(QUERIES)][:3]}
            ),
            args.queries // 3,
        )
        for name, values in (("page", page), ("search", searches), ("autocomplete", complete)):
            results |= {
                f"{name}_p50_ms": percentile(values, 0.5),
                f"{name}_p95_ms": percentile(values, 0.95),
                f"{name}_mean_ms": statistics.fmean(values),
            }
        results["search_matches"] = hits
        results["at"] = datetime.now(UTC).isoformat()
    finally:
        engine.dispose()
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    print(f"\n{'measure (one record, ' + str(args.annotations) + ' annotations)':<52}{'value':>12}")
    print(f"{'create (checks, insert, outbox), annotations/s':<52}{results['create_per_s']:>12.0f}")
    for name in ("page", "search", "autocomplete"):
        label = {
            "page": "canvas container page 0 (anonymous)",
            "search": "Content Search, 2 words, with highlighting",
            "autocomplete": "autocomplete, 3 letters",
        }[name]
        print(
            f"{label + ', p50 / p95 ms':<52}"
            f"{results[name + '_p50_ms']:>6.1f} / {results[name + '_p95_ms']:<6.1f}"
        )
    print(f"matches per query (public): {results['search_matches']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
