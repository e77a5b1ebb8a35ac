"""Suggest the matter (事项) of a case from its text: the top three catalog leaves, with scores.

A linear model over two views of the text, so that it reads both the way a resident writes
("楼上砸了承重墙") and the way a dispatcher files ("破坏房屋承重结构"):

- TF-IDF over character 1–2-grams: robust to typos, dialect, missing word boundaries;
- TF-IDF over jieba words: catches the terms that carry the matter.

Both feed a linear SVM per matter whose margins are calibrated into probabilities: the scores.
It is trained on examples the project wrote itself (data/training/*.jsonl, 25–40 per leaf in
the voices of residents, grid workers, 12345 operators and letters — never the complaints
used to measure it), on each leaf's catalog description, and on the deployment's own
history: every time a dispatcher corrects a suggestion the correction is kept, and
`grassroots train` retrains with them (each weighs as much as three shipped examples).

This module needs no database: the cases app passes corrections in and active codes to
filter by. The process-wide model is loaded from settings.CLASSIFIER_MODEL_PATH when that
file exists and was written by this version (and reloaded when `grassroots train` replaces
it), else trained in-process on first use (a few seconds) and kept in memory.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOG_PATH = DATA_DIR / "matter_catalog.csv"
TRAINING_DIR = DATA_DIR / "training"

# Bump when features or training change, so a model saved by an older version is not used.
FORMAT_VERSION = 1
# A dispatcher's correction counts as this many shipped examples: the deployment's own words
# should win over ours where they disagree.
CORRECTION_WEIGHT = 3.0
# Longer texts add latency and nothing else: the matter is said in the first few sentences.
MAX_CHARS = 1000
EMPTY_TEXT = "请填写问题描述"
CALIBRATION_FOLDS = 3


@dataclass(frozen=True)
class Suggestion:
    code: str
    score: float  # 0..1, the model's probability (among the allowed codes when filtered)
    name: str  # the matter's name in the catalog


# --- the catalog and the shipped examples ----------------------------------------------


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """code → the catalog row (category, subcategory, matter, description…), in file order."""
    with CATALOG_PATH.open(encoding="utf-8-sig", newline="") as f:
        return {row["code"]: row for row in csv.DictReader(f)}


def catalog_examples() -> list[tuple[str, str]]:
    """Each leaf's own words: its description, and its name with its description."""
    examples = []
    for code, row in catalog().items():
        examples.append((row["description"], code))
        examples.append((f"{row['subcategory']}，{row['matter']}：{row['description']}", code))
    return examples


def shipped_examples() -> list[tuple[str, str]]:
    """(text, code) from data/training/*.jsonl; a line naming an unknown code is an error."""
    known = catalog()
    examples = []
    for path in sorted(TRAINING_DIR.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if row["code"] not in known:
                    raise ValueError(f"{path.name} 第 {number} 行：未知事项编码 {row['code']}")
                examples.append((row["text"], row["code"]))
    return examples


# --- text → features -------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w")


def normalize(text: str) -> str:
    """Full-width → half-width, lower case, every number → 0 (building 3 and building 12 are
    the same evidence), runs of white space → one space, cut to MAX_CHARS."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGITS.sub("0", text)
    return _SPACES.sub(" ", text).strip()[:MAX_CHARS]


_jieba_lock = threading.Lock()
_jieba = None


def _tokenizer():
    """A private jieba tokenizer (the global one stays untouched), loaded once, quietly."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _jieba = tokenizer
    return _jieba


def words(text: str) -> list[str]:
    """jieba's words of an already normalized text, without punctuation and spaces."""
    return [w for w in _tokenizer().lcut(text, HMM=True) if _WORD.search(w)]


class CalibratedSVM:
    """A linear SVM per matter (one against the rest) whose margins are turned into
    probabilities by a sigmoid fitted on held-out margins (3 folds), as scikit-learn's
    CalibratedClassifierCV(method="sigmoid", ensemble=False) does; after fitting only the
    weights and the sigmoid parameters are kept, so a suggestion is one matrix product
    (sklearn's version loops over the 56 calibrators in Python on every call)."""

    def __init__(self, C: float = 1.0, folds: int = 3):
        self.C = C
        self.folds = folds

    def fit(self, X, y, sample_weight=None):
        import numpy as np
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        calibrated = CalibratedClassifierCV(LinearSVC(C=self.C, random_state=0), method="sigmoid",
                                            cv=self.folds, ensemble=False)
        calibrated.fit(X, y, sample_weight=sample_weight)
        fitted = calibrated.calibrated_classifiers_[0]
        svm = fitted.estimator
        if len(svm.classes_) < 3 or list(svm.classes_) != list(calibrated.classes_):
            raise ValueError("分类模型至少需要三个事项")
        self.classes_ = np.asarray(calibrated.classes_)
        self.coef_ = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)  # features × matters
        self.intercept_ = svm.intercept_.astype(np.float32)
        self.a_ = np.array([c.a_ for c in fitted.calibrators], dtype=np.float64)
        self.b_ = np.array([c.b_ for c in fitted.calibrators], dtype=np.float64)
        return self

    def decision_function(self, X):
        import numpy as np

        return np.asarray(X @ self.coef_) + self.intercept_

    def predict_proba(self, X):
        return self.calibrate(self.decision_function(X))

    def calibrate(self, decisions):
        """SVM margins (texts × matters) → probabilities, each row summing to 1."""
        import numpy as np
        from scipy.special import expit

        proba = expit(-(self.a_ * decisions + self.b_))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.divide(proba, total, out=uniform, where=total > 0)

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def _features():
    """Character 1–2-grams and jieba words, each TF-IDF weighted. (Measured on our own
    examples, longer character n-grams and word pairs only added size.)"""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, lowercase=False,
                                  dtype=np.float32)),
        ("words", TfidfVectorizer(tokenizer=words, token_pattern=None, sublinear_tf=True, lowercase=False,
                                  dtype=np.float32)),
    ])


def _enough_for_folds(texts: list[str], labels: list[str], weights: list[float]):
    """Calibration needs every matter in every fold: a matter known from fewer examples than
    folds (a code an admin added, taught by one or two corrections) has them repeated."""
    counts = Counter(labels)
    texts, labels, weights = list(texts), list(labels), list(weights)
    for code, count in sorted(counts.items()):
        if count < CALIBRATION_FOLDS:
            rows = [(t, w) for t, c, w in zip(texts, labels, weights, strict=True) if c == code]
            for i in range(CALIBRATION_FOLDS - count):
                text, weight = rows[i % len(rows)]
                texts.append(text)
                labels.append(code)
                weights.append(weight)
    return texts, labels, weights


# --- the model ----------------------------------------------------------------------------


@dataclass
class Model:
    features: object  # text → sparse vector (a fitted FeatureUnion)
    svm: CalibratedSVM
    names: dict[str, str]  # code → matter name
    stats: dict = field(default_factory=dict)  # counts, training accuracy, when, versions
    format_version: int = FORMAT_VERSION

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_parts", None)  # rebuilt on first use after loading
        return state

    def _analyzers(self):
        parts = self.__dict__.get("_parts")
        if parts is None:
            parts, offset = [], 0
            for _, vectorizer in self.features.transformer_list:
                parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
                offset += len(vectorizer.vocabulary_)
            self.__dict__["_parts"] = parts
        return parts

    def vector(self, clean: str):
        """A normalized text's features as (column indices, values): what
        `features.transform([clean])` gives (sublinear TF × IDF, each view scaled to unit
        length), without scikit-learn's checks on every call — a text in well under a millisecond."""
        import numpy as np

        columns, values = [], []
        for analyze, vocabulary, idf, offset in self._analyzers():
            counts = Counter(vocabulary[term] for term in analyze(clean) if term in vocabulary)
            if not counts:
                continue
            ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            weights = (np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1.0) * idf[ids]
            columns.append(ids + offset)
            values.append(weights / np.sqrt(weights @ weights))
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(columns), np.concatenate(values).astype(np.float32)

    @property
    def codes(self) -> list[str]:
        return [str(code) for code in self.svm.classes_]

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Every known code with its probability, best first."""
        clean = normalize(text or "")
        if not _WORD.search(clean):
            raise ValueError(EMPTY_TEXT)
        columns, values = self.vector(clean)
        decisions = values @ self.svm.coef_[columns] + self.svm.intercept_
        probabilities = self.svm.calibrate(decisions.reshape(1, -1))[0]
        ranked = sorted(zip(self.svm.classes_, probabilities, strict=True), key=lambda p: (-p[1], p[0]))
        return [(str(code), float(p)) for code, p in ranked]

    def suggest(self, text: str, k: int = 3, allowed_codes: Collection[str] | None = None) -> list[Suggestion]:
        """The k likeliest matters. With allowed_codes (the active matters), others are left
        out and the scores are renormalised over what is left."""
        ranked = self.scores(text)
        if allowed_codes is not None:
            allowed = set(allowed_codes)
            ranked = [(code, p) for code, p in ranked if code in allowed]
            total = sum(p for _, p in ranked)
            if total > 0:
                ranked = [(code, p / total) for code, p in ranked]
        return [Suggestion(code, min(1.0, max(0.0, p)), self.names.get(code, "")) for code, p in ranked[:k]]


def train(extra_examples: Iterable[tuple[str, str]] = (), names: Mapping[str, str] | None = None) -> Model:
    """Train on the shipped examples, the catalog descriptions and extra (text, code) pairs —
    the deployment's corrections, which may name codes an admin added to the catalog (give
    their names in `names`). Deterministic: the same examples give the same model."""
    import numpy as np
    import sklearn

    started = time.perf_counter()
    shipped = shipped_examples() + catalog_examples()
    extra = [(str(text), str(code)) for text, code in extra_examples if text and str(text).strip() and code]
    texts = [normalize(t) for t, _ in shipped + extra]
    labels = [code for _, code in shipped + extra]
    weights = [1.0] * len(shipped) + [CORRECTION_WEIGHT] * len(extra)
    given = np.array(labels)
    texts, labels, weights = _enough_for_folds(texts, labels, weights)  # repeats go after the given
    features = _features()
    matrix = features.fit_transform(texts)
    svm = CalibratedSVM(C=1.0, folds=CALIBRATION_FOLDS).fit(matrix, labels, np.array(weights))
    accuracy = float(np.mean(svm.predict(matrix[: len(given)]) == given))
    all_names = {code: row["matter"] for code, row in catalog().items()}
    all_names.update(names or {})
    stats = {
        "shipped": len(shipped),
        "corrections": len(extra),
        "codes": len(svm.classes_),
        "per_code": dict(sorted(Counter(given.tolist()).items())),
        "training_accuracy": accuracy,
        "seconds": round(time.perf_counter() - started, 2),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sklearn": sklearn.__version__,
    }
    return Model(features=features, svm=svm, names=all_names, stats=stats)


def save(model: Model, path: str | Path) -> Path:
    """Write the model with joblib (atomically: a half-written file is never loaded), owner-only."""
    import joblib

    from grassroots.lib.files import make_private, private_dir

    path = Path(path)
    private_dir(path.parent)
    partial = path.with_name(path.name + ".partial")
    joblib.dump(model, partial, compress=3)
    make_private(partial)  # owner-only, whatever the umask of the process (lib/files.py)
    partial.replace(path)
    return path


def load(path: str | Path) -> Model:
    """Read a model written by save(); refuses one from another format or scikit-learn version."""
    import joblib
    import sklearn

    model = joblib.load(Path(path))
    if not isinstance(model, Model) or model.format_version != FORMAT_VERSION:
        raise ValueError(f"{path} 不是本版本的分类模型，请运行 grassroots train 重新训练")
    if model.stats.get("sklearn") != sklearn.__version__:
        raise ValueError(f"{path} 由 scikit-learn {model.stats.get('sklearn')} 训练，请运行 grassroots train 重新训练")
    return model


# --- the process-wide model ---------------------------------------------------------------

_default_lock = threading.Lock()
_default: Model | None = None
_default_stamp: tuple | None = None  # the model file's (mtime, size) when _default was set


def model_path() -> Path | None:
    """settings.CLASSIFIER_MODEL_PATH, or None outside Django or when it is not set."""
    try:
        from django.conf import settings

        value = getattr(settings, "CLASSIFIER_MODEL_PATH", None)
    except Exception:  # Django missing or not configured: train in-process
        return None
    return Path(value) if value else None


def _stamp(path: Path | None) -> tuple | None:
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


def default_model() -> Model:
    """The saved model if there is a usable one, else one trained now; kept for the process.
    When `grassroots train` (in another process) writes a new file, the next call loads it:
    one stat() per call, no restart needed."""
    global _default, _default_stamp
    path = model_path()
    stamp = _stamp(path)
    model = _default
    if model is not None and stamp == _default_stamp:
        return model
    with _default_lock:
        if _default is None or stamp != _default_stamp:
            loaded = None
            if stamp is not None:
                try:
                    loaded = load(path)
                except Exception as error:  # stale or corrupt: the shipped examples still work
                    log.warning("classifier model %s not used (%s); training in-process", path, error)
            if loaded is not None:
                _default = loaded
            elif _default is None:
                _default = train()
            _default_stamp = stamp  # a bad file is not retried until it changes
        return _default


def set_default_model(model: Model | None) -> None:
    """Replace the process-wide model (after `grassroots train`); None loads or trains on next use."""
    global _default, _default_stamp
    with _default_lock:
        _default = model
        _default_stamp = _stamp(model_path())


def suggest(text: str, k: int = 3, allowed_codes: Collection[str] | None = None,
            model: Model | None = None) -> list[Suggestion]:
    """Top k matters for a case's text, best first. Raises ValueError("请填写问题描述") when the
    text has nothing to read. allowed_codes: the matters currently active (retired ones are
    never suggested)."""
    if not text or not text.strip():
        raise ValueError(EMPTY_TEXT)
    return (model or default_model()).suggest(text, k=k, allowed_codes=allowed_codes)
