"""Law search benchmark: full-text search over the whole corpus (26,196 articles) for mediators.

    python bench/disputes.py              # 3 warm-up rounds, then 50 timed rounds of every query
    python bench/disputes.py --runs 200

The corpus index (var/laws/laws-index.sqlite3, built by scripts/bootstrap.sh or
`python -m grassroots.disputes.laws install`) is a SQLite file of its own, independent of
the main database, so these figures hold whether the platform runs on SQLite or PostgreSQL.
Measured, per query and overall:
  * search: `laws.find(q)` — the mediators' search box (top 20, bm25), falling back to
    jieba's words when the words as typed find nothing;
  * relevant: `laws.relevant(kind, text)` — the "法条参考" of a dispute's page: jieba keywords
    of the description searched in the type's governing laws, plus 人民调解法 第29、33条.
Target: p95 ≤ 50 ms for both. jieba's dictionary is loaded before timing (once per process,
about a second, as in a running server).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_steadiness, percentile  # noqa: E402
from grassroots.generator.console import format_table  # noqa: E402

TARGET_MS = 50.0

SEARCHES = [
    "相邻关系", "漏水", "宅基地", "拖欠工资", "司法确认", "调解协议 履行", "噪声", "赡养", "物业费",
    "交通事故 赔偿", "离婚 财产分割", "土地承包 仲裁", "劳动争议 调解", "医疗损害 责任", "消费者 退货",
    "殴打他人", "征收 补偿", "继承 遗嘱", "抚养费", "人民调解委员会",
]
DISPUTES = [
    ("neighbour", "楼上卫生间漏水，楼下天花板发霉，双方多次争吵"),
    ("neighbour", "邻居在楼道堆放杂物并饲养大型犬，夜间吠叫扰民"),
    ("family", "夫妻因离婚财产分割和子女抚养发生争执"),
    ("support", "三个子女互相推诿，不愿承担母亲赡养费用"),
    ("land", "两户因承包地边界争执，互不相让"),
    ("land", "村民在宅基地上翻建房屋，邻居认为占用其通道"),
    ("labour", "工地拖欠农民工工资三个月，工人聚集讨薪"),
    ("property", "业主以服务差为由拒交物业费，物业公司停止电梯维保"),
    ("demolition", "拆迁户对补偿标准不满，拒绝搬迁"),
    ("consumer", "健身房倒闭，会员预付卡无法退费"),
    ("medical", "患者家属认为手术造成损害，要求医院赔偿"),
    ("traffic", "电动车与行人相撞，医药费赔偿争议"),
]


def timed(func, runs: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        func()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    import jieba

    from grassroots.disputes import laws

    jieba.setLogLevel(60)
    if not laws.available():
        print("法律条文库尚未安装：python -m grassroots.disputes.laws install", file=sys.stderr)
        return 1
    jieba.initialize()
    laws.keywords("预热")
    stats = laws.stats()
    print(f"法律条文库：{stats['laws']} 部法律，{stats['articles']} 条（{laws.index_path()}）")

    rows, all_search, all_relevant = [], [], []
    for q in SEARCHES:
        times = timed(lambda q=q: laws.find(q), args.runs)
        all_search += times
        hits = len(laws.find(q))
        rows.append(["检索", q, hits, f"{percentile(times, 0.5):.2f}", f"{percentile(times, 0.95):.2f}"])
    for kind, text in DISPUTES:
        times = timed(lambda k=kind, t=text: laws.relevant(k, t), args.runs)
        all_relevant += times
        top = laws.relevant(kind, text)[0].citation
        rows.append(["法条参考", text[:14] + "…", top, f"{percentile(times, 0.5):.2f}", f"{percentile(times, 0.95):.2f}"])
    print("\n".join(format_table(("类别", "查询", "结果", "p50 ms", "p95 ms"), rows)))

    summary = []
    for label, times in (("全文检索（20 个查询）", all_search), ("纠纷法条参考（12 个纠纷）", all_relevant)):
        p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
        summary.append([label, len(times), f"{p50:.2f}", f"{p95:.2f}", f"{max(times):.2f}", f"{TARGET_MS:.0f}",
                        f"{TARGET_MS / p95:.1f}", "达标" if p95 <= TARGET_MS else "未达标"])
    print()
    print("\n".join(format_table(("测量", "次数", "p50 ms", "p95 ms", "最大 ms", "目标 p95 ms", "达标倍数", "结论"), summary)))
    cpu = cpu_steadiness()
    print(f"\nCPU 稳定性：固定循环中位数为最佳值的 {cpu['p50_ms'] / cpu['min_ms']:.2f} 倍（越接近 1 越稳定）；均值 "
          f"{statistics.mean(all_search):.2f} ms / {statistics.mean(all_relevant):.2f} ms")
    return 0 if max(percentile(all_search, 0.95), percentile(all_relevant, 0.95)) <= TARGET_MS else 2


if __name__ == "__main__":
    sys.exit(main())
