"""Do a community's grids cover it exactly once? (territory.coverage and `check_grids`)

conftest `tree`: community A = 116.40–116.41 × 39.90–39.91 split at lon 116.405 into A1
and A2; B likewise into B1/B2; C is covered by C1 alone. All three are clean.
"""

import math
import re
from io import StringIO

import pytest
import shapely
from django.core.management import CommandError, call_command

from grassroots.territory import geo, services
from grassroots.territory.coverage import check_community, check_region
from grassroots.territory.levels import Level
from grassroots.territory.models import Region
from tests.conftest import square

A1, A2 = "110101001001001", "110101001001002"
M_PER_DEG = math.radians(1) * 6_371_008.8  # ≈ 111,195 m per degree of latitude


def rect_m2(w_deg: float, h_deg: float, lat: float) -> float:
    """Area of a w×h degree rectangle centred on LAT, worked out by hand (not with geo)."""
    return (w_deg * M_PER_DEG * math.cos(math.radians(lat))) * (h_deg * M_PER_DEG)


def test_area_of_a_known_square():
    # 0.001° × 0.001° at latitude 39.9: 111.195 m north-south × 85.3 m east-west ≈ 9,486 m².
    small = shapely.box(116.40, 39.8995, 116.401, 39.9005)
    assert geo.area_m2(small) == pytest.approx(111.195 * 85.30, rel=0.01)
    assert geo.area_m2(small) == pytest.approx(rect_m2(0.001, 0.001, 39.9), rel=0.001)
    # The same square on the equator is larger by 1/cos(39.9°).
    equator = shapely.box(116.40, -0.0005, 116.401, 0.0005)
    assert geo.area_m2(equator) / geo.area_m2(small) == pytest.approx(1 / math.cos(math.radians(39.9)), rel=0.001)
    assert geo.area_m2(shapely.Polygon()) == 0.0


def test_clean_communities_are_ok(tree):
    for key in ("A", "B", "C"):
        report = check_community(tree[key])
        assert report.ok, report.problems()
        assert report.problems() == []
        assert report.overlaps == [] and report.gap_m2 == 0 and report.outside == [] and report.ungridded == []
        assert report.has_boundary
    assert check_community(tree["A"]).grid_count == 2
    assert check_community(tree["C"]).grid_count == 1


def test_overlap_reports_the_pair_and_its_area(tree):
    # A2 now starts 0.001° further west: a 0.001° × 0.01° strip is in both A1 and A2,
    # and the same strip no longer leaves a gap (A2 still reaches 116.41).
    services.set_boundary(tree["A2"], {"type": "Polygon", "coordinates": [
        [[116.404, 39.90], [116.41, 39.90], [116.41, 39.91], [116.404, 39.91], [116.404, 39.90]]
    ]})
    report = check_community(tree["A"])
    assert not report.ok
    assert len(report.overlaps) == 1
    overlap = report.overlaps[0]
    assert (overlap.a, overlap.b) == (A1, A2)
    assert (overlap.a_name, overlap.b_name) == ("多福巷第一网格", "多福巷第二网格")
    expected = geo.area_m2(shapely.box(116.404, 39.90, 116.405, 39.91))
    assert overlap.area_m2 == pytest.approx(expected, rel=0.01)
    assert overlap.area_m2 == pytest.approx(rect_m2(0.001, 0.01, 39.905), rel=0.01)  # ≈ 94,8xx m²
    assert report.gap_m2 == 0 and report.outside == []
    assert report.problems() == [f"网格 {A1} 与 {A2} 重叠 {overlap.area_m2:,.0f} 平方米"]


def test_three_grids_overlapping_in_pairs(tree):
    third = services.create_region("110101001001003", "第三网格", Level.GRID, tree["A"], square(116.404, 39.904, 0.002))
    pairs = {(o.a, o.b) for o in check_community(tree["A"]).overlaps}
    assert pairs == {(A1, third.code), (A2, third.code)}
    areas = {(o.a, o.b): o.area_m2 for o in check_community(tree["A"]).overlaps}
    assert areas[(A1, third.code)] == pytest.approx(rect_m2(0.001, 0.002, 39.905), rel=0.01)


def test_gap_is_measured(tree):
    # A2 shrinks to 116.405–116.409: a 0.001° × 0.01° strip of A is in no grid.
    services.set_boundary(tree["A2"], square(116.405, 39.90, 0.004, 0.01))
    report = check_community(tree["A"])
    assert not report.ok
    assert report.overlaps == [] and report.outside == []
    assert report.gap_m2 == pytest.approx(geo.area_m2(shapely.box(116.409, 39.90, 116.41, 39.91)), rel=0.01)
    assert report.gap_m2 == pytest.approx(rect_m2(0.001, 0.01, 39.905), rel=0.01)
    gap = geo.to_geometry(report.gap_geojson)
    assert gap.contains(shapely.Point(116.4095, 39.905))
    assert not gap.contains(shapely.Point(116.402, 39.905))
    assert any("未被任何网格覆盖" in line for line in report.problems())


def test_grid_spilling_outside_the_community(tree):
    # A2 reaches 0.002° past A's eastern edge (into B's area; B's check does not care).
    services.set_boundary(tree["A2"], square(116.405, 39.90, 0.007, 0.01))
    report = check_community(tree["A"])
    assert not report.ok
    assert report.overlaps == [] and report.gap_m2 == 0
    assert [code for code, _ in report.outside] == [A2]
    assert report.outside[0][1] == pytest.approx(rect_m2(0.002, 0.01, 39.905), rel=0.01)
    assert any(f"网格 {A2} 有" in line and "超出社区边界" in line for line in report.problems())
    assert check_community(tree["B"]).ok


def test_grid_without_polygon_is_ungridded(tree):
    services.create_region("110101001001003", "待划网格", Level.GRID, tree["A"])
    report = check_community(tree["A"])
    assert not report.ok
    assert report.ungridded == ["110101001001003"]
    assert report.grid_count == 3
    assert report.overlaps == [] and report.gap_m2 == 0
    assert "1 个网格没有边界：110101001001003" in report.problems()


def test_community_with_boundary_but_no_grid_polygon_is_one_big_gap(tree):
    empty = services.create_region("110101001003", "新社区", Level.COMMUNITY, tree["street"], square(116.43, 39.90, 0.01))
    report = check_community(empty)
    assert not report.ok
    assert report.grid_count == 0
    assert report.gap_m2 == pytest.approx(rect_m2(0.01, 0.01, 39.905), rel=0.01)


def test_community_without_boundary_checks_only_overlaps(tree):
    services.set_boundary(tree["A"], None)
    # A2 overlaps A1 by a 0.001° strip AND reaches beyond A's old outline.
    services.set_boundary(tree["A2"], square(116.404, 39.90, 0.01, 0.01))
    report = check_community(tree["A"])
    assert not report.has_boundary
    assert [(o.a, o.b) for o in report.overlaps] == [(A1, A2)]
    assert report.gap_m2 == 0 and report.gap_geojson is None
    assert report.outside == []
    assert report.problems()[-1] == "社区未设置边界，只检查了网格之间的重叠"

    # Without overlaps, the only line left is the note.
    services.set_boundary(tree["A2"], square(116.405, 39.90, 0.005, 0.01))
    assert check_community(tree["A"]).problems() == ["社区未设置边界，只检查了网格之间的重叠"]


def _shift_a2_west(deg: float):
    return {"type": "Polygon", "coordinates": [
        [[116.405 - deg, 39.90], [116.41, 39.90], [116.41, 39.91], [116.405 - deg, 39.91], [116.405 - deg, 39.90]]
    ]}


def test_slivers_below_the_tolerance_are_ignored(tree, settings):
    strip_m = 1111.95  # 0.01° of latitude
    m_per_deg_lon = M_PER_DEG * math.cos(math.radians(39.905))
    half_m2 = 0.5 / strip_m / m_per_deg_lon  # a strip of 0.5 m²
    services.set_boundary(tree["A2"], _shift_a2_west(half_m2))
    report = check_community(tree["A"])
    assert report.ok, report.problems()

    services.set_boundary(tree["A2"], _shift_a2_west(4 * half_m2))  # 2 m²
    report = check_community(tree["A"])
    assert [(o.a, o.b) for o in report.overlaps] == [(A1, A2)]
    assert report.overlaps[0].area_m2 == pytest.approx(2.0, abs=0.1)

    # The tolerance is a setting.
    settings.GRID_CHECK_TOLERANCE_M2 = 5.0
    assert check_community(tree["A"]).ok
    settings.GRID_CHECK_TOLERANCE_M2 = 0.1
    services.set_boundary(tree["A2"], _shift_a2_west(half_m2))
    assert not check_community(tree["A"]).ok


def test_check_region_covers_every_community_below_the_node(tree):
    t = tree
    assert [r.code for r in check_region(t["province"])] == ["110101001001", "110101001002", "110102001001"]
    assert [r.code for r in check_region(t["dongcheng"])] == ["110101001001", "110101001002"]
    assert [r.code for r in check_region(t["street"])] == ["110101001001", "110101001002"]
    assert [r.code for r in check_region(t["xicheng"])] == ["110102001001"]
    assert [r.code for r in check_region(t["A"])] == ["110101001001"]
    assert [r.code for r in check_region(t["A1"])] == ["110101001001"]  # a grid: its community
    services.set_boundary(t["B2"], square(116.414, 39.90, 0.006, 0.01))
    bad = [r.code for r in check_region(t["dongcheng"]) if not r.ok]
    assert bad == ["110101001002"]
    assert all(r.ok for r in check_region(t["xicheng"]))


# --- the check_grids command ----------------------------------------------------------


def run_check(*args):
    out = StringIO()
    code = 0
    try:
        call_command("check_grids", *args, stdout=out)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_command_clean_exits_0(tree):
    code, out = run_check()
    assert code == 0
    assert "检查了 3 个社区，0 个有问题" in out
    code, out = run_check("--region", "110101")
    assert code == 0
    assert "检查了 2 个社区，0 个有问题" in out


def test_command_prints_problems_and_exits_1(tree):
    services.set_boundary(tree["A2"], square(116.404, 39.90, 0.006, 0.01))
    code, out = run_check()
    assert code == 1
    assert "110101001001 多福巷社区（2 个网格）" in out
    assert f"网格 {A1} 与 {A2} 重叠" in out
    assert "检查了 3 个社区，1 个有问题" in out
    assert "银闸社区" not in out

    code, out = run_check("--region", "110102")  # 西城 is clean
    assert code == 0
    assert "多福巷社区" not in out


def test_command_checks_every_root(tree):
    # A second province whose only community has overlapping grids.
    p = services.create_region("120000", "天津市", Level.PROVINCE, None)
    c = services.create_region("120100", "市辖区", Level.CITY, p)
    d = services.create_region("120101", "和平区", Level.DISTRICT, c)
    s = services.create_region("120101001000", "劝业场街道", Level.STREET, d)
    m = services.create_region("120101001001", "花园路社区", Level.COMMUNITY, s, square(117.20, 39.12, 0.01))
    services.create_region("120101001001001", "一", Level.GRID, m, square(117.20, 39.12, 0.006, 0.01))
    services.create_region("120101001001002", "二", Level.GRID, m, square(117.204, 39.12, 0.006, 0.01))
    code, out = run_check()
    assert code == 1
    assert "120101001001 花园路社区" in out
    assert "检查了 4 个社区，1 个有问题" in out


def test_command_unknown_region_and_empty_tree(db):
    with pytest.raises(CommandError, match="系统中还没有辖区数据"):
        call_command("check_grids", stdout=StringIO())
    with pytest.raises(CommandError, match="节点不存在：999999"):
        call_command("check_grids", "--region", "999999", stdout=StringIO())


def test_command_region_is_a_grid(tree):
    code, out = run_check("--region", A1)
    assert code == 0
    assert "检查了 1 个社区" in out


def test_problem_areas_are_shown_in_square_metres(tree):
    services.set_boundary(tree["A2"], square(116.405, 39.90, 0.004, 0.01))
    line = next(p for p in check_community(tree["A"]).problems() if "未被任何网格覆盖" in p)
    # ≈ 94,8xx m², printed as a whole number with thousands separators.
    shown = re.search(r"社区内有 ([\d,]+) 平方米", line).group(1)
    assert "," in shown
    assert int(shown.replace(",", "")) == pytest.approx(rect_m2(0.001, 0.01, 39.905), rel=0.01)
    assert Region.objects.get(pk=tree["A2"].pk).area_m2 == pytest.approx(rect_m2(0.004, 0.01, 39.905), rel=0.01)
