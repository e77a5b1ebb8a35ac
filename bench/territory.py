"""Territory benchmark: generate a city, then time point → grid lookups and subtree listings.

    python bench/territory.py                      # SQLite (temporary file) and, if reachable, PostgreSQL
    python bench/territory.py --scale M            # a smaller city
    python bench/territory.py --database-url URL   # one database you name (it must be empty)

By default PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/test (override with
--postgres-url); the benchmark never writes there: it creates a database of its own,
`grassroots_bench`, beside it and drops it afterwards.

Each database is measured in a child process (Django reads DATABASE_URL once, at setup).
Targets: ≥ 20,000 single lookups per second in-process; ≤ 20 ms (p95) to list the whole
subtree of the largest district. Figures are what this machine did; a missed target says so.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, cpu_steadiness, run_on_databases  # noqa: E402
from grassroots.generator.console import format_table  # noqa: E402  (Django-free)

LOOKUP_TARGET = 20_000  # lookups per second
SUBTREE_TARGET_MS = 20.0
BENCH_DATABASE = "grassroots_bench"


# --- one database (child process) -------------------------------------------------------


def measure(database_url: str, scale: str, seed: int, points: int, runs: int) -> dict:
    """Migrate, generate, measure; returns the figures (and prints progress)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    # Production-like: with DEBUG on, Django would also record every query it runs.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("PRIVACY_KEY", "benchmark-only-personal-data-key")
    import django

    django.setup()
    import numpy as np
    import shapely
    from django.core.management import call_command
    from django.db import connection

    from grassroots.generator.city import generate_city
    from grassroots.territory import geo
    from grassroots.territory.levels import Level
    from grassroots.territory.models import Region
    from grassroots.territory.queries import subtree, subtree_listing

    out: dict = {"database": connection.vendor, "scale": scale, "cpu": cpu_steadiness()}
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if connection.vendor == "sqlite" else "show server_version")
        out["database"] += " " + str(cursor.fetchone()[0]).split()[0]

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    out["migrate_s"] = time.perf_counter() - t0

    print(f"[{out['database']}] 生成规模 {scale} 的城市…", flush=True)
    ctx = generate_city(scale, seed, say=lambda line: print(f"[{out['database']}] {line}", flush=True))
    out["generate_s"] = ctx.timings["合计"]
    out["counts"] = ctx.counts

    # A running server's tables have been vacuumed and analysed by autovacuum (PostgreSQL)
    # or `PRAGMA optimize`; a bulk load just now has not. Do it once, as they would.
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE territory_region" if connection.vendor == "postgresql" else "ANALYZE")
    out["analyze_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = geo.GridIndex.build()
    out["index_build_s"] = time.perf_counter() - t0
    out["grids"] = len(index)

    # Points: uniform in the bounding box of all grids (many fall between districts), and
    # points known to lie in a given grid (grids are convex: a point on the segment from
    # the centroid towards a vertex, short of the edge, is inside).
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(index.geoms)
    box_lons = rng.uniform(minx, maxx, points)
    box_lats = rng.uniform(miny, maxy, points)
    picks = rng.integers(0, len(index), points)
    centroids = shapely.get_coordinates(shapely.centroid(index.geoms))
    inside_lons, inside_lats = np.empty(points), np.empty(points)
    for k, i in enumerate(picks.tolist()):
        ring = shapely.get_coordinates(index.geoms[i])
        vx, vy = ring[rng.integers(0, len(ring) - 1)]
        t = rng.uniform(0.0, 0.9)
        cx, cy = centroids[i]
        inside_lons[k], inside_lats[k] = cx + t * (vx - cx), cy + t * (vy - cy)

    def single(lons, lats) -> tuple[float, list]:
        pairs = list(zip(lons.tolist(), lats.tolist(), strict=True))
        lookup = index.lookup
        t0 = time.perf_counter()
        hits = [lookup(x, y) for x, y in pairs]
        return len(pairs) / (time.perf_counter() - t0), hits

    def many(lons, lats) -> tuple[float, list]:
        t0 = time.perf_counter()
        hits = index.lookup_many(lons, lats)
        return len(lons) / (time.perf_counter() - t0), hits

    out["lookup_box_rate"], box_hits = single(box_lons, box_lats)
    out["lookup_box_found"] = sum(h is not None for h in box_hits) / points
    out["lookup_inside_rate"], inside_hits = single(inside_lons, inside_lats)
    expected = [index.rows[i]["code"] for i in picks.tolist()]
    out["lookup_inside_wrong"] = sum(h is None or h.code != c for h, c in zip(inside_hits, expected, strict=True))
    out["lookup_many_box_rate"], many_box = many(box_lons, box_lats)
    out["lookup_many_inside_rate"], many_inside = many(inside_lons, inside_lats)
    out["lookup_many_disagree"] = sum(a != b for a, b in zip(many_box + many_inside, box_hits + inside_hits, strict=True))

    # Subtree of the largest district (most nodes below it).
    districts = list(Region.objects.filter(level=Level.DISTRICT))
    sizes = {d.code: subtree(d, include_self=False).count() for d in districts}
    district = max(districts, key=lambda d: (sizes[d.code], d.code))
    for _ in range(3):  # warm the caches the way a running server has them warm
        subtree_listing(district)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = subtree_listing(district)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    out["subtree_district"] = f"{district.name}（{district.code}）"
    out["subtree_rows"] = len(rows)
    out["subtree_p50_ms"] = statistics.median(times)
    out["subtree_p95_ms"] = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    out["subtree_min_ms"] = times[0]
    return out


# --- reporting ----------------------------------------------------------------------------


def table(r: dict) -> list[str]:
    def rate(v: float) -> str:
        return f"{v:,.0f} 次/秒"

    def verdict(ok: bool) -> str:
        return "达标" if ok else "未达标"

    rows = [
        ("迁移数据库", f"{r['migrate_s']:.1f} 秒", "", "", ""),
        (f"生成 {r['scale']} 城市（{r['grids']:,} 个网格）", f"{r['generate_s']:.1f} 秒", "", "", ""),
        ("构建网格索引", f"{r['index_build_s']:.2f} 秒", "", "", ""),
    ]
    for label, key in (("单点查询：范围内随机点", "lookup_box_rate"), ("单点查询：网格内的点", "lookup_inside_rate")):
        ratio = r[key] / LOOKUP_TARGET
        rows.append((label, rate(r[key]), f"≥ {LOOKUP_TARGET:,}", f"{ratio:.1f}×", verdict(ratio >= 1)))
    rows.append(("批量查询 lookup_many：随机点", rate(r["lookup_many_box_rate"]), "", "", ""))
    rows.append(("批量查询 lookup_many：网格内的点", rate(r["lookup_many_inside_rate"]), "", "", ""))
    for label, key in (("p50", "subtree_p50_ms"), ("p95", "subtree_p95_ms")):
        ratio = SUBTREE_TARGET_MS / r[key]
        rows.append(
            (f"子树列表 {label}：{r['subtree_district']} {r['subtree_rows']:,} 行", f"{r[key]:.1f} 毫秒",
             f"≤ {SUBTREE_TARGET_MS:g} 毫秒", f"{ratio:.1f}×", verdict(ratio >= 1))
        )
    lines = [f"== {r['database']} =="]
    lines += format_table(("项目", "结果", "目标", "达标倍数", "结论"), rows)
    found = f"随机点落在网格内的比例 {r['lookup_box_found']:.0%}；网格内的点查错 {r['lookup_inside_wrong']} 个；"
    lines.append(found + f"批量与单点结果不一致 {r['lookup_many_disagree']} 个；子树最快 {r['subtree_min_ms']:.1f} 毫秒")
    cpu = r["cpu"]
    lines.append(
        f"本机 CPU 波动：固定计算最快 {cpu['min_ms']:.1f} 毫秒、中位 {cpu['p50_ms']:.1f} 毫秒"
        f"（{cpu['p50_ms'] / cpu['min_ms']:.1f} 倍；越接近 1 越稳定）"
    )
    return lines


# --- orchestration ------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="L", choices=["S", "M", "L"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--points", type=int, default=100_000, help="每组查询的点数")
    parser.add_argument("--runs", type=int, default=50, help="子树列表的重复次数")
    add_database_options(parser, BENCH_DATABASE, sqlite_switch=False)
    args = parser.parse_args()
    child_args = ["--scale", args.scale, "--seed", str(args.seed), "--points", str(args.points), "--runs", str(args.runs)]
    return run_on_databases(args, script=__file__, child_args=child_args, database=BENCH_DATABASE,
                            measure=lambda url, a: measure(url, a.scale, a.seed, a.points, a.runs), table=table)


if __name__ == "__main__":
    sys.exit(main())
