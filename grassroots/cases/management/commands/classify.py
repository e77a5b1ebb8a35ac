"""`grassroots classify`: JSON Lines of complaints on stdin, their likeliest matters on stdout.

    echo '{"id": 1, "text": "楼上装修砸了承重墙"}' | grassroots classify
    {"id": 1, "codes": ["01.01.02", "03.02.01", "13.01.01"]}

One output line per input line, in order, flushed as it goes, so the command can sit at the
end of a pipe. A line that cannot be read becomes {"id": …, "error": "第 N 行：…"} and the
rest carry on; the exit status is 0 unless stdin itself cannot be read.
"""

import json
import sys
from collections.abc import Collection, Iterable
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError

from grassroots.cases import classifier


def active_codes() -> set[str] | None:
    """The matters currently active in this deployment's catalog; None (no filter) when the
    catalog has not been loaded or the database is not reachable."""
    try:
        from grassroots.cases.catalog import active_codes as catalog_active_codes

        codes = catalog_active_codes()
    except Exception:  # no migrations yet, no database: classify against the whole shipped catalog
        return None
    return codes or None


def answer(number: int, line: str | bytes, *, scores: bool = False, k: int = 3,
           allowed_codes: Collection[str] | None = None, model: classifier.Model | None = None) -> dict:
    """The output object for input line `number`: codes (and scores), or an error in Chinese."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            return {"id": None, "error": f"第 {number} 行：不是 UTF-8 编码的文本"}
    if not line.strip():
        return {"id": None, "error": f"第 {number} 行：空行"}
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "error": f"第 {number} 行：不是有效的 JSON（第 {error.colno} 列：{error.msg}）"}
    if not isinstance(row, dict):
        return {"id": None, "error": f"第 {number} 行：应为 JSON 对象，如 {{\"id\": 1, \"text\": \"…\"}}"}
    key = row.get("id")
    text = row.get("text")
    if not isinstance(text, str):
        return {"id": key, "error": f"第 {number} 行：缺少 text 字段" if text is None else f"第 {number} 行：text 应为文本"}
    try:
        suggestions = classifier.suggest(text, k=k, allowed_codes=allowed_codes, model=model)
    except ValueError as error:
        return {"id": key, "error": f"第 {number} 行：{error}"}
    result = {"id": key, "codes": [s.code for s in suggestions]}
    if scores:
        result["scores"] = [round(s.score, 4) for s in suggestions]
    return result


def classify_lines(lines: Iterable[str | bytes], out: TextIO, **options) -> int:
    """Write one JSON line to `out` per input line, flushing each; returns how many lines."""
    count = 0
    for number, line in enumerate(lines, 1):
        out.write(json.dumps(answer(number, line, **options), ensure_ascii=False) + "\n")
        out.flush()
        count = number
    return count


class Command(BaseCommand):
    stealth_options = ("stdin",)  # call_command(..., stdin=stream) in tests
    help = '从标准输入逐行读取 JSON Lines {"id": …, "text": …}，逐行输出 {"id": …, "codes": [最可能的三个事项编码]}'

    def add_arguments(self, parser):
        parser.add_argument("--scores", action="store_true", help="同时输出每个事项的分数（0–1）")
        parser.add_argument("--top", type=int, default=3, help="输出几个事项（默认 3）")
        parser.add_argument("--all-matters", action="store_true",
                            help="不按本部署启用的事项过滤（默认只建议启用中的事项）")

    def handle(self, *args, **options):
        stream = options.get("stdin") or sys.stdin
        lines = getattr(stream, "buffer", stream)  # bytes when we can: a bad byte spoils one line, not all
        allowed = None if options["all_matters"] else active_codes()
        model = classifier.default_model()
        try:
            classify_lines(lines, self.stdout, scores=options["scores"], k=max(1, options["top"]),
                           allowed_codes=allowed, model=model)
        except OSError as error:
            raise CommandError(f"无法读取标准输入：{error}") from error
