"""Importing a territory tree (CSV) and boundaries (GeoJSON): services.import_territory,
the `import_territory` command and the admin upload page /territory/import/.

The rule a user relies on: every row is checked first, each problem is named by file,
row (第 N 行) or feature (第 N 个要素) and column, and nothing is written unless all pass.
"""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from grassroots.territory import geo, queries
from grassroots.territory.coverage import check_region
from grassroots.territory.models import Region
from grassroots.territory.services import import_territory, import_territory_files
from tests.conftest import square

DATA = Path(__file__).parent / "data"
TREE_CSV = DATA / "dongcheng_tree.csv"
GRIDS_GEOJSON = DATA / "dongcheng_grids.geojson"
HEADER = "code,name,level,parent_code\n"


def feature(code, geometry, **props):
    return {"type": "Feature", "properties": {"code": code, **props}, "geometry": geometry}


def collection(*features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def snapshot():
    """Everything an import could change, to prove a failed import changed nothing."""
    return sorted(
        Region.objects.values_list("code", "name", "level", "parent_id", "path", "boundary", "updated_at")
    )


# --- a valid import ----------------------------------------------------------------------


def test_import_creates_the_tree_with_boundaries(db):
    report = import_territory_files(TREE_CSV, GRIDS_GEOJSON)
    assert report.ok, [str(e) for e in report.errors]
    assert (report.created, report.updated, report.boundaries) == (15, 0, 12)
    assert report.warnings == []
    assert Region.objects.count() == 15

    district = Region.objects.get(code="110101")
    assert district.name == "东城区" and district.level == "district"
    assert district.parent.code == "110100"
    grid = Region.objects.get(code="110101001001002")
    assert grid.level == "grid"
    assert grid.name == "多福巷第二网格"
    assert grid.path == "/110000/110100/110101/110101001000/110101001001/110101001001002/"
    assert grid.depth == 5
    assert grid.boundary["type"] == "Polygon"
    assert 116.405 < grid.center_lon < 116.41 and grid.area_m2 > 50_000
    # Chinese labels and English codes both give the right levels.
    assert Region.objects.get(code="110101002002").level == "community"  # 社区/村
    assert Region.objects.get(code="110000").level == "province"  # 省
    assert queries.level_counts(district) == {"street": 2, "community": 4, "grid": 6}
    # The imported grids are found by coordinates; the MultiPolygon grid too.
    assert geo.locate(116.402, 39.905).code == "110101001001001"
    assert geo.locate(116.401, 39.927).code == "110101002002001"  # west part
    assert geo.locate(116.409, 39.927).code == "110101002002001"  # east part
    assert geo.locate(116.405, 39.927).code == "110101002002002"  # the strip between them
    # And they cover their communities exactly once.
    assert all(r.ok for r in check_region(district)), [r.problems() for r in check_region(district)]


def test_reimport_is_idempotent_and_updates_names(db):
    assert import_territory_files(TREE_CSV, GRIDS_GEOJSON).ok
    ids = dict(Region.objects.values_list("code", "id"))
    before = snapshot()

    again = import_territory_files(TREE_CSV, GRIDS_GEOJSON)
    assert again.ok
    assert (again.created, again.updated, again.boundaries) == (0, 0, 0)
    assert snapshot() == before  # not even updated_at moved

    renamed = TREE_CSV.read_text(encoding="utf-8").replace("银闸社区", "银闸社区（新）").replace("吉祥第一网格", "吉祥网格")
    report = import_territory(renamed, None)
    assert report.ok
    assert (report.created, report.updated) == (0, 2)
    assert Region.objects.get(code="110101001002").name == "银闸社区（新）"
    assert Region.objects.get(code="110101002002001").name == "吉祥网格"
    assert dict(Region.objects.values_list("code", "id")) == ids
    assert Region.objects.get(code="110101002002001").boundary is not None  # a tree-only import keeps boundaries


def test_changed_boundary_is_updated_and_counted(db):
    assert import_territory_files(TREE_CSV, GRIDS_GEOJSON).ok
    moved = collection(feature("110101001002001", square(116.41, 39.90, 0.01, 0.02)))
    report = import_territory(None, moved)
    assert report.ok
    assert (report.created, report.updated, report.boundaries) == (0, 1, 1)
    assert geo.locate(116.415, 39.915).code == "110101001002001"


def test_dry_run_writes_nothing(db):
    report = import_territory_files(TREE_CSV, GRIDS_GEOJSON, dry_run=True)
    assert report.ok and report.dry_run
    assert (report.created, report.boundaries) == (15, 12)  # what would happen
    assert Region.objects.count() == 0
    assert geo.locate(116.402, 39.905) is None

    assert import_territory_files(TREE_CSV, None).ok
    renamed = TREE_CSV.read_text(encoding="utf-8").replace("东城区", "东城区（改）")
    report = import_territory(renamed, None, dry_run=True)
    assert report.ok and report.updated == 1
    assert Region.objects.get(code="110101").name == "东城区"


def test_rows_in_any_order_and_under_existing_parents(tree):
    # Children before parents; the street's parent (东城区) is already in the system.
    text = HEADER + (
        "110101002001001,隆福寺第一网格,网格,110101002001\n"
        "110101002001,隆福寺社区,社区,110101002000\n"
        "110101002000,景山街道,街道,110101\n"
    )
    report = import_territory(text, None)
    assert report.ok, [str(e) for e in report.errors]
    assert report.created == 3
    grid = Region.objects.get(code="110101002001001")
    assert grid.path == "/110000/110100/110101/110101002000/110101002001/110101002001001/"
    assert grid.parent.parent.parent == tree["dongcheng"]
    # A grid without a boundary is imported with a warning: it cannot be found by coordinates.
    assert report.warnings == ["1 个网格没有边界，无法按坐标定位：110101002001001"]


def test_utf8_bom_blank_lines_and_spaces_are_handled(tree):
    text = "\ufeff" + HEADER + "\n 110101001003 , 智德社区 , 社区 , 110101001000 \n\n"
    report = import_territory(text, None)
    assert report.ok, [str(e) for e in report.errors]
    assert Region.objects.get(code="110101001003").name == "智德社区"


def test_export_of_a_subtree_can_be_imported_again(tree, client, users):
    client.force_login(users["admin"])
    response = client.get("/territory/110101001000/export.csv")
    assert response.status_code == 200
    exported = response.content.decode("utf-8")
    assert exported.startswith("\ufeffcode,name,level,parent_code")
    before = snapshot()
    report = import_territory(exported, None, tree_source="territory-110101001000.csv")
    assert report.ok, [str(e) for e in report.errors]
    assert (report.created, report.updated) == (0, 0)
    assert snapshot() == before


# --- bad tree rows: a clear message, and nothing written ----------------------------------

# Every bad file below also holds two good rows: one renaming an existing community
# (多福巷社区 → 改名) and one adding a new community; neither may be written.
GOOD_ROWS = "110101001001,多福巷社区（改名）,社区,110101001000\n110101001003,智德社区,社区,110101001000\n"

BAD_TREE_CASES = [
    # (id, file text, where, column, message fragment)
    ("wrong-header", "code,name,level,parent\n" + GOOD_ROWS, "第 1 行", "表头", "表头应为 code,name,level,parent_code"),
    ("header-missing-column", "code,name,level\n110101001003,智德社区,社区\n", "第 1 行", "表头", "实际为 code,name,level"),
    ("unknown-extra-column", "code,name,level,parent_code,remark\n" + GOOD_ROWS, "第 1 行", "表头", "实际为 code,name,level,parent_code,remark"),
    ("extra-columns", HEADER + GOOD_ROWS + "110101001005,东厂社区,社区,110101001000,多余\n", "第 4 行", None, "列数多于表头"),
    ("empty-code", HEADER + GOOD_ROWS + ",东厂社区,社区,110101001000\n", "第 4 行", "code", "代码不能为空"),
    ("empty-name", HEADER + GOOD_ROWS + "110101001005,,社区,110101001000\n", "第 4 行", "name", "名称不能为空"),
    ("name-too-long", HEADER + GOOD_ROWS + f"110101001005,{'东' * 101},社区,110101001000\n", "第 4 行", "name", "不能超过 100 个字"),
    ("unknown-level", HEADER + GOOD_ROWS + "110101001005,东厂社区,小区,110101001000\n", "第 4 行", "level", "层级“小区”无法识别"),
    ("code-format", HEADER + GOOD_ROWS + "110101003001,交道口街道,街道,110101\n", "第 4 行", "code", "街道/乡镇代码应为12 位统计用区划代码，后三位为 0"),
    ("code-too-short", HEADER + GOOD_ROWS + "11010100105,东厂社区,社区,110101001000\n", "第 4 行", "code", "实际为“11010100105”"),
    ("duplicate-code", HEADER + GOOD_ROWS + "110101001003,智德社区二,社区,110101001000\n", "第 4 行", "code", "与第 3 行重复"),
    ("missing-parent-code", HEADER + GOOD_ROWS + "110101001005,东厂社区,社区,\n", "第 4 行", "parent_code", "社区/村必须填写上级代码"),
    ("parent-not-found", HEADER + GOOD_ROWS + "110101009001,东厂社区,社区,110101009000\n", "第 4 行", "parent_code", "上级代码“110101009000”在文件和系统中都不存在"),
    ("parent-wrong-level", HEADER + GOOD_ROWS + "110101001005,东厂社区,社区,110101\n", "第 4 行", "parent_code", "社区/村的上级应为街道/乡镇，“110101”是区/县"),
    ("parent-in-file-wrong-level", HEADER + GOOD_ROWS + "110101001001009,网格,网格,110101001000\n", "第 4 行", "parent_code", "网格的上级应为社区/村"),
    ("not-under-parent-prefix", HEADER + GOOD_ROWS + "110101002005,东厂社区,社区,110101001000\n", "第 4 行", "code", "应以上级“110101001000”的前 9 位“110101001”开头"),
    ("province-with-parent", HEADER + GOOD_ROWS + "120000,天津市,省,110000\n", "第 4 行", "parent_code", "省级节点不应有上级代码"),
    ("move-existing-node", HEADER + GOOD_ROWS + "110101002000,景山街道,街道,110101\n110101001002,银闸社区,社区,110101002000\n", "第 5 行", "parent_code", "系统中“110101001002”属于“110101001000”，导入不能移动节点"),
    ("change-level", HEADER + GOOD_ROWS + "110101001002,银闸社区,街道,110101\n", "第 4 行", "level", "系统中“110101001002”是社区/村，导入不能改变层级"),
    ("change-level-of-root", HEADER + GOOD_ROWS + "110000,北京市,市,\n", "第 4 行", "level", "系统中“110000”是省，导入不能改变层级"),
    ("line-number-after-blank-line", HEADER + GOOD_ROWS + "\n\n110101001005,,社区,110101001000\n", "第 6 行", "name", "名称不能为空"),
    ("quoted-name-over-two-lines", HEADER + GOOD_ROWS + '110101001005,"东厂\n社区",社区,110101001000\n110101001006,,社区,110101001000\n', "第 6 行", "name", "名称不能为空"),
]


@pytest.mark.parametrize(
    "text, where, column, fragment", [c[1:] for c in BAD_TREE_CASES], ids=[c[0] for c in BAD_TREE_CASES]
)
def test_bad_tree_row_is_named_and_nothing_is_written(tree, text, where, column, fragment):
    before = snapshot()
    report = import_territory(text, None, tree_source="东城区辖区.csv")
    assert not report.ok
    messages = [str(e) for e in report.errors]
    matching = [m for m in messages if fragment in m]
    assert matching, messages
    message = matching[0]
    assert message.startswith(f"东城区辖区.csv {where}"), message
    if column:
        assert f"（{column}）" in message
    # Nothing written: no new node, and the good rename in the same file was not applied.
    assert snapshot() == before
    assert Region.objects.get(code="110101001001").name == "多福巷社区"
    assert not Region.objects.filter(code="110101001003").exists()
    assert report.created == report.updated == 0


def test_every_bad_row_is_reported_not_just_the_first(tree):
    text = HEADER + (
        "110101001005,,社区,110101001000\n"
        "110101001006,东厂社区,小区,110101001000\n"
        "110101001007,南池子社区,社区,110101009000\n"
    )
    report = import_territory(text, None, tree_source="t.csv")
    assert [(e.where, e.column) for e in report.errors] == [
        ("第 2 行", "name"), ("第 3 行", "level"), ("第 4 行", "parent_code")
    ]


def test_empty_and_header_only_files(tree):
    before = snapshot()
    for text in ("", "\ufeff", "\n\n"):
        report = import_territory(text, None, tree_source="空.csv")
        assert [str(e) for e in report.errors] == ["空.csv：文件为空，应有表头 code,name,level,parent_code 和数据行"]
    report = import_territory(HEADER, None, tree_source="只有表头.csv")
    assert [str(e) for e in report.errors] == ["只有表头.csv：文件中没有数据行"]
    assert snapshot() == before


# --- bad GeoJSON -------------------------------------------------------------------------

A1 = "110101001001001"
GOOD_FEATURE = feature(A1, square(116.40, 39.95, 0.005, 0.01))  # would move A1: must not be written
BOWTIE = {"type": "Polygon", "coordinates": [[[116.40, 39.90], [116.41, 39.91], [116.41, 39.90], [116.40, 39.91], [116.40, 39.90]]]}

BAD_GEOJSON_CASES = [
    # (id, file text, where, column, fragment)
    ("not-json", '{"type": "FeatureCollection", "features": [\n{"type": ', "第 2 行", None, "不是有效的 JSON"),
    ("not-a-collection", json.dumps(GOOD_FEATURE), None, None, "应为 GeoJSON FeatureCollection"),
    ("features-not-a-list", '{"type": "FeatureCollection", "features": {}}', None, None, "应为 GeoJSON FeatureCollection"),
    ("not-a-feature", collection(GOOD_FEATURE, square(116.4, 39.9, 0.01)), "第 2 个要素", None, "不是 GeoJSON Feature"),
    ("no-code", collection(GOOD_FEATURE, {"type": "Feature", "properties": {"name": "无名"}, "geometry": square(116.4, 39.9, 0.01)}), "第 2 个要素", "properties.code", "缺少节点代码"),
    ("no-properties", collection(GOOD_FEATURE, {"type": "Feature", "properties": None, "geometry": square(116.4, 39.9, 0.01)}), "第 2 个要素", "properties.code", "缺少节点代码"),
    ("properties-not-an-object", collection(GOOD_FEATURE, {"type": "Feature", "properties": "110101001001002", "geometry": square(116.4, 39.9, 0.01)}), "第 2 个要素", "properties.code", "缺少节点代码"),
    ("unknown-code", collection(GOOD_FEATURE, feature("110101001009001", square(116.4, 39.9, 0.01))), "第 2 个要素（110101001009001）", "properties.code", "代码“110101001009001”在文件和系统中都不存在"),
    ("duplicate-feature", collection(GOOD_FEATURE, feature(A1, square(116.40, 39.90, 0.005, 0.01))), f"第 2 个要素（{A1}）", "properties.code", "同一节点出现了多个边界要素"),
    ("point", collection(GOOD_FEATURE, feature("110101001001002", {"type": "Point", "coordinates": [116.4, 39.9]})), "第 2 个要素（110101001001002）", "geometry", "几何类型应为 Polygon 或 MultiPolygon"),
    ("linestring", collection(GOOD_FEATURE, feature("110101001001002", {"type": "LineString", "coordinates": [[116.4, 39.9], [116.41, 39.91]]})), "第 2 个要素", "geometry", "几何类型应为 Polygon 或 MultiPolygon"),
    ("no-geometry", collection(GOOD_FEATURE, feature("110101001001002", None)), "第 2 个要素", "geometry", "几何类型应为 Polygon 或 MultiPolygon"),
    ("malformed-coordinates", collection(GOOD_FEATURE, feature("110101001001002", {"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41]]]})), "第 2 个要素", "geometry", "坐标格式错误"),
    ("text-coordinates", collection(GOOD_FEATURE, feature("110101001001002", {"type": "Polygon", "coordinates": [[["116.4", "x"], ["a", "b"], ["c", "d"], ["116.4", "x"]]]})), "第 2 个要素", "geometry", "坐标格式错误"),
    ("too-few-points", collection(GOOD_FEATURE, feature("110101001001002", {"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.4, 39.9]]]})), "第 2 个要素", "geometry", "多边形无效"),
    ("bow-tie", collection(GOOD_FEATURE, feature("110101001001002", BOWTIE)), "第 2 个要素（110101001001002）", "geometry", "多边形无效：边界自相交"),
    ("outside-china", collection(GOOD_FEATURE, feature("110101001001002", square(2.35, 48.85, 0.01))), "第 2 个要素", "geometry", "坐标超出中国范围"),
    ("swapped-lon-lat", collection(GOOD_FEATURE, feature("110101001001002", square(39.90, 116.40, 0.01))), "第 2 个要素", "geometry", "颠倒"),
]


@pytest.mark.parametrize(
    "text, where, column, fragment", [c[1:] for c in BAD_GEOJSON_CASES], ids=[c[0] for c in BAD_GEOJSON_CASES]
)
def test_bad_geojson_is_named_and_nothing_is_written(tree, text, where, column, fragment):
    before = snapshot()
    report = import_territory(None, text, grids_source="网格边界.geojson")
    assert not report.ok
    messages = [str(e) for e in report.errors]
    matching = [m for m in messages if fragment in m]
    assert matching, messages
    message = matching[0]
    assert message.startswith(f"网格边界.geojson {where}" if where else "网格边界.geojson："), message
    if column:
        assert f"（{column}）" in message
    assert snapshot() == before
    assert Region.objects.get(code=A1).boundary == tree["A1"].boundary
    assert geo.locate(116.402, 39.905).code == A1


def test_outside_china_message_has_no_swap_hint_when_not_swapped(tree):
    report = import_territory(None, collection(feature(A1, square(2.35, 48.85, 0.01))))
    assert len(report.errors) == 1
    assert "颠倒" not in str(report.errors[0])


def test_bad_geojson_blocks_a_good_tree_file(tree):
    text = HEADER + "110101001003,智德社区,社区,110101001000\n"
    report = import_territory(text, collection(feature("110101001003", BOWTIE)))
    assert not report.ok
    assert not Region.objects.filter(code="110101001003").exists()


def test_geojson_may_name_nodes_created_by_the_same_import(db):
    tree_text = TREE_CSV.read_text(encoding="utf-8")
    report = import_territory(tree_text, collection(feature("110101001001001", square(116.40, 39.90, 0.005, 0.01))))
    assert report.ok
    assert Region.objects.get(code="110101001001001").boundary is not None
    assert report.warnings == [
        "5 个网格没有边界，无法按坐标定位："
        "110101001001002、110101001002001、110101002001001、110101002002001、110101002002002"
    ]


# --- the command -------------------------------------------------------------------------


def test_command_imports_and_reports_counts(db):
    out = StringIO()
    call_command("import_territory", "--tree", str(TREE_CSV), "--grids", str(GRIDS_GEOJSON), stdout=out)
    assert "导入完成：新建 15 个节点，更新 0 个，边界 12 个" in out.getvalue()
    assert Region.objects.count() == 15
    out = StringIO()
    call_command("import_territory", "--tree", str(TREE_CSV), "--grids", str(GRIDS_GEOJSON), stdout=out)
    assert "导入完成：新建 0 个节点，更新 0 个，边界 0 个" in out.getvalue()


def test_command_dry_run(db):
    out = StringIO()
    call_command("import_territory", "--tree", str(TREE_CSV), "--grids", str(GRIDS_GEOJSON), "--dry-run", stdout=out)
    assert "检查通过（试运行，未写入）：新建 15 个节点" in out.getvalue()
    assert Region.objects.count() == 0


def test_command_prints_every_problem_and_writes_nothing(tree, tmp_path):
    bad = tmp_path / "坏的.csv"
    bad.write_text(HEADER + GOOD_ROWS + "110101001005,,社区,110101001000\n110101001006,东厂社区,小区,110101001000\n", encoding="utf-8")
    before = snapshot()
    err = StringIO()
    with pytest.raises(CommandError, match="发现 2 处错误，未导入任何数据"):
        call_command("import_territory", "--tree", str(bad), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert lines == [
        "坏的.csv 第 4 行（name）：名称不能为空",
        "坏的.csv 第 5 行（level）：层级“小区”无法识别，应为 province/city/district/street/community/grid 或 省/市/区/县/街道/乡镇/社区/村/网格",
    ]
    assert snapshot() == before


def test_command_with_bom_file(tree, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufeff" + HEADER + "110101001003,智德社区,社区,110101001000\n").encode("utf-8"))
    out = StringIO()
    call_command("import_territory", "--tree", str(path), stdout=out)
    assert "新建 1 个节点" in out.getvalue()
    assert Region.objects.get(code="110101001003").parent == tree["street"]


def test_command_rejects_a_file_that_is_not_utf8(tree, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "110101001003,智德社区,社区,110101001000\n").encode("gbk"))
    err = StringIO()
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command("import_territory", "--tree", str(path), stdout=StringIO(), stderr=err)
    assert "gbk.csv：不是 UTF-8 编码的文本文件" in err.getvalue()
    assert not Region.objects.filter(code="110101001003").exists()


def test_command_argument_errors(db, tmp_path):
    with pytest.raises(CommandError, match="请至少指定 --tree 或 --grids"):
        call_command("import_territory", stdout=StringIO())
    with pytest.raises(CommandError, match="文件不存在"):
        call_command("import_territory", "--tree", str(tmp_path / "missing.csv"), stdout=StringIO())


# --- the admin upload page ----------------------------------------------------------------


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_upload_page_rejects_a_bad_file_with_the_chinese_message(tree, users, client):
    client.force_login(users["admin"])
    before = snapshot()
    text = HEADER + GOOD_ROWS + "110101001005,东厂社区,小区,110101001000\n"
    response = client.post("/territory/import/", {"tree": upload("上传.csv", text)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "第 4 行" in page
    assert "层级“小区”无法识别" in page
    assert "上传.csv" in page
    assert snapshot() == before


def test_upload_page_bad_geojson(tree, users, client):
    client.force_login(users["admin"])
    before = snapshot()
    bad = collection(feature("110101001001002", square(39.90, 116.40, 0.005)))
    response = client.post(
        "/territory/import/",
        {"grids": SimpleUploadedFile("边界.geojson", bad.encode("utf-8"), content_type="application/geo+json")},
    )
    assert response.status_code == 400
    assert "颠倒" in response.content.decode()
    assert snapshot() == before


def test_upload_page_imports_a_good_file_and_dry_run_writes_nothing(tree, users, client):
    client.force_login(users["admin"])
    text = "\ufeff" + HEADER + "110101001003,智德社区,社区,110101001000\n"
    response = client.get("/territory/import/")
    assert response.status_code == 200
    response = client.post("/territory/import/", {"tree": upload("t.csv", text), "dry_run": "on"})
    assert response.status_code == 200
    assert not Region.objects.filter(code="110101001003").exists()
    response = client.post("/territory/import/", {"tree": upload("t.csv", text)})
    assert response.status_code == 200
    assert Region.objects.get(code="110101001003").name == "智德社区"


def test_upload_page_rejects_wrong_file_type_and_missing_file(tree, users, client):
    client.force_login(users["admin"])
    response = client.post("/territory/import/", {"tree": upload("t.txt", HEADER)})
    assert response.status_code == 400
    assert "文件类型应为 .csv" in response.content.decode()
    response = client.post("/territory/import/", {})
    assert response.status_code == 400
    assert "请至少选择一个文件" in response.content.decode()


@pytest.mark.parametrize("role", ["leader", "dispatcher", "grid_worker", "resident"])
def test_upload_page_is_for_admins_only(tree, users, client, role):
    client.force_login(users[role])
    before = snapshot()
    text = HEADER + "110101001003,智德社区,社区,110101001000\n"
    assert client.get("/territory/import/").status_code == 403
    response = client.post("/territory/import/", {"tree": upload("t.csv", text)})
    assert response.status_code == 403
    assert snapshot() == before


def test_upload_page_needs_login(db, client):
    response = client.get("/territory/import/")
    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]


# --- the importing admin's scope -----------------------------------------------------------


@pytest.mark.parametrize(
    "rows, message",
    [
        ("110102,西城区（改名）,区,110100\n", "“110102”不在您的管辖范围（东城区）内"),
        ("110102001002,新社区,社区,110102001000\n", "上级“110102001000”不在您的管辖范围（东城区）内"),
        ("110103,新区,区,110100\n", "上级“110100”不在您的管辖范围（东城区）内"),
        ("110000,北京市,省,\n", "不在您的管辖范围（东城区）内"),
    ],
)
def test_upload_cannot_change_anything_outside_the_admins_scope(tree, users, client, rows, message):
    client.force_login(users["admin"])  # scoped to 东城区
    before = snapshot()
    text = HEADER + "110101001003,智德社区,社区,110101001000\n" + rows
    response = client.post("/territory/import/", {"tree": upload("t.csv", text)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_upload_cannot_redraw_a_boundary_outside_the_admins_scope(tree, users, client):
    client.force_login(users["admin"])
    before = snapshot()
    outside = collection(feature("110102001001001", square(116.31, 39.90, 0.01)))
    response = client.post(
        "/territory/import/",
        {"grids": SimpleUploadedFile("b.geojson", outside.encode("utf-8"), content_type="application/geo+json")},
    )
    assert response.status_code == 400
    assert "该节点不在您的管辖范围（东城区）内" in response.content.decode()
    assert snapshot() == before


def test_upload_inside_the_scope_may_add_new_nodes_below_new_nodes(tree, users, client):
    client.force_login(users["admin"])
    text = HEADER + "110101001003,智德社区,社区,110101001000\n110101001003001,智德第一网格,网格,110101001003\n"
    response = client.post("/territory/import/", {"tree": upload("t.csv", text)})
    assert response.status_code == 200, response.content.decode()
    assert Region.objects.get(code="110101001003001").parent.code == "110101001003"
