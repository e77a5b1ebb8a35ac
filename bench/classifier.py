"""Matter classifier benchmark: accuracy and latency of `classifier.suggest` on labelled complaints.

    python bench/classifier.py                                   # ../shared/data/complaints-dev.jsonl
    python bench/classifier.py --data path/to/complaints.jsonl   # another labelled set
    python bench/classifier.py --confusions                      # also: which codes went where

Trains the default model in-process from the shipped examples (never on the measured texts),
then times suggest() one text at a time after a warm-up. Only aggregate figures and code
pairs are printed, never the texts. Targets: top-1 ≥ 85 %, top-3 ≥ 95 %, p95 ≤ 20 ms per text.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grassroots.cases import classifier  # noqa: E402  (Django-free)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "complaints-dev.jsonl"
TOP1_TARGET, TOP3_TARGET, P95_TARGET_MS = 0.85, 0.95, 20.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_start(path: Path) -> float:
    """Seconds for a fresh process to load a saved model and answer once (imports excluded)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]);"
        "from grassroots.cases import classifier; import sklearn, joblib, jieba;"
        "t = time.perf_counter(); m = classifier.load(sys.argv[1]); classifier.suggest('家里停水了', model=m);"
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--confusions", action="store_true", help="print the code pairs that were confused")
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]

    started = time.perf_counter()
    classifier.words("预热")  # jieba's dictionary and scikit-learn's imports, once per process
    import sklearn.calibration  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.svm  # noqa: F401

    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = classifier.train()
    train_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = classifier.save(model, Path(tmp) / "classifier.joblib")
        size = path.stat().st_size
        cold_seconds = cold_start(path)

    for row in rows[:20]:  # warm-up: jieba's dictionary, numpy's first calls
        classifier.suggest(row["text"], model=model)

    top1 = top3 = 0
    latencies = []
    confusions = Counter()
    per_channel = Counter()
    per_channel_hits = Counter()
    for row in rows:
        t0 = time.perf_counter()
        codes = [s.code for s in classifier.suggest(row["text"], model=model)]
        latencies.append((time.perf_counter() - t0) * 1000)
        channel = row.get("channel", "-")
        per_channel[channel] += 1
        if codes[0] == row["code"]:
            top1 += 1
            per_channel_hits[channel] += 1
        else:
            confusions[(row["code"], codes[0])] += 1
        top3 += row["code"] in codes

    n = len(rows)
    print(f"数据 {args.data.name}：{n} 条；训练样本 {model.stats['shipped']} 条，{model.stats['codes']} 个事项")
    print(f"top-1 准确率 {top1 / n:.1%}（目标 ≥ {TOP1_TARGET:.0%}）")
    print(f"top-3 准确率 {top3 / n:.1%}（目标 ≥ {TOP3_TARGET:.0%}）")
    print(f"延迟 p50 {statistics.median(latencies):.2f} ms，p95 {percentile(latencies, 0.95):.2f} ms，"
          f"最大 {max(latencies):.2f} ms（目标 p95 ≤ {P95_TARGET_MS:.0f} ms）")
    print(f"训练 {train_seconds:.1f} s（另：导入 scikit-learn、加载 jieba 词典 {load_seconds:.1f} s；训练集准确率 "
          f"{model.stats['training_accuracy']:.1%}），模型文件 {size / 1024:.0f} KiB")
    print(f"冷启动（新进程读取已保存模型并给出第一条建议）{cold_seconds:.1f} s")
    print("按渠道 top-1：" + "，".join(f"{c} {per_channel_hits[c] / per_channel[c]:.0%}" for c in sorted(per_channel)))
    if args.confusions:
        print("误判（实际 → 首选）：")
        for (actual, got), count in confusions.most_common():
            print(f"  {actual} {model.names.get(actual, '')} → {got} {model.names.get(got, '')}：{count}")


if __name__ == "__main__":
    main()
