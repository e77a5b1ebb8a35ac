"""In a real headless Chromium: the import flow of a 5,000-row workbook with 20 broken rows (error
workbook, fix, re-import without duplicates), search by the last six digits of an ID number, the
audited full view, and a visit to an elderly person living alone that opens a case."""

import io
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent
from grassroots.cases.models import Case
from grassroots.ledger import services
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Household, Person
from tests.ledger_helpers import workbook
from tests.test_browser_map import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Error workbooks are written under MEDIA_ROOT: keep them out of var/."""
    settings.MEDIA_ROOT = tmp_path

GRIDS = ["110101001001001", "110101001001002"]


def read(path):
    with open(path, "rb") as f:
        return load_workbook(io.BytesIO(f.read()))


def big_book(households: int = 1000) -> tuple[dict, dict[int, list]]:
    """addresses + houses + households + 2 persons each = 5 rows per household; 20 person rows broken."""
    book = {"地址": [], "房屋": [], "户": [], "人口": []}
    for i in range(households):
        code, number = f"BR-{i:05d}", f"BR-HH-{i:05d}"
        book["地址"].append([code, GRIDS[i % 2], "育新花园", str(1 + i // 60), str(1 + i % 3), str(101 + i % 60), "", ""])
        book["房屋"].append([code, "住宅", "76.5", "", "", "自住"])
        book["户"].append([number, code, ""])
        for j in range(2):
            k = 2 * i + j
            number_id = make_id("110101", date(1940, 1, 1) + timedelta(days=k * 7), k % 1000)
            book["人口"].append([number_id, f"居民{k}", "", "汉族", "户籍", number, "户主" if j == 0 else "配偶", ""])
    broken = list(range(5, 2000, 100))  # 20 person rows
    originals = {k: list(book["人口"][k]) for k in broken}
    for n, k in enumerate(broken):
        row = book["人口"][k]
        if n % 4 == 0:
            row[0] = row[0][:-1] + ("0" if row[0][-1] != "0" else "1")  # check digit
        elif n % 4 == 1:
            row[4] = "暂住"  # unknown status
        elif n % 4 == 2:
            row[2] = "12345"  # phone
        else:
            row[1] = ""  # name
    return book, originals


def test_import_5000_rows_with_20_broken_then_fix_and_reimport(page, live_server, tree, users, tmp_path):
    book, originals = big_book()
    data = workbook(book)
    assert sum(len(v) for v in book.values()) == 5000
    sign_in(page, live_server, "cs_a")
    page.click("nav.nav >> text=台账导入")
    page.wait_for_url(f"{live_server.url}/ledger/import/")
    with page.expect_download() as template:
        page.click("#template-link")
    assert read(template.value.path()).sheetnames == ["填写说明", "地址", "房屋", "户", "人口"]

    page.set_input_files("#id_file", files=[{"name": "台账.xlsx", "mimeType": "application/vnd.openxmlformats-"
                                             "officedocument.spreadsheetml.sheet", "buffer": data}])
    page.check("input[name=mode][value=valid]")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result", timeout=60_000)
    assert page.locator("#error-count").inner_text() == "20"
    assert "校验码不正确" in page.locator("#import-errors").inner_text()
    assert Person.objects.count() == 1980

    with page.expect_download() as errors:
        page.click("#error-workbook")
    wb = read(errors.value.path())
    rows = [list(r) for r in wb["人口"].iter_rows(values_only=True)]
    assert rows[0][-1] == "错误原因" and len(rows) == 21
    listed = [list(r) for r in wb["错误清单"].iter_rows(min_row=2, values_only=True)]
    assert len(listed) == 20 and all(r[0] == "人口" for r in listed)

    # fix each row as a clerk would (the original values), drop the reason column, import the same workbook
    ws = wb["人口"]
    for r in range(2, ws.max_row + 1):
        household, relation = ws.cell(row=r, column=6).value, ws.cell(row=r, column=7).value
        fix = next(o for o in originals.values() if o[5] == household and o[6] == relation)
        for c, value in enumerate(fix, start=1):
            ws.cell(row=r, column=c).value = value
        ws.cell(row=r, column=len(fix) + 2).value = None
    fixed = tmp_path / "fixed.xlsx"
    wb.save(fixed)
    page.goto(f"{live_server.url}/ledger/import/")
    page.set_input_files("#id_file", str(fixed))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result", timeout=60_000)
    assert "导入完成" in page.locator("#import-result h2").inner_text(), page.locator("#import-result").inner_text()[:800]
    assert page.locator("tr[data-sheet=人口] .created").inner_text() == "20"
    assert Person.objects.count() == 2000 and Household.objects.count() == 1000

    # the whole original file once more: everything matched, nothing duplicated
    page.goto(f"{live_server.url}/ledger/import/")
    page.set_input_files("#id_file", files=[{"name": "台账.xlsx", "mimeType": "application/octet-stream", "buffer": data}])
    page.check("input[name=mode][value=valid]")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result", timeout=60_000)
    assert Person.objects.count() == 2000 and Household.objects.count() == 1000


def _elder(users, tree):
    from tests.ledger_helpers import ELDER_ID, household_in, person

    elder = person(users["community_staff"], household_in(tree["A1"]), ELDER_ID, "王大爷", phone="13912345678")
    services.assign_care(users["grid_worker"], elder, "living_alone", "老伴去世，子女在外地",
                         start=timezone.localdate() - timedelta(days=45))
    return elder, ELDER_ID


def test_find_a_person_by_the_id_tail_and_see_the_full_record_with_a_reason(page, live_server, tree, users):
    elder, number = _elder(users, tree)
    sign_in(page, live_server, "cs_a")
    page.click("nav.nav >> text=台账")
    page.fill("#ledger-q", number[-6:])
    page.press("#ledger-q", "Enter")
    page.wait_for_selector("#search-table")
    assert page.locator("[data-kind]").get_attribute("data-kind") == "id6"
    row = page.locator(f"tr[data-person='{elder.pk}']")
    assert number[:6] + "********" + number[-4:] == row.locator(".id-masked").inner_text()
    row.locator("a").click()
    page.wait_for_url(f"{live_server.url}/ledger/person/{elder.pk}/")
    assert number not in page.content()
    page.fill("#id_reason", "为老人办理高龄津贴核对身份")
    page.click("#full-record button[type=submit]")
    page.wait_for_selector("#full-values")
    assert page.locator("[data-full=id]").inner_text() == number
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.PERSONAL_DATA).reason == "为老人办理高龄津贴核对身份"


def test_grid_worker_sees_the_overdue_visit_and_records_one_that_opens_a_case(page, live_server, tree, users):
    elder, _number = _elder(users, tree)
    sign_in(page, live_server, "gw_a1")
    assert page.locator("#ledger-overdue-count").inner_text() == "1"
    page.click("#ledger-overdue >> text=王大爷")
    page.wait_for_url(f"{live_server.url}/ledger/person/{elder.pk}/")
    page.click("#visit-box summary")
    page.fill("#id_findings", "老人说楼道灯坏了一个多月，晚上下楼看不见")
    page.check("#id_open_case")
    page.click("#visit-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ledger/person/{elder.pk}/", timeout=60_000)
    message = page.locator(".messages").inner_text()
    case = Case.objects.get()
    assert re.search(r"已登记事件 SJ\d+", message) and case.number in message
    assert case.channel == "visit" and "楼道灯" in case.description
    page.goto(f"{live_server.url}/home/")
    assert page.locator("#ledger-overdue-count").inner_text() == "0"
