"""Every workbook and CSV the platform writes: a text that a spreadsheet would run as a formula
(``=HYPERLINK(…)`` as a person's name, ``+…``, ``-…``, ``@…``, a leading tab) comes out as text
with a leading quote (lib.sheets), while numbers stay numbers. Real exports through the pages."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from openpyxl import Workbook, load_workbook

from grassroots.accounts.roles import Role
from grassroots.cases import services as case_services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case
from grassroots.cases.services import Report
from grassroots.disputes import services as dispute_services
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Person
from grassroots.lib import sheets
from grassroots.territory.models import Department, Region
from grassroots.territory.services import ensure_departments, import_territory
from tests.conftest import create_staff
from tests.ledger_helpers import ELDER_ID, SON_ID, household_in, person, workbook

pytestmark = pytest.mark.django_db

LINK = '=HYPERLINK("http://x","y")'
QUOTED = "'" + LINK


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def rows_of(content: bytes, sheet: str | None = None) -> list[list]:
    book = load_workbook(io.BytesIO(content))
    ws = book[sheet] if sheet else book.worksheets[0]
    return [list(r) for r in ws.iter_rows()]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_one_function_quotes_formula_starts_and_leaves_numbers_alone():
    for text in (LINK, "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"):
        assert sheets.cell(text) == "'" + text
        assert sheets.unquote(sheets.cell(text)) == text
    for value in (-5, -2.5, 0, 12, None, date(2026, 1, 1), "王大爷", "'already", "a=b"):
        assert sheets.cell(value) == value
    assert sheets.row(["=1", -3, "x"]) == ["'=1", -3, "x"]


def test_ledger_person_export_masked_and_full(client, tree, users):
    cs = users["community_staff"]
    hh = household_in(tree["A1"])
    person(cs, hh, ELDER_ID, LINK)
    person(cs, hh, SON_ID, "+赵大伯", relation="child")
    client.force_login(cs)
    response = client.get("/ledger/persons/", {"format": "xlsx"})
    assert response.status_code == 200
    rows = rows_of(response.content)
    header = [c.value for c in rows[0]]
    name, age = header.index("姓名"), header.index("年龄")
    names = {r[name].value: r for r in rows[1:]}
    assert set(names) == {QUOTED, "'+赵大伯"}
    cell = names[QUOTED][name]
    assert cell.data_type == "s"  # text, not a formula ("f")
    assert names[QUOTED][age].data_type == "n" and isinstance(names[QUOTED][age].value, int)

    full = client.post("/ledger/persons/", {"reason": "民政核对低保名单"})
    assert full.status_code == 200, full.content.decode()[:500]
    rows = rows_of(full.content)
    header = [c.value for c in rows[0]]
    names = {r[header.index("姓名")].value for r in rows[1:]}
    assert names == {QUOTED, "'+赵大伯"}
    assert all(r[header.index("姓名")].data_type == "s" for r in rows[1:])
    born = rows[1][header.index("出生日期")]
    assert born.is_date  # a date stays a date


def test_ledger_error_workbook_quotes_and_reads_back_unquoted(client, tree, users):
    cs = users["community_staff"]
    client.force_login(cs)
    bad_id = "-12345"  # a broken ID number that starts like a formula
    good_id = make_id("110101", date(1990, 1, 1), 1)
    # A name typed as text in Excel ('=… or a text-formatted cell): the file holds a string, not a formula.
    book = load_workbook(io.BytesIO(workbook({"人口": [[bad_id, "x", "", "", "户籍", "", "", "", "110101001001001"]]})))
    book["人口"]["B2"].value = LINK
    book["人口"]["B2"].data_type = "s"
    upload = io.BytesIO()
    book.save(upload)
    response = client.post("/ledger/import/", {"file": SimpleUploadedFile("a.xlsx", upload.getvalue()), "mode": "valid"})
    url = response.context["error_url"]
    data = b"".join(client.get(url).streaming_content)
    rows = rows_of(data, "人口")
    assert rows[1][0].value == "'" + bad_id and rows[1][0].data_type == "s"
    assert rows[1][1].value == QUOTED and rows[1][1].data_type == "s"
    errors = rows_of(data, "错误清单")
    assert len(errors) > 1 and all(r[1].data_type == "n" for r in errors[1:])  # the row numbers stay numbers

    # The user fixes the ID number in the error workbook and imports it again: the name is the
    # text they typed, without our quote.
    book = load_workbook(io.BytesIO(data))
    book["人口"]["A2"] = good_id
    out = io.BytesIO()
    book.save(out)
    again = client.post("/ledger/import/", {"file": SimpleUploadedFile("b.xlsx", out.getvalue()), "mode": "all"})
    assert again.status_code == 200
    assert Person.objects.filter(name=LINK).count() == 1


def test_case_exports_csv_and_xlsx_and_rates(client, tree, users):
    load_default_catalog()
    case = case_services.intake(users["resident"], Report(
        channel="app", description="楼下烧烤店油烟直排，熏得开不了窗", title=LINK, lon=116.402, lat=39.905,
        matter_code="03.01.01", reporter_name="-张三", address="@SUM(A1)")).case
    client.force_login(users["dispatcher"])
    rows = csv_rows(client.get("/cases/export.csv?tab=all"))
    header = rows[0]
    row = dict(zip(header, rows[1], strict=True))
    assert row["标题"] == QUOTED and row["地址"] == "'@SUM(A1)" and row["反映人"] == "'-张三"
    sheet = rows_of(client.get("/cases/export.xlsx?tab=all").content)
    title = sheet[1][header.index("标题")]
    assert title.value == QUOTED and title.data_type == "s"

    ensure_departments(tree["dongcheng"], [{"code": "evil", "name": LINK, "kind": "line"}])
    evil = Department.objects.get(district=tree["dongcheng"], code="evil")
    handler = create_staff("hd_evil", None, Role.HANDLER, full_name="承办", department=evil)
    case = case_services.dispatch(case, users["dispatcher"], case.version, lead_department=evil)
    case_services.respond(case, handler, case.version, "已联系")
    # the response was due a moment after it was made, and that moment has passed: counted, in time
    Case.objects.filter(pk=case.pk).update(respond_due_at=F("responded_at") + timedelta(milliseconds=1))
    client.force_login(users["leader"])
    rates = rows_of(client.get("/cases/rates/export.xlsx").content)
    assert all(c.data_type != "f" for r in rates for c in r)
    units = {r[0].value: r for r in rates[2:]}
    assert QUOTED in units, list(units)
    counts = units[QUOTED][2:4]
    assert all(c.data_type == "n" for c in counts) and counts[0].value == 1  # counts stay numbers


def test_dispute_statistics_export_keeps_numbers(client, tree, users):
    dispute_services.register_from_visit(users["grid_worker"], grid=tree["A1"], description=LINK,
                                         parties=[{"name": LINK}, {"name": "-乙"}])
    client.force_login(users["leader"])
    rows = rows_of(client.get("/disputes/stats/", {"format": "xlsx"}).content)
    assert all(c.data_type != "f" for r in rows for c in r)
    by_tier = {r[0].value: r for r in rows[2:]}
    registered = by_tier["社区（村）调委会"][1]
    assert registered.value == 1 and registered.data_type == "n"


def test_territory_csv_quotes_names_keeps_area_a_number_and_reimports(client, tree, users):
    a1 = tree["A1"]
    Region.objects.filter(pk=a1.pk).update(name=LINK)
    client.force_login(users["admin"])
    response = client.get(f"/territory/{tree['A'].code}/export.csv")
    assert response.status_code == 200
    rows = csv_rows(response)
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code[a1.code][1] == QUOTED
    area = by_code[a1.code][4]
    assert area and int(area) > 0  # written as a number, no quote
    # The exported file imports back to the same name.
    body = response.content.decode("utf-8-sig")
    report = import_territory(body)
    assert report.ok, report.errors
    assert Region.objects.get(pk=a1.pk).name == LINK


def test_the_temporary_password_sheet_of_an_account_import(client, tree, users):
    book = Workbook()
    ws = book.active
    ws.title = "账户"
    ws.append(["用户名*", "姓名", "手机号", "角色*", "辖区代码", "部门", "初始密码"])
    ws.append(["gw_link", "x", "", "网格员", "110101001001001", "", ""])
    ws["B2"].value = LINK  # typed as text in the upload
    ws["B2"].data_type = "s"
    upload = io.BytesIO()
    book.save(upload)
    client.force_login(users["admin"])
    upload.name = "accounts.xlsx"
    upload.seek(0)
    done = client.post("/accounts/users/import/", {"file": upload})
    assert done.status_code == 200, [line for line in done.content.decode().splitlines() if "error" in line or "<td>" in line][:20]
    text = done.content.decode()
    url = text.split('id="passwords-workbook"')[0].rsplit('href="', 1)[1].split('"')[0]
    rows = rows_of(client.get(url).content)
    assert rows[1][0].value == "gw_link"
    assert rows[1][1].value == QUOTED and rows[1][1].data_type == "s"
