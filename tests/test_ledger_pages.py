"""The ledger pages through the test client: the grid and territory pages with their counts,
the import page's refusals, lists and overdue visits — and who may open them."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.ledger import services
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Person
from tests.ledger_helpers import ELDER_ID, SON_ID, WIFE_ID, household_in, person, workbook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Error workbooks are written under MEDIA_ROOT: keep them out of var/."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ledger(tree, users):
    cs = users["community_staff"]
    hh = household_in(tree["A1"])
    elder = person(cs, hh, ELDER_ID, "王大爷")
    person(cs, hh, WIFE_ID, "李奶奶", relation="spouse", status="resident")
    b = person(users["community_staff_b"], household_in(tree["B1"], number="HH-B1"), SON_ID, "赵大伯", status="floating")
    services.assign_care(users["grid_worker"], elder, "living_alone", "独居",
                         start=timezone.localdate() - timedelta(days=40))
    return {"elder": elder, "b": b}


def test_the_grid_page_shows_buildings_households_people_care_and_overdue(client, users, ledger):
    client.force_login(users["grid_worker"])
    html = client.get("/ledger/region/110101001001001/").content.decode()
    for text in ("金宝花园3号楼", "HH-A1-0001", "王大爷", "李奶奶", "独居老人", 'id="overdue-count">1<'):
        assert text in html, text
    assert "赵大伯" not in html


def test_the_street_page_counts_each_community_in_a_fixed_number_of_queries(client, users, ledger, tree):
    client.force_login(users["dispatcher"])
    with CaptureQueriesContext(connection) as small:
        html = client.get("/ledger/region/110101001000/").content.decode()
    assert "多福巷社区" in html and "银闸社区" in html
    rows = {r.split("</a>")[0].rsplit(">", 1)[-1]: r for r in html.split('<tr><td><a href="/ledger/region/')[1:]}
    assert "<td data-population>2</td>" in rows["多福巷社区"] and "<td data-overdue>1</td>" in rows["多福巷社区"]
    assert "<td data-population>1</td>" in rows["银闸社区"]
    for i in range(30):  # more people in more places: the same number of queries
        hh = household_in(tree["B2"], number=f"HH-B2-{i}", room=str(200 + i))
        person(users["community_staff_b"], hh, make_id("110101", date(1980, 1, 1) + timedelta(days=i), 11), f"钱{i}")
    with CaptureQueriesContext(connection) as big:
        client.get("/ledger/region/110101001000/")
    assert len(big.captured_queries) == len(small.captured_queries)
    client.force_login(users["grid_worker"])
    assert client.get("/ledger/region/110101001000/").status_code == 404


def test_the_import_page_refuses_what_is_not_a_workbook_in_chinese(client, users):
    client.force_login(users["community_staff"])
    bad = client.post("/ledger/import/", {"file": SimpleUploadedFile("a.csv", b"x,y"), "mode": "all"})
    assert bad.status_code == 400 and "只能导入 .xlsx" in bad.content.decode()
    fake = client.post("/ledger/import/", {"file": SimpleUploadedFile("a.xlsx", b"not a zip"), "mode": "all"})
    assert fake.status_code == 400 and "不是有效的 Excel 工作簿" in fake.content.decode()
    dry = client.post("/ledger/import/", {
        "file": SimpleUploadedFile("a.xlsx", workbook({"人口": [[make_id("110101", date(1990, 1, 1), 1),
                                                                "测试", "", "", "户籍", "", "", "", "110101001001001"]]})),
        "mode": "all", "dry_run": "on"})
    assert dry.status_code == 200 and "试导入结果（未保存）" in dry.content.decode()
    assert not Person.objects.filter(name="测试").exists()
    client.force_login(users["leader"])
    assert client.get("/ledger/import/").status_code == 403
    assert client.get("/ledger/import/template.xlsx").status_code == 403


def test_the_error_workbook_belongs_to_its_importer(client, users, tree):
    client.force_login(users["community_staff"])
    response = client.post("/ledger/import/", {
        "file": SimpleUploadedFile("a.xlsx", workbook({"人口": [["123", "测试", "", "", "户籍", "", "", "", ""]]})),
        "mode": "valid"})
    url = response.context["error_url"]
    assert client.get(url).status_code == 200
    client.force_login(users["community_staff_b"])
    assert client.get(url).status_code == 404


def test_lists_and_overdue_pages(client, users, ledger):
    client.force_login(users["community_staff"])
    listed = client.get("/ledger/persons/", {"status": "resident"}).content.decode()
    assert "李奶奶" in listed and "王大爷" not in listed
    overdue = client.get("/ledger/overdue/").content.decode()
    assert "王大爷" in overdue and "多福巷社区" in overdue
    client.force_login(users["handler"])
    assert client.get("/ledger/").status_code == 403
    assert client.get("/ledger/persons/").status_code == 403


def test_the_visit_form_refuses_an_empty_visit(client, users, ledger):
    client.force_login(users["grid_worker"])
    response = client.post(f"/ledger/person/{ledger['elder'].pk}/visit/", {"findings": ""})
    assert response.status_code == 400 and "请填写走访情况" in response.content.decode()
    assert not ledger["elder"].visits.exists()
    ok = client.post(f"/ledger/person/{ledger['elder'].pk}/visit/", {"findings": "身体好"})
    assert ok.status_code == 302 and ledger["elder"].visits.count() == 1


def test_moving_a_person_and_changing_an_owner_from_the_pages(client, users, ledger, tree):
    client.force_login(users["community_staff"])
    household_in(tree["A2"], number="HH-A2-7")
    wife = Person.objects.get(name="李奶奶")
    wrong = client.post(f"/ledger/person/{wife.pk}/move/", {"household": "HH-B1", "relation": "head"})
    assert wrong.status_code == 400 and "不存在或不在您的辖区内" in wrong.content.decode()
    ok = client.post(f"/ledger/person/{wife.pk}/move/", {"household": "HH-A2-7", "relation": "head", "note": "分开居住"})
    assert ok.status_code == 302 and Person.objects.get(pk=wife.pk).household.number == "HH-A2-7"
    page = client.get(f"/ledger/person/{wife.pk}/").content.decode()
    assert "HH-A1-0001 → HH-A2-7" in page
    empty = client.post(f"/ledger/person/{wife.pk}/move/", {"leave": "1", "note": ""})
    assert empty.status_code == 400 and "请填写迁出说明" in empty.content.decode()
    house = ledger["elder"].house
    assert client.post(f"/ledger/house/{house.pk}/owner/", {"owner_name": "孙买家"}).status_code == 302
    assert "孙买家" in client.get(f"/ledger/house/{house.pk}/").content.decode()
    client.force_login(users["leader"])
    assert client.post(f"/ledger/house/{house.pk}/owner/", {"owner_name": "x"}).status_code == 403


def test_the_grid_totals_are_counted_not_the_length_of_a_shortened_list(users, ledger, tree):
    from grassroots.ledger import queries

    household_in(tree["A1"], number="HH-A1-0002", room="302")
    full = queries.grid_page(users["grid_worker"], tree["A1"])
    short = queries.grid_page(users["grid_worker"], tree["A1"], person_limit=1)
    assert len(short["households"]) == 1 < full["household_count"] == short["household_count"]
    assert short["overdue_count"] == full["overdue_count"] == len(full["overdue"])
