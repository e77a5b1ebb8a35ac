"""What the benchmarks share: percentiles, a CPU steadiness probe, and running one measurement
per database — a temporary SQLite file, then a database created beside --postgres-url's
(autocommit) and dropped afterwards — each in a child process that hands back JSON.

A benchmark module defines `measure(database_url, args) -> dict` and `table(result) -> lines`,
and its main() calls `run_on_databases(args, ...)` after parsing its own options plus the common
ones (`add_database_options`)."""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_steadiness(runs: int = 40) -> dict:
    """Time a fixed pure-Python loop: on a shared or throttled machine its median is well
    above its best, and every p50/p95 below should be read with that ratio in mind."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        total = 0
        for j in range(100_000):
            total += j
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"min_ms": times[0], "p50_ms": statistics.median(times)}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def postgres_admin(url: str):
    """An autocommit connection to the server at URL, or None when it cannot be reached."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL 不可用（{url}）：{str(exc).strip()}；只测 SQLite。")
        return None


def add_database_options(parser: argparse.ArgumentParser, database: str, *, sqlite_switch: bool = True) -> None:
    parser.add_argument("--database-url", help="只在这个（空）数据库上运行")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help=f"在其所在服务器上另建 {database} 库")
    parser.add_argument("--no-postgres", action="store_true", help="不测 PostgreSQL")
    if sqlite_switch:
        parser.add_argument("--no-sqlite", action="store_true", help="不测 SQLite")
    parser.add_argument("--json-out", help=argparse.SUPPRESS)


def run_child(script: str, database_url: str, child_args: list[str]) -> dict | None:
    """SCRIPT --database-url DATABASE_URL CHILD_ARGS in a process of its own; its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = f.name
    command = [sys.executable, script, "--database-url", database_url, *child_args, "--json-out", result_path]
    try:
        done = subprocess.run(command, cwd=ROOT)
        if done.returncode != 0:
            print(f"基准测试在 {database_url} 上失败（退出码 {done.returncode}）", file=sys.stderr)
            return None
        return json.loads(Path(result_path).read_text(encoding="utf-8"))
    finally:
        Path(result_path).unlink(missing_ok=True)


def run_on_databases(args, *, script: str, child_args: list[str], database: str,
                     measure: Callable[[str, object], dict], table: Callable[[dict], list[str]]) -> int:
    """The child's part when --database-url is given (measure, then print or write JSON);
    otherwise one child per database and their tables. Exit status 1 if any child failed."""
    if args.database_url:
        result = measure(args.database_url, args)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        else:
            print("\n".join(table(result)))
        return 0
    results = []
    if not getattr(args, "no_sqlite", False):
        with tempfile.TemporaryDirectory(prefix=f"{database}-") as tmp:
            results.append(run_child(script, f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", child_args))
    admin = None if args.no_postgres else postgres_admin(args.postgres_url)
    if admin is not None:
        with admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {database}")
            try:
                results.append(run_child(script, with_database(args.postgres_url, database), child_args))
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print()
    for result in results:
        if result:
            print("\n".join(table(result)))
            print()
    return 0 if results and all(results) else 1
