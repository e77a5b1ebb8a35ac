"""Cases benchmark: a city with a million cases — intake, worklists, the deadline sweep, the classifier.

    python bench/cases.py                       # SQLite (temporary file) and, if reachable, PostgreSQL
    python bench/cases.py --cases 200000        # fewer cases
    python bench/cases.py --no-postgres         # SQLite only
    python bench/cases.py --database-url URL    # one (empty) database you name

PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/test (override with
--postgres-url); the benchmark never writes there: it creates `grassroots_bench_cases` beside
it (autocommit) and drops it afterwards. Each database is measured in a child process.

For each database: generate the M territory with --cases cases (the generator's cases step)
reported over the last --days days — by default 1,140,000 cases over 4 days, so that about
1,000,000 are still open — with the worker taken to have stopped --paused hours earlier, so
that about 1 % of the open cases are due; then measure
  * intake: --reports reports through services.intake (check, locate, classify, route, clocks,
    the case row and its event log in one transaction), against "raw": the same rows written
    with plain INSERTs and nothing else (one transaction per report: the case row and its two
    events); target ≤ 5× raw. The duplicate suggestion intake offers is a query of its own, made
    when a page or API answer shows it: timed separately per report (p95), and the rate of
    intake plus that query printed beside;
  * worklists: queries.worklist(dispatcher, "pending" / "overdue"), first page of 50 (newest
    first, the list's own order) plus the count, for the city's, the busiest district's and the busiest
    street's dispatcher; target p95 ≤ 50 ms;
  * the deadline sweep: one full run of cases.jobs.sweep over everything due; target ≤ 1 s
    for 10,000 due cases (per case and per batch figures too);
  * the classifier: top-1 / top-3 on ../shared/data/complaints-dev.jsonl and p95 latency
    (targets ≥ 85 %, ≥ 95 %, ≤ 20 ms).
Figures are what this machine did; a missed target says so.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_database_options, cpu_steadiness, percentile, run_on_databases  # noqa: E402
from grassroots.generator.console import format_table  # noqa: E402  (Django-free)

BENCH_DATABASE = "grassroots_bench_cases"
INTAKE_RATIO_TARGET = 5.0
WORKLIST_TARGET_MS = 50.0
SWEEP_TARGET_S = 1.0
SWEEP_TARGET_CASES = 10_000
ROUND = 100  # intake: reports per round of full path then raw
TOP1_TARGET, TOP3_TARGET, CLASSIFY_P95_TARGET_MS = 0.85, 0.95, 20.0
DEV_DATA = ROOT.parent / "shared" / "data" / "complaints-dev.jsonl"


def timed(func, runs: int, warm: int = 3) -> dict:
    for _ in range(warm):
        func()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95), "min_ms": min(times)}


# --- one database (child process) -------------------------------------------------------------


def measure(database_url: str, args) -> dict:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    os.environ["DEBUG"] = "0"  # Django would otherwise keep every query in memory
    os.environ["LOG_LEVEL"] = "WARNING"  # the log notification backend would print every reminder
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("PRIVACY_KEY", "benchmark-only-personal-data-key")
    import django

    django.setup()
    import dataclasses
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection

    from grassroots.cases import city_steps
    from grassroots.generator import layout
    from grassroots.generator.city import generate_city

    out: dict = {"database": connection.vendor, "cpu": cpu_steadiness()}
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if connection.vendor == "sqlite" else "show server_version")
        out["database"] += " " + str(cursor.fetchone()[0]).split()[0]
    name = out["database"]
    call_command("migrate", verbosity=0, interactive=False)

    layout.SCALES["bench"] = dataclasses.replace(layout.SCALES[args.scale], code="bench", cases_count=args.cases,
                                                persons_count=0)
    city_steps.WORKER_PAUSED = timedelta(hours=args.paused)
    city_steps.DAYS = args.days
    print(f"[{name}] 生成规模 {args.scale} 的城市，{args.cases:,} 件事件…", flush=True)
    ctx = generate_city("bench", args.seed, say=lambda line: print(f"[{name}] {line}", flush=True))
    out["generate_s"] = ctx.timings["合计"]
    out["cases_s"] = ctx.timings["事件"]
    out["counts"] = ctx.counts
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in ("cases_case", "cases_caseevent", "cases_supervision", "cases_evaluation", "cases_caseunit",
                          "territory_region", "accounts_user"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    out["analyze_s"] = time.perf_counter() - t0

    out.update(census())
    print(f"[{name}] 工作台查询…", flush=True)
    out["worklists"] = worklists(args.runs)
    print(f"[{name}] 办理时限检查…", flush=True)
    out["sweep"] = sweep()
    print(f"[{name}] 登记 {args.reports} 件…", flush=True)
    out["intake"] = intake(args.reports, args.seed)
    print(f"[{name}] 分类器…", flush=True)
    out["classifier"] = classify()
    return out


def census() -> dict:
    from django.utils import timezone

    from grassroots.cases.models import OPEN_STATES, Case, CaseClock, CaseEvent

    now = timezone.now()
    return {
        "cases": Case.objects.count(),
        "open": Case.objects.filter(state__in=OPEN_STATES).count(),
        "events": CaseEvent.objects.count(),
        "due_before": CaseClock.objects.filter(next_due_at__lte=now).count(),
        "due_open_before": CaseClock.objects.filter(next_due_at__lte=now, case__state__in=OPEN_STATES).count(),
    }


def worklists(runs: int) -> list[dict]:
    from django.db.models import Count

    from grassroots.accounts.models import User
    from grassroots.accounts.roles import Role
    from grassroots.cases import queries
    from grassroots.cases.models import Case
    from grassroots.territory.levels import Level
    from grassroots.territory.models import Region

    def busiest(level: str) -> Region:
        depth = {Level.DISTRICT: 3, Level.STREET: 4}[level]
        counts = {}
        for path, n in Case.objects.values_list("region_path").annotate(n=Count("id")):
            key = "/".join(path.split("/")[: depth + 1]) + "/"
            counts[key] = counts.get(key, 0) + n
        return Region.objects.get(path=max(counts, key=counts.get))

    dispatchers = [
        ("市级", User.objects.get(username="dp110100")),
        ("区级", User.objects.get(role=Role.DISPATCHER, region=busiest(Level.DISTRICT))),
        ("街道", User.objects.get(role=Role.DISPATCHER, region=busiest(Level.STREET))),
    ]
    results = []
    for tier, user in dispatchers:
        user = User.objects.select_related("region").get(pk=user.pk)
        for name in ("pending", "overdue"):
            qs = queries.worklist(user, name)
            rows: list = []

            def page(qs=qs, rows=rows):
                rows[:] = [list(qs[:50]), qs.count()]  # newest first: the worklist's own order

            figures = timed(page, runs)
            figures.update(tier=tier, unit=user.region.name, list=name, rows=len(rows[0]), count=rows[1])
            results.append(figures)
    return results


def sweep() -> dict:
    from django.utils import timezone

    from grassroots.cases import jobs
    from grassroots.cases.models import CaseClock

    now = timezone.now()
    due = CaseClock.objects.filter(next_due_at__lte=now).count()
    batch_times = []
    original = jobs._sweep_batch

    def timed_batch(*a, **kw):
        t0 = time.perf_counter()
        try:
            return original(*a, **kw)
        finally:
            batch_times.append(time.perf_counter() - t0)

    jobs._sweep_batch = timed_batch
    try:
        t0 = time.perf_counter()
        result = jobs.sweep(now, budget=3600)
        seconds = time.perf_counter() - t0
    finally:
        jobs._sweep_batch = original
    left = CaseClock.objects.filter(next_due_at__lte=now).count()
    full = [t for t in batch_times[:-1]] or batch_times
    return {
        "due": due, "handled": result.handled, "seconds": seconds, "actions": dict(result.actions),
        "batches": result.batches, "notifications": result.notifications, "left": left,
        "batch_p50_ms": statistics.median(full) * 1000 if full else 0.0,
        "batch_max_ms": max(full) * 1000 if full else 0.0,
    }


def intake(count: int, seed: int) -> dict:
    """services.intake for COUNT hotline reports against the same rows with plain INSERTs, in rounds."""
    import random

    from django.db import connection, transaction

    from grassroots.accounts.models import User
    from grassroots.cases import services
    from grassroots.cases.models import Case, CaseClock, CaseEvent
    from grassroots.territory.levels import Level
    from grassroots.territory.models import Region

    rng = random.Random(seed)
    texts = [json.loads(line)["text"] for line in DEV_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    grids = list(Region.objects.filter(level=Level.GRID).values_list("center_lon", "center_lat"))
    actor = User.objects.select_related("region").get(username="dp110100")
    reports = []
    for i in range(count + 5):
        lon, lat = rng.choice(grids)
        reports.append(services.Report(channel="hotline", description=texts[i % len(texts)], lon=lon, lat=lat,
                                       reporter_name="张先生", reporter_phone="13800000000"))
    for report in reports[:5]:  # warm-up: the classifier's model, the grid index, jieba
        services.intake(actor, report)

    # Raw: the rows intake wrote (case, its clock row, "report" + "accept"), again, with new numbers, by
    # plain INSERT statements on the cursor — no ORM, no checks, no classifier, no grid lookup,
    # no duplicate search; one transaction per report, as reports arrive one at a time.
    fields = [f for f in Case._meta.concrete_fields if not f.primary_key and not f.generated]
    event_fields = [f for f in CaseEvent._meta.concrete_fields if not f.primary_key and f.name != "case"]
    q = connection.ops.quote_name
    clock_fields = [f for f in CaseClock._meta.concrete_fields if f.name != "case"]
    clock_sql = (f"INSERT INTO {q(CaseClock._meta.db_table)} (case_id, {', '.join(q(f.column) for f in clock_fields)}) "
                 f"VALUES (%s, {', '.join(['%s'] * len(clock_fields))})")
    case_sql = (f"INSERT INTO {q(Case._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
                f"VALUES ({', '.join(['%s'] * len(fields))})")
    event_sql = (f"INSERT INTO {q(CaseEvent._meta.db_table)} (case_id, {', '.join(q(f.column) for f in event_fields)}) "
                 f"VALUES (%s, {', '.join(['%s'] * len(event_fields))})")

    def raw_rows(pks: list[int], first: int) -> list[tuple]:
        cases = list(Case.objects.filter(pk__in=pks).order_by("pk"))
        events: dict[int, list] = {}
        for event in CaseEvent.objects.filter(case_id__in=pks).order_by("pk"):
            events.setdefault(event.case_id, []).append(event)
        clocks = {c.case_id: c for c in CaseClock.objects.filter(case_id__in=pks)}
        rows = []
        for n, case in enumerate(cases, start=first):
            case.number, case.tracking_code = f"RAW{n:010d}", f"R{n:09d}"
            values = [f.get_db_prep_save(getattr(case, f.attname), connection) for f in fields]
            ev = [[f.get_db_prep_save(getattr(e, f.attname), connection) for f in event_fields] for e in events[case.pk]]
            clock = [f.get_db_prep_save(getattr(clocks[case.pk], f.attname), connection) for f in clock_fields]
            rows.append((values, clock, ev))
        return rows

    # Rounds of ROUND reports, each through the full path and then raw: whatever drifts during
    # the run (the write-ahead log growing and being checkpointed, the CPU's speed) weighs on
    # both sides alike, and the ratio is of like with like.
    full = raw = 0.0
    taken, events_written = [], []
    for start in range(0, count, ROUND):
        part = reports[5 + start:5 + min(start + ROUND, count)]
        t0 = time.perf_counter()
        done = [services.intake(actor, report) for report in part]
        full += time.perf_counter() - t0
        taken += done
        rows = raw_rows([t.case.pk for t in done], start)
        t0 = time.perf_counter()
        for values, clock, ev in rows:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(case_sql + (" RETURNING id" if connection.vendor == "postgresql" else ""), values)
                case_id = cursor.fetchone()[0] if connection.vendor == "postgresql" else cursor.lastrowid
                cursor.execute(clock_sql, [case_id, *clock])
                cursor.executemany(event_sql, [[case_id, *e] for e in ev])
        raw += time.perf_counter() - t0
        events_written += [len(ev) for _, _, ev in rows]

    # The duplicate suggestion (shown on the entry page and in the API answer) is its own query,
    # made when first asked for: timed on its own, per report.
    duplicate_ms = []
    for t in taken:
        d0 = time.perf_counter()
        t.duplicates  # noqa: B018
        duplicate_ms.append((time.perf_counter() - d0) * 1000)
    classify_ms = []
    for report in reports[5:]:  # how much of it is the classifier alone
        c0 = time.perf_counter()
        services.classify(report.description)
        classify_ms.append((time.perf_counter() - c0) * 1000)
    return {
        "reports": count, "full_s": full, "full_rate": count / full, "raw_s": raw, "raw_rate": count / raw,
        "classify_p50_ms": statistics.median(classify_ms), "classify_share": sum(classify_ms) / 1000 / full,
        "duplicates_p50_ms": statistics.median(duplicate_ms), "duplicates_p95_ms": percentile(duplicate_ms, 0.95),
        "with_duplicates_rate": count / (full + sum(duplicate_ms) / 1000),
        "events_per_report": sum(events_written) / len(events_written),
    }


def classify() -> dict:
    from grassroots.cases import classifier

    rows = [json.loads(line) for line in DEV_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = time.perf_counter()
    model = classifier.train()
    train_s = time.perf_counter() - t0
    for row in rows[:20]:
        classifier.suggest(row["text"], model=model)
    top1 = top3 = 0
    latencies = []
    for row in rows:
        t0 = time.perf_counter()
        codes = [s.code for s in classifier.suggest(row["text"], model=model)]
        latencies.append((time.perf_counter() - t0) * 1000)
        top1 += codes[0] == row["code"]
        top3 += row["code"] in codes
    return {"n": len(rows), "top1": top1 / len(rows), "top3": top3 / len(rows), "train_s": train_s,
            "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95)}


# --- reporting ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "达标" if ok else "未达标"


def table(r: dict) -> list[str]:
    rows = [
        (f"生成 {r['cases']:,} 件事件（事件日志 {r['events']:,} 条）", f"{r['cases_s']:.0f} 秒",
         "", "", f"整个城市 {r['generate_s']:.0f} 秒"),
    ]
    i = r["intake"]
    ratio = i["raw_rate"] / i["full_rate"]
    rows.append((f"登记 services.intake（{i['reports']} 件）", f"{i['full_rate']:.0f} 件/秒",
                 f"≥ 原始写入的 1/{INTAKE_RATIO_TARGET:g}", f"{INTAKE_RATIO_TARGET / ratio:.2f}×",
                 verdict(ratio <= INTAKE_RATIO_TARGET)))
    rows.append(("  原始写入（同样的行，逐件 INSERT 事件、时限行、2 条日志）", f"{i['raw_rate']:.0f} 件/秒", "", "",
                 f"完整流程慢 {ratio:.1f} 倍；其中分类器占 {i['classify_share']:.0%}"))
    rows.append(("  疑似重复提示（登记后首次显示时查询）", f"p95 {i['duplicates_p95_ms']:.1f} 毫秒", f"≤ {WORKLIST_TARGET_MS:g} 毫秒",
                 f"{WORKLIST_TARGET_MS / i['duplicates_p95_ms']:.1f}×", verdict(i["duplicates_p95_ms"] <= WORKLIST_TARGET_MS)))
    rows.append(("  登记并查疑似重复", f"{i['with_duplicates_rate']:.0f} 件/秒", "", "",
                 f"是原始写入的 1/{i['raw_rate'] / i['with_duplicates_rate']:.1f}"))
    for w in r["worklists"]:
        ratio = WORKLIST_TARGET_MS / w["p95_ms"]
        rows.append((f"工作台 {w['list']}：{w['tier']}派单员（{w['unit']}，共 {w['count']:,} 件）",
                     f"p95 {w['p95_ms']:.1f} 毫秒", f"≤ {WORKLIST_TARGET_MS:g} 毫秒", f"{ratio:.1f}×",
                     verdict(ratio >= 1)))
    s = r["sweep"]
    per_case_ms = s["seconds"] * 1000 / max(s["handled"], 1)
    projected = per_case_ms * SWEEP_TARGET_CASES / 1000
    rows.append((f"办理时限检查：到期 {s['due']:,} 件，一次运行", f"{s['seconds']:.2f} 秒",
                 f"1 万件 ≤ {SWEEP_TARGET_S:g} 秒", f"{SWEEP_TARGET_S / projected:.2f}×",
                 verdict(projected <= SWEEP_TARGET_S)))
    rows.append(("  每件 / 每批", f"{per_case_ms * 1000:.0f} 微秒 / {s['batch_p50_ms']:.0f} 毫秒", "", "",
                 f"折合 1 万件 {projected:.2f} 秒"))
    c = r["classifier"]
    rows.append((f"分类器 top-1（{c['n']} 条）", f"{c['top1']:.1%}", f"≥ {TOP1_TARGET:.0%}", f"{c['top1'] / TOP1_TARGET:.2f}×",
                 verdict(c["top1"] >= TOP1_TARGET)))
    rows.append(("分类器 top-3", f"{c['top3']:.1%}", f"≥ {TOP3_TARGET:.0%}", f"{c['top3'] / TOP3_TARGET:.2f}×",
                 verdict(c["top3"] >= TOP3_TARGET)))
    rows.append(("分类器延迟", f"p95 {c['p95_ms']:.1f} 毫秒", f"≤ {CLASSIFY_P95_TARGET_MS:g} 毫秒",
                 f"{CLASSIFY_P95_TARGET_MS / c['p95_ms']:.1f}×", verdict(c["p95_ms"] <= CLASSIFY_P95_TARGET_MS)))
    lines = [f"== {r['database']} =="]
    lines += format_table(("项目", "结果", "目标", "达标倍数", "结论"), rows)
    lines.append(
        f"事件 {r['cases']:,} 件，其中办理中 {r['open']:,} 件；检查前到期 {r['due_before']:,} 件"
        f"（办理中 {r['due_open_before']:,}）；检查处理 {s['handled']:,} 件：{s['actions']}，"
        f"{s['batches']} 批，通知 {s['notifications']:,} 条，余下到期 {s['left']}"
    )
    lines.append(f"登记每件写事件日志 {i['events_per_report']:.0f} 条；分类器单条 p50 {i['classify_p50_ms']:.1f} 毫秒；"
                 f"分类器训练 {c['train_s']:.1f} 秒")
    cpu = r["cpu"]
    lines.append(
        f"本机 CPU 波动：固定计算最快 {cpu['min_ms']:.1f} 毫秒、中位 {cpu['p50_ms']:.1f} 毫秒"
        f"（{cpu['p50_ms'] / cpu['min_ms']:.1f} 倍；越接近 1 越稳定）"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="M", choices=["S", "M", "L"], help="辖区规模（默认 M）")
    parser.add_argument("--cases", type=int, default=1_140_000,
                        help="事件数（默认 114 万：4 天内上报，约 100 万件仍在办理中）")
    parser.add_argument("--paused", type=float, default=5.0,
                        help="生成时假定后台任务已停止的小时数（决定到期待检查的事件数，默认 30）")
    parser.add_argument("--days", type=int, default=4,
                        help="事件分布在最近多少天内（默认 4 天：绝大多数仍在办理中，即“100 万件在办”）")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reports", type=int, default=500, help="登记测速的件数")
    parser.add_argument("--runs", type=int, default=40, help="工作台查询的重复次数")
    add_database_options(parser, BENCH_DATABASE)
    args = parser.parse_args()
    child_args = ["--scale", args.scale, "--seed", str(args.seed), "--cases", str(args.cases), "--paused", str(args.paused),
                  "--days", str(args.days), "--reports", str(args.reports), "--runs", str(args.runs)]
    return run_on_databases(args, script=__file__, child_args=child_args, database=BENCH_DATABASE, measure=measure,
                            table=table)


if __name__ == "__main__":
    sys.exit(main())
