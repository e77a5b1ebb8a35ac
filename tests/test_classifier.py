"""The matter classifier: suggestions, scores, retired matters, persistence, corrections, and
the `classify` / `train` commands. Most tests need no database: classifier.py is Django-free."""

import dataclasses
import io
import json
import os
import threading

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command

from grassroots.cases import classifier
from grassroots.cases.management.commands import classify as classify_command

# Written for these tests: not in the shipped examples, not from the measured complaints.
CLEAR_TEXTS = [
    ("我家楼上的邻居装修时把承重墙打掉了，楼板都有裂缝了", "01.01.02"),
    ("凌晨两点工地还在打桩，吵得全楼人睡不着", "01.02.01"),
    ("电梯卡在七楼和八楼之间，里面关着一位老人", "01.03.02"),
    ("饭馆的油烟管道直接对着我们卧室窗户排烟", "03.01.01"),
    ("河水又黑又臭，上游工厂往河里排废水", "03.03.01"),
    ("十字路口的信号灯全灭了，车辆抢行", "04.02.02"),
    ("冬天家里暖气冰凉，室温只有十三度", "05.04.01"),
    ("厨房里闻到很重的天然气味道，不敢开火", "05.03.01"),
    ("包工头欠了我们八个月工钱，电话也不接", "07.01.01"),
    ("有人打电话冒充派出所民警，让我把存款转到指定账户", "08.01.02"),
    ("物业擅自把停车费从每月一百涨到三百", "12.01.02"),
    ("村里征地给的补偿款太低，安置房也迟迟不交付", "13.02.02"),
    ("楼道里有人私拉电线给电瓶车充电，很容易起火", "14.01.01"),
]


@pytest.fixture(scope="module")
def model():
    return classifier.train()


@pytest.fixture
def as_default(model):
    """Make the module's model the process-wide one for the test, then put things back."""
    before = classifier._default
    classifier.set_default_model(model)
    yield model
    classifier.set_default_model(before)


def test_test_texts_are_not_training_examples():
    shipped = {text for text, _ in classifier.shipped_examples()}
    assert not shipped & {text for text, _ in CLEAR_TEXTS}


def test_every_leaf_has_examples_of_its_own():
    per_code = {}
    for _, code in classifier.shipped_examples():
        per_code[code] = per_code.get(code, 0) + 1
    assert set(per_code) == set(classifier.catalog())
    assert min(per_code.values()) >= 25


@pytest.mark.parametrize(("text", "code"), CLEAR_TEXTS)
def test_clearly_worded_text_lands_on_its_matter(model, text, code):
    suggestions = classifier.suggest(text, model=model)
    assert suggestions[0].code == code, suggestions
    assert suggestions[0].name == classifier.catalog()[code]["matter"]


def test_three_suggestions_sorted_with_scores_between_0_and_1(model):
    suggestions = classifier.suggest("小区门口的垃圾桶满了三天没人清运", model=model)
    assert len(suggestions) == 3
    assert len({s.code for s in suggestions}) == 3
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert sum(scores) <= 1.0 + 1e-9
    assert suggestions[0].code == "02.01.01"
    assert len(classifier.suggest("小区门口的垃圾桶满了", k=5, model=model)) == 5


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "，。！？……", None])
def test_empty_text_asks_for_a_description(model, text):
    with pytest.raises(ValueError, match="请填写问题描述"):
        classifier.suggest(text, model=model)


def test_retired_matters_are_never_suggested(model):
    text = "凌晨两点工地还在打桩，吵得全楼人睡不着"
    full = classifier.suggest(text, model=model)
    active = set(classifier.catalog()) - {full[0].code}
    filtered = classifier.suggest(text, allowed_codes=active, model=model)
    assert full[0].code not in {s.code for s in filtered}
    assert len(filtered) == 3
    # renormalised over the active matters: the next best keeps its place and gains weight
    assert filtered[0].code == full[1].code
    assert filtered[0].score > full[1].score
    assert classifier.suggest(text, allowed_codes=set(), model=model) == []


def test_fast_features_match_scikit_learn(model):
    texts = [classifier.normalize(t) for t in [t for t, _ in CLEAR_TEXTS] + ["ｆｕｌｌ ｗｉｄｔｈ 123 号楼"]]
    expected = model.svm.predict_proba(model.features.transform(texts))
    got = np.array([[p for _, p in sorted(model.scores(t))] for t in texts])
    assert np.allclose(expected, got, atol=1e-5)


def test_save_and_load_give_the_same_suggestions(model, tmp_path):
    path = classifier.save(model, tmp_path / "models" / "classifier.joblib")
    # Owner-only whatever this process's umask is (bootstrap and tests run with 022).
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    loaded = classifier.load(path)
    for text, _ in CLEAR_TEXTS:
        assert classifier.suggest(text, model=loaded) == classifier.suggest(text, model=model)
    assert loaded.stats == model.stats


def test_a_model_from_another_version_is_refused(model, tmp_path, monkeypatch):
    path = classifier.save(model, tmp_path / "old.joblib")
    monkeypatch.setattr(classifier, "FORMAT_VERSION", classifier.FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="grassroots train"):
        classifier.load(path)


def test_training_is_deterministic(model):
    again = classifier.train()
    for text, _ in CLEAR_TEXTS:
        assert classifier.suggest(text, model=again) == classifier.suggest(text, model=model)


def test_corrections_teach_a_local_term(model):
    """Dispatchers in one district call partitioned flats 咕咚铺; three corrections teach it."""
    text = "菜场边上那栋楼又冒出一溜咕咚铺"
    assert classifier.suggest(text, model=model)[0].code != "08.02.01"
    corrections = [
        ("西街六号又搞了几间咕咚铺", "08.02.01"),
        ("咕咚铺里住了二十来号人", "08.02.01"),
        ("南门那套房子改成咕咚铺了", "08.02.01"),
    ]
    taught = classifier.train(corrections)
    assert taught.stats["corrections"] == 3
    assert classifier.suggest(text, model=taught)[0].code == "08.02.01"


def test_corrections_may_name_a_matter_the_admin_added(model):
    taught = classifier.train(
        [("三号院的蓝皮楼又渗水了", "99.01.01"), ("蓝皮楼的问题还是没人管", "99.01.01")],
        names={"99.01.01": "蓝皮楼专项"},
    )
    top = classifier.suggest("蓝皮楼那边又出事了", model=taught)[0]
    assert (top.code, top.name) == ("99.01.01", "蓝皮楼专项")
    assert "99.01.01" in taught.codes


def test_default_model_is_loaded_from_the_settings_path(model, tmp_path, monkeypatch):
    path = classifier.save(model, tmp_path / "classifier.joblib")
    monkeypatch.setattr(classifier, "model_path", lambda: path)
    monkeypatch.setattr(classifier, "train", lambda *a, **k: pytest.fail("should have loaded the saved model"))
    before = classifier._default
    classifier.set_default_model(None)
    try:
        assert classifier.default_model().stats == model.stats
    finally:
        classifier.set_default_model(before)


def test_a_retrained_file_replaces_the_model_in_memory(model, tmp_path, monkeypatch):
    """`grassroots train` runs in another process: web processes pick its file up without a restart."""
    path = classifier.save(model, tmp_path / "classifier.joblib")
    monkeypatch.setattr(classifier, "model_path", lambda: path)
    before = classifier._default
    classifier.set_default_model(None)
    try:
        first = classifier.default_model()
        assert classifier.default_model() is first  # unchanged file: no reload
        classifier.save(dataclasses.replace(model, stats={**model.stats, "corrections": 42}), path)
        os.utime(path, ns=(1, 1))  # a different stamp even on a coarse clock
        assert classifier.default_model().stats["corrections"] == 42
    finally:
        classifier.set_default_model(before)


def test_default_model_trains_once_when_there_is_no_usable_file(model, tmp_path, monkeypatch):
    """A corrupt or missing file falls back to training, once, even with many threads asking."""
    (tmp_path / "classifier.joblib").write_bytes(b"not a model")
    monkeypatch.setattr(classifier, "model_path", lambda: tmp_path / "classifier.joblib")
    calls = []
    start = threading.Barrier(8)

    def slow_train(*args, **kwargs):
        calls.append(1)
        return model

    monkeypatch.setattr(classifier, "train", slow_train)
    before = classifier._default
    classifier.set_default_model(None)
    got = []

    def ask():
        start.wait()
        got.append(classifier.default_model())

    try:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        classifier.set_default_model(before)
    assert len(calls) == 1
    assert all(m is model for m in got)


def test_classify_lines_answers_every_line_in_order(model):
    lines = [
        json.dumps({"id": 1, "text": "凌晨两点工地还在打桩，吵得全楼人睡不着"}, ensure_ascii=False) + "\n",
        "{not json\n",
        "\n",
        json.dumps({"id": "x-3", "text": "   "}) + "\n",
        json.dumps({"id": 4}) + "\n",
        "[1, 2]\n",
        "\xff\n".encode("latin-1"),
        json.dumps({"id": None, "text": "电梯卡在七楼和八楼之间"}, ensure_ascii=False).encode() + b"\n",
    ]
    out = io.StringIO()
    assert classify_command.classify_lines(lines, out, scores=True, model=model) == len(lines)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["id"] == 1 and rows[0]["codes"][0] == "01.02.01" and len(rows[0]["codes"]) == 3
    assert len(rows[0]["scores"]) == 3
    assert rows[1] == {"id": None, "error": rows[1]["error"]} and rows[1]["error"].startswith("第 2 行：")
    assert rows[2]["error"] == "第 3 行：空行"
    assert rows[3] == {"id": "x-3", "error": "第 4 行：请填写问题描述"}
    assert rows[4] == {"id": 4, "error": "第 5 行：缺少 text 字段"}
    assert rows[5]["id"] is None and rows[5]["error"].startswith("第 6 行：")
    assert rows[6]["error"].startswith("第 7 行：")
    assert rows[7]["codes"][0] == "01.03.02" and "scores" in rows[7]
    assert "电梯" not in out.getvalue() and "\\u" not in out.getvalue()  # the texts are not echoed; no escapes


needs_app = pytest.mark.skipif("grassroots.cases" not in settings.INSTALLED_APPS, reason="cases app not installed")


@needs_app
def test_classify_command_reads_stdin_and_writes_json_lines(as_default):
    stdin = io.StringIO('{"id": 7, "text": "厨房里闻到很重的天然气味道，不敢开火"}\nnonsense\n')
    out = io.StringIO()
    call_command("classify", "--all-matters", stdin=stdin, stdout=out)
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first == {"id": 7, "codes": first["codes"]} and first["codes"][0] == "05.03.01"
    assert second["id"] is None and second["error"].startswith("第 2 行：")


@needs_app
@pytest.mark.django_db
def test_train_command_saves_the_model_and_reports(model, tmp_path, monkeypatch):
    seen = {}

    def fake_train(extra=(), names=None):
        seen["extra"] = list(extra)
        return model

    monkeypatch.setattr(classifier, "train", fake_train)
    before = classifier._default
    out = io.StringIO()
    try:
        call_command("train", "--output", str(tmp_path / "m.joblib"), stdout=out)
        assert classifier._default is model
    finally:
        classifier.set_default_model(before)
    assert seen["extra"] == []  # no corrections in an empty database
    assert "训练完成" in out.getvalue() and "训练集准确率" in out.getvalue()
    assert classifier.load(tmp_path / "m.joblib").stats == model.stats
