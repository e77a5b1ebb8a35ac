"""Workbook import: every error class named by sheet, row, column and reason (in Chinese), dry
runs, "all or nothing" against "valid rows + error workbook", and idempotent re-import."""

from datetime import date

import pytest

from grassroots.ledger import services
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Address, Building, House, Household, LedgerEvent, Person
from grassroots.ledger.workbooks import (
    ALL_OR_NOTHING,
    ERROR_SHEET,
    VALID_ROWS,
    ImportRefused,
    import_workbook,
    template_workbook,
)
from grassroots.lib import privacy
from tests.ledger_helpers import read_sheets, workbook

pytestmark = pytest.mark.django_db

A1, A2, B1, C1 = "110101001001001", "110101001001002", "110101001002001", "110101001001999"


def ids(n, start=1):
    return [make_id("110101", date(1950 + i % 60, 1 + i % 12, 1 + i % 28), i % 1000) for i in range(start, start + n)]


def good_book(n_households=3, grid=A1, prefix="T"):
    addresses, houses, households, persons = [], [], [], []
    numbers = ids(n_households * 2)
    for i in range(n_households):
        code = f"{prefix}-ADDR-{i:04d}"
        addresses.append([code, grid, "金宝花园", str(1 + i // 10), "1", str(101 + i), "116.402", "39.905"])
        houses.append([code, "住宅", "88.5", numbers[2 * i], "", "自住"])
        households.append([f"{prefix}-HH-{i:04d}", code, numbers[2 * i]])
        persons.append([numbers[2 * i], f"张{i}", "13800000000"[: 11 - len(str(i))] + str(i), "汉族", "户籍",
                        f"{prefix}-HH-{i:04d}", "户主", "2020-05-01"])
        persons.append([numbers[2 * i + 1], f"李{i}", "", "汉族", "常住", f"{prefix}-HH-{i:04d}", "配偶", ""])
    return {"地址": addresses, "房屋": houses, "户": households, "人口": persons}


def test_a_clean_workbook_imports_everything_and_links_heads_and_owners(users):
    result = import_workbook(users["community_staff"], workbook(good_book()))
    assert result.errors == [] and result.written
    assert {k: v.created for k, v in result.counts.items()} == {"地址": 3, "房屋": 3, "户": 3, "人口": 6}
    assert Building.objects.count() == 1
    hh = Household.objects.get(number="T-HH-0001")
    assert hh.head.name == "张1" and hh.house.address.code == "T-ADDR-0001"
    assert hh.house.owner.name == "张1" and str(hh.house.area_m2) == "88.50"
    assert hh.house.address.text == "东城区东华门街道多福巷社区金宝花园1号楼1单元102室"
    wife = Person.objects.get(name="李1")
    assert wife.relation == "spouse" and wife.house == hh.house and wife.grid.code == A1


def test_the_same_file_twice_updates_and_never_duplicates(users):
    data = workbook(good_book())
    import_workbook(users["community_staff"], data)
    again = import_workbook(users["community_staff"], data)
    assert again.errors == []
    assert {k: (v.created, v.updated, v.unchanged) for k, v in again.counts.items()} == {
        "地址": (0, 0, 3), "房屋": (0, 0, 3), "户": (0, 0, 3), "人口": (0, 0, 6)}
    assert (Address.objects.count(), House.objects.count(), Household.objects.count(), Person.objects.count()) == (
        3, 3, 3, 6)


def test_a_changed_row_updates_and_a_move_is_kept_in_history(users):
    book = good_book()
    import_workbook(users["community_staff"], workbook(book))
    mover = book["人口"][1]  # 李0 moves to household 2
    mover[5] = "T-HH-0002"
    mover[6] = "其他"
    book["人口"][0][2] = "13911112222"  # 张0 changes phone
    result = import_workbook(users["community_staff"], workbook(book))
    assert result.counts["人口"].updated == 2 and Person.objects.count() == 6
    li = Person.objects.get(name="李0")
    assert li.household.number == "T-HH-0002"
    move = LedgerEvent.objects.get(subject="person", subject_id=li.pk, action="move")
    assert move.data["before"]["household"] == "T-HH-0000" and move.data["after"]["household"] == "T-HH-0002"
    zhang = Person.objects.get(name="张0")
    assert zhang.phone_hash == privacy.digest("phone", "13911112222") and zhang.phone == "139****2222"


def test_every_error_class_is_named_with_sheet_row_column_and_reason(users, tree):
    good = ids(3, start=500)
    bad_check = good[0][:17] + ("0" if good[0][17] != "0" else "1")
    book = {
        "地址": [
            ["E-1", A1, "小区", "1", "1", "101", "", ""],          # row 2 ok
            ["E-2", "999999999999999", "小区", "1", "1", "102", "", ""],  # 3 unknown grid
            ["E-3", C1, "小区", "1", "1", "103", "", ""],          # 4 unknown grid code (no such grid)
            ["E-4", "110102001001001", "小区", "1", "1", "104", "", ""],  # 5 outside scope (西城区)
            ["E-1", A1, "小区", "1", "1", "105", "", ""],          # 6 duplicate code
            ["E-6", A1, "小区", "", "1", "106", "", ""],           # 7 missing building
            ["E-7", A1, "小区", "1", "1", "107", "abc", "39.9"],   # 8 not a number
            ["E-8", A1, "小区", "1", "1", "108", "116.4", ""],     # 9 lon without lat
        ],
        "房屋": [
            ["E-1", "宿舍", "80", "", "", "自住"],                    # 2 unknown use
            ["E-9", "住宅", "80", "", "", "自住"],                    # 3 unknown address
            ["E-2", "住宅", "80", "", "", "自住"],                    # 4 address row broken
            ["E-1", "住宅", "-5", "", "", "自住"],                    # 5 area out of range (and duplicate)
        ],
        "户": [
            ["HH-1", "E-1", ""],                                     # 2 ok
            ["HH-2", "E-3", ""],                                     # 3 address broken
            ["HH-3", "E-1", bad_check],                              # 4 head id bad checksum
        ],
        "人口": [
            [good[0], "王一", "", "汉族", "户籍", "HH-1", "户主", ""],       # 2 ok
            [bad_check, "王二", "", "汉族", "户籍", "HH-1", "配偶", ""],     # 3 bad checksum
            ["1101011950", "王三", "", "汉族", "户籍", "HH-1", "子女", ""],  # 4 wrong length
            [good[1], "", "", "汉族", "户籍", "HH-1", "子女", ""],          # 5 missing name
            [good[2], "王五", "12345", "汉族", "户籍", "HH-1", "子女", ""],  # 6 bad phone
            [good[0], "王六", "", "汉族", "户籍", "HH-1", "子女", ""],       # 7 duplicate ID
            [ids(1, 700)[0], "王七", "", "汉族", "暂住", "HH-1", "子女", ""],  # 8 unknown status
            [ids(1, 701)[0], "王八", "", "汉族", "户籍", "HH-9", "子女", ""],  # 9 unknown household
            [ids(1, 702)[0], "王九", "", "汉族", "户籍", "HH-2", "子女", ""],  # 10 household row broken
            [ids(1, 703)[0], "王十", "", "汉族", "户籍", "HH-1", "表亲", ""],  # 11 unknown relation
            [ids(1, 704)[0], "王十一", "", "汉族", "户籍", "HH-1", "子女", "2020-13-01"],  # 12 bad date
            [ids(1, 705)[0], "王十二", "", "汉族", "户籍", "", "", ""],      # 13 neither household nor grid
            [int(ids(1, 706)[0][:15]), "王十三", "", "汉族", "户籍", "HH-1", "子女", ""],  # 14 number cell
        ],
    }
    result = import_workbook(users["community_staff"], workbook(book), mode=ALL_OR_NOTHING)
    assert not result.written and Person.objects.count() == 0 and Address.objects.count() == 0
    got = {(e.sheet, e.row, e.column): e.reason for e in result.errors}

    def reason(sheet, row, column):
        assert (sheet, row, column) in got, sorted(got)
        return got[(sheet, row, column)]

    assert "网格编码“999999999999999”不存在" in reason("地址", 3, "网格编码")
    assert "不存在" in reason("地址", 4, "网格编码")
    assert "不在您的辖区内" in reason("地址", 5, "网格编码")
    assert "与第 2 行重复" in reason("地址", 6, "地址编码")
    assert "“楼栋”不能为空" in reason("地址", 7, "楼栋")
    assert "应为数字" in reason("地址", 8, "楼栋经度")
    assert "需同时填写" in reason("地址", 9, "楼栋纬度")
    assert "应为以下之一：住宅" in reason("房屋", 2, "用途")
    assert "“E-9”不存在" in reason("房屋", 3, "地址编码")
    assert "“地址”第 3 行有错误" in reason("房屋", 4, "地址编码")
    assert "大于 0" in reason("房屋", 5, "专有面积（平方米）")
    assert "“地址”第 4 行有错误" in reason("户", 3, "地址编码")
    assert "校验码不正确" in reason("户", 4, "户主身份证号")
    assert "校验码不正确" in reason("人口", 3, "公民身份号码")
    assert "应为 18 位" in reason("人口", 4, "公民身份号码")
    assert "“姓名”不能为空" in reason("人口", 5, "姓名")
    assert "11 位手机号" in reason("人口", 6, "联系电话")
    assert "与第 2 行重复" in reason("人口", 7, "公民身份号码")
    assert "户籍、常住、流动、人户分离" in reason("人口", 8, "居住类型")
    assert "户号“HH-9”不存在" in reason("人口", 9, "户号")
    assert "“户”第 3 行有错误" in reason("人口", 10, "户号")
    assert "应为以下之一" in reason("人口", 11, "与户主关系")
    assert "日期格式" in reason("人口", 12, "迁入日期")
    assert "请填写户号" in reason("人口", 13, "户号")
    assert "文本格式" in reason("人口", 14, "公民身份号码")
    assert ("人口", 2, "公民身份号码") not in got


def test_a_missing_required_column_is_reported(users):
    headers = {"人口": ["公民身份号码", "联系电话", "居住类型", "户号"]}
    result = import_workbook(users["community_staff"], workbook({"人口": [[ids(1)[0], "", "户籍", "X"]]}, headers=headers))
    assert any(e.column == "姓名" and "缺少必填列“姓名”" in e.reason for e in result.errors)


def test_not_a_workbook_and_no_known_sheet_are_refused(users):
    with pytest.raises(ImportRefused, match="不是有效的 Excel"):
        import_workbook(users["community_staff"], b"PK\x03\x04 not really")
    with pytest.raises(ImportRefused, match="没有可导入的工作表"):
        import_workbook(users["community_staff"], _other_sheet())


def _other_sheet():
    import io

    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Sheet1"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_dry_run_writes_nothing_and_counts_what_would_happen(users):
    result = import_workbook(users["community_staff"], workbook(good_book()), dry_run=True)
    assert result.errors == [] and not result.written
    assert result.counts["人口"].valid == 6 and Person.objects.count() == 0


def test_valid_rows_mode_imports_the_rest_and_the_error_workbook_can_be_fixed_and_reimported(users):
    book = good_book(5)
    broken_id = book["人口"][3][0]
    book["人口"][3][0] = broken_id[:-1] + ("0" if broken_id[-1] != "0" else "1")  # 李1: wrong check digit
    book["户"][4][1] = "T-ADDR-9999"  # household 4 points at an unknown address → its two persons fail too
    result = import_workbook(users["community_staff"], workbook(book), mode=VALID_ROWS)
    assert result.written
    assert Person.objects.count() == 7 and Household.objects.count() == 4
    assert result.error_rows == 4  # 1 household + 3 persons (李1, 张4, 李4)
    errors = read_sheets(result.error_workbook())
    assert errors[ERROR_SHEET][0] == ["工作表", "行号", "列", "错误原因"]
    assert any(r[:3] == ["人口", 5, "公民身份号码"] for r in errors[ERROR_SHEET])
    assert errors["人口"][0][-1] == "错误原因" and len(errors["人口"]) == 4
    # fix the rows in the error workbook itself and import it again
    fixed = {}
    for name in ("户", "人口"):
        rows = [r[:-1] for r in errors[name][1:]]
        for r in rows:
            if name == "户":
                r[1] = "T-ADDR-0004"
            elif r[1] == "李1":
                r[0] = broken_id
        fixed[name] = rows
    again = import_workbook(users["community_staff"], workbook(fixed), mode=ALL_OR_NOTHING)
    assert again.errors == [] and again.written
    assert Person.objects.count() == 10 and Household.objects.count() == 5
    # and the original (now fixed) file once more: nothing new
    book["人口"][3][0] = broken_id
    book["户"][4][1] = "T-ADDR-0004"
    import_workbook(users["community_staff"], workbook(book))
    assert Person.objects.count() == 10 and len(set(Person.objects.values_list("id_hash", flat=True))) == 10


def test_a_person_registered_elsewhere_cannot_be_taken_over(users, tree):
    other = good_book(1, grid=B1, prefix="B")
    import_workbook(users["community_staff_b"], workbook(other))
    mine = good_book(1, grid=A1, prefix="A")
    mine["人口"][0][0] = other["人口"][0][0]
    result = import_workbook(users["community_staff"], workbook(mine))
    assert any("已在其他辖区登记" in e.reason for e in result.errors)
    assert Person.objects.get(id_hash=privacy.digest("id", other["人口"][0][0])).grid.code == B1


def test_roles_without_import_are_refused(users):
    with pytest.raises(services.NotAllowed):
        import_workbook(users["leader"], workbook(good_book()))


def test_the_template_has_every_sheet_and_marks_required_columns():
    sheets = read_sheets(template_workbook())
    assert list(sheets) == ["填写说明", "地址", "房屋", "户", "人口"]
    assert sheets["人口"][0][:2] == ["公民身份号码*", "姓名*"]
