"""The territory tree: subtrees, listings, ancestors, counts, and create_region's rules.

Runs on whichever database DATABASE_URL names (SQLite by default, PostgreSQL in CI):
subtrees are prefix queries whose SQL differs between the two.
"""

import math

import pytest

from grassroots.territory import queries
from grassroots.territory.levels import DEPTH, Level, code_problem
from grassroots.territory.models import Region
from grassroots.territory.services import create_region
from tests.conftest import square


def codes(qs) -> set[str]:
    return {r.code for r in qs}


@pytest.fixture
def prefix_tree(tree):
    """The conftest tree plus siblings whose codes share a textual prefix with existing nodes.

    Street 110101001000 (东华门) gets a community 110101001010 ("…0010" starts like "…001");
    a second street 110101010000 (its code starts with "110101010", not a descendant of
    110101001000 but close in text) gets a community and a grid.
    """
    t = dict(tree)
    t["A10"] = create_region("110101001010", "正义路社区", Level.COMMUNITY, t["street"], square(116.42, 39.90, 0.01))
    t["A10_1"] = create_region("110101001010001", "正义路第一网格", Level.GRID, t["A10"], square(116.42, 39.90, 0.01))
    t["street2"] = create_region("110101010000", "东四街道", Level.STREET, t["dongcheng"])
    t["D"] = create_region("110101010001", "东四社区", Level.COMMUNITY, t["street2"])
    t["D1"] = create_region("110101010001001", "东四第一网格", Level.GRID, t["D"], square(116.43, 39.90, 0.01))
    return t


# --- paths ------------------------------------------------------------------------------


def test_paths_and_depths_follow_the_codes(tree):
    assert tree["province"].path == "/110000/"
    assert tree["province"].depth == 0
    assert tree["city"].path == "/110000/110100/"
    assert tree["street"].path == "/110000/110100/110101/110101001000/"
    assert tree["A1"].path == "/110000/110100/110101/110101001000/110101001001/110101001001001/"
    for key in ("province", "city", "dongcheng", "street", "A", "A1"):
        node = Region.objects.get(pk=tree[key].pk)
        assert node.depth == DEPTH[node.level]
        assert node.path.count("/") == node.depth + 2
    assert tree["A1"].ancestor_codes() == ["110000", "110100", "110101", "110101001000", "110101001001"]
    assert tree["province"].ancestor_codes() == []


def test_create_region_stores_centre_and_area(tree):
    a = Region.objects.get(pk=tree["A"].pk)
    # A is the square 116.40–116.41 × 39.90–39.91; its representative point lies inside it.
    assert 116.40 < a.center_lon < 116.41
    assert 39.90 < a.center_lat < 39.91
    # 0.01° × 0.01° at latitude 39.905: 1111.95 m × 1111.95 m × cos(39.905°)
    expected = (math.radians(0.01) * 6_371_008.8) ** 2 * math.cos(math.radians(39.905))
    assert a.area_m2 == pytest.approx(expected, rel=0.01)
    province = Region.objects.get(pk=tree["province"].pk)
    assert province.boundary is None and province.area_m2 is None and province.center_lon is None


# --- subtree ----------------------------------------------------------------------------


def test_subtree_of_street_excludes_textual_prefix_siblings(prefix_tree):
    t = prefix_tree
    got = codes(queries.subtree(t["street"]))
    assert got == {
        "110101001000",
        "110101001001", "110101001001001", "110101001001002",
        "110101001002", "110101001002001", "110101001002002",
        "110101001010", "110101001010001",
    }
    assert not got & {"110101010000", "110101010001", "110101010001001"}
    assert codes(queries.subtree(t["street2"])) == {"110101010000", "110101010001", "110101010001001"}


def test_subtree_of_community_excludes_prefix_sibling(prefix_tree):
    t = prefix_tree
    # 110101001001 vs 110101001010: neither's path is a prefix of the other's.
    assert codes(queries.subtree(t["A"])) == {"110101001001", "110101001001001", "110101001001002"}
    assert codes(queries.subtree(t["A10"])) == {"110101001010", "110101001010001"}


def test_subtree_of_district_and_root(prefix_tree):
    t = prefix_tree
    dongcheng = codes(queries.subtree(t["dongcheng"]))
    assert len(dongcheng) == 1 + 2 + 4 + 6  # the district, 2 streets, 4 communities, 6 grids
    assert dongcheng == {r.code for r in Region.objects.all()} - {
        "110000", "110100", "110102", "110102001000", "110102001001", "110102001001001"
    }
    assert codes(queries.subtree(t["xicheng"])) == {"110102", "110102001000", "110102001001", "110102001001001"}
    assert queries.subtree(t["province"]).count() == Region.objects.count()


def test_subtree_options(prefix_tree):
    t = prefix_tree
    without_self = codes(queries.subtree(t["street"], include_self=False))
    assert "110101001000" not in without_self
    assert len(without_self) == 8
    grids = codes(queries.subtree(t["dongcheng"], levels=[Level.GRID]))
    assert grids == {
        "110101001001001", "110101001001002", "110101001002001", "110101001002002",
        "110101001010001", "110101010001001",
    }
    streets_and_communities = queries.subtree(t["dongcheng"], levels=[Level.STREET, Level.COMMUNITY])
    assert {r.level for r in streets_and_communities} == {Level.STREET, Level.COMMUNITY}
    assert streets_and_communities.count() == 2 + 4
    # include_self=False with a level filter naming the node's own level
    assert codes(queries.subtree(t["street"], include_self=False, levels=[Level.STREET])) == set()
    assert codes(queries.subtree(t["street"], levels=[Level.STREET])) == {"110101001000"}
    # A grid's subtree is the grid alone.
    assert codes(queries.subtree(t["A1"])) == {"110101001001001"}
    assert queries.subtree(t["A1"], include_self=False).count() == 0


# --- listing, ancestors, counts ---------------------------------------------------------


def test_subtree_listing_is_in_tree_order_without_the_node(prefix_tree):
    t = prefix_tree
    rows = queries.subtree_listing(t["street"])
    assert [r[1] for r in rows] == [
        "110101001001", "110101001001001", "110101001001002",
        "110101001002", "110101001002001", "110101001002002",
        "110101001010", "110101001010001",
    ]
    by_code = {r[1]: r for r in rows}
    assert by_code["110101001001001"] == (t["A1"].pk, "110101001001001", "多福巷第一网格", t["A"].pk, 5)
    assert queries.LEVEL_AT_DEPTH[by_code["110101001001001"][4]] == "grid"
    assert by_code["110101001010"][3] == t["street"].pk
    assert queries.LEVEL_AT_DEPTH[by_code["110101001010"][4]] == "community"
    # Every row's parent comes before it.
    seen = {t["street"].pk}
    for row_id, _, _, parent_id, _ in rows:
        assert parent_id in seen
        seen.add(row_id)
    assert queries.subtree_listing(t["A1"]) == []


def test_ancestors_root_first(tree):
    assert [r.code for r in queries.ancestors(tree["A1"])] == [
        "110000", "110100", "110101", "110101001000", "110101001001"
    ]
    assert [r.name for r in queries.ancestors(tree["street_x"])] == ["北京市", "市辖区", "西城区"]
    assert queries.ancestors(tree["province"]) == []


def test_children_with_counts_counts_grids_below_each_child(prefix_tree):
    t = prefix_tree

    def counted(node):
        return [(c.code, c.grid_count) for c in queries.children_with_counts(node)]

    assert counted(t["province"]) == [("110100", 7)]
    assert counted(t["city"]) == [("110101", 6), ("110102", 1)]
    assert counted(t["dongcheng"]) == [("110101001000", 5), ("110101010000", 1)]
    assert counted(t["street"]) == [("110101001001", 2), ("110101001002", 2), ("110101001010", 1)]
    assert counted(t["A"]) == [("110101001001001", 1), ("110101001001002", 1)]
    assert counted(t["A1"]) == []


def test_children_with_counts_zero_for_empty_child_and_counts_grid_without_polygon(tree):
    t = tree
    create_region("110101001003", "空社区", Level.COMMUNITY, t["street"])
    create_region("110101001002003", "银闸第三网格", Level.GRID, t["B"])  # no boundary yet
    counted = {c.code: c.grid_count for c in queries.children_with_counts(t["street"])}
    assert counted == {"110101001001": 2, "110101001002": 3, "110101001003": 0}


def test_level_counts_exclude_the_node(prefix_tree):
    t = prefix_tree
    assert queries.level_counts(t["dongcheng"]) == {"street": 2, "community": 4, "grid": 6}
    assert queries.level_counts(t["province"]) == {
        "city": 1, "district": 2, "street": 3, "community": 5, "grid": 7
    }
    assert queries.level_counts(t["A"]) == {"grid": 2}
    assert queries.level_counts(t["A1"]) == {}


def test_district_of(tree):
    t = tree
    assert queries.district_of(t["A1"]) == t["dongcheng"]
    assert queries.district_of(t["A"]) == t["dongcheng"]
    assert queries.district_of(t["street_x"]) == t["xicheng"]
    assert queries.district_of(t["C1"]) == t["xicheng"]
    assert queries.district_of(t["dongcheng"]) == t["dongcheng"]
    assert queries.district_of(t["city"]) is None
    assert queries.district_of(t["province"]) is None


def test_departments_of_a_district(tree):
    assert [d.code for d in queries.departments_of(tree["dongcheng"])] == ["chengguan", "zhujian"]
    assert all(d.district_id == tree["dongcheng"].pk for d in queries.departments_of(tree["dongcheng"]))


# --- create_region's rules --------------------------------------------------------------


@pytest.mark.parametrize(
    "code, level, parent_key, fragment",
    [
        # wrong code format for the level
        ("11000", Level.PROVINCE, None, "省代码应为6 位 GB/T 2260 代码"),
        ("110101", Level.CITY, "province", "市代码应为"),
        ("110100", Level.DISTRICT, "city", "区/县代码的后两位不能为 00"),
        ("1101010010", Level.STREET, "dongcheng", "街道/乡镇代码应为12 位统计用区划代码，后三位为 0"),
        ("110101001001", Level.STREET, "dongcheng", "后三位为 0"),
        ("110101000000", Level.STREET, "dongcheng", "街道/乡镇代码第 7–9 位不能为 000"),
        ("11010100100A", Level.COMMUNITY, "street", "社区/村代码应为12 位统计用区划代码"),
        ("110101001000", Level.COMMUNITY, "street", "社区/村代码的第 7–9 位和第 10–12 位都不能为 000"),
        ("110101001001-01", Level.GRID, "A", "网格代码应为13–20 位字母或数字"),
        # wrong parent level
        ("110101001003", Level.COMMUNITY, "dongcheng", "社区/村的上级应为街道/乡镇"),
        ("110101001001003", Level.GRID, "street", "网格的上级应为社区/村"),
        ("110103", Level.DISTRICT, "province", "区/县的上级应为市"),
        # child code not under the parent's significant prefix
        ("110101002001", Level.COMMUNITY, "street", "代码“110101002001”应以上级“110101001000”的前 9 位“110101001”开头"),
        ("110101001002003", Level.GRID, "A", "应以上级“110101001001”的前 12 位“110101001001”开头"),
        ("110102002000", Level.STREET, "dongcheng", "的前 6 位“110101”开头"),
        ("120100", Level.CITY, "province", "的前 2 位“11”开头"),
        ("110201", Level.DISTRICT, "city", "的前 4 位“1101”开头"),
        # a node below the root needs a parent; a province must not have one
        ("110101001003", Level.COMMUNITY, None, "社区/村必须有上级"),
        ("120000", Level.PROVINCE, "province", "省级节点不能有上级"),
    ],
)
def test_create_region_rejects_with_a_chinese_reason(tree, code, level, parent_key, fragment):
    parent = tree[parent_key] if parent_key else None
    before = Region.objects.count()
    with pytest.raises(ValueError) as exc:
        create_region(code, "测试", level, parent)
    assert fragment in str(exc.value)
    assert Region.objects.count() == before


def test_grid_codes_of_13_to_20_characters_are_accepted(tree):
    short = create_region("1101010010013", "第三网格", Level.GRID, tree["A"])
    long = create_region("110101001001G0000001", "第四网格", Level.GRID, tree["A"])
    assert short.path.endswith("/110101001001/1101010010013/")
    assert long.depth == 5
    with pytest.raises(ValueError, match="网格代码应为13–20 位字母或数字"):
        create_region("110101001001G00000012", "第五网格", Level.GRID, tree["A"])


def test_code_problem_accepts_real_codes():
    assert code_problem(Level.PROVINCE, "110000") is None
    assert code_problem(Level.CITY, "110100") is None
    assert code_problem(Level.DISTRICT, "110101") is None
    assert code_problem(Level.STREET, "110101001000") is None
    assert code_problem(Level.COMMUNITY, "110101001001") is None
    assert code_problem(Level.GRID, "110101001001001") is None
    assert code_problem(Level.GRID, "110101001001G01") is None


def test_create_region_builds_a_valid_chain(db):
    p = create_region("120000", "天津市", Level.PROVINCE, None)
    c = create_region("120100", "市辖区", Level.CITY, p)
    d = create_region("120101", "和平区", Level.DISTRICT, c)
    s = create_region("120101001000", "劝业场街道", Level.STREET, d)
    m = create_region("120101001001", "花园路社区", Level.COMMUNITY, s)
    g = create_region("120101001001001", "花园路第一网格", Level.GRID, m, square(117.2, 39.12, 0.002))
    assert g.path == "/120000/120100/120101/120101001000/120101001001/120101001001001/"
    assert g.depth == 5
    assert [r.code for r in queries.ancestors(g)] == ["120000", "120100", "120101", "120101001000", "120101001001"]
    assert queries.district_of(g) == d
