"""个人信息保护法: masked for every role on pages, exports and the API, with the age and never the
birth date beside a masked ID number; the audited full view (community staff: ID number and phone;
grid workers: the phone, to call); the access log for admins; what a resident sees about themself;
scope isolation (404 + audit)."""

import io

import pytest
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent
from tests.conftest import PASSWORD, create_staff
from tests.ledger_helpers import ELDER_ID, SON_ID, WIFE_ID, household_in, person

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


@pytest.fixture
def people(tree, users):
    cs = users["community_staff"]
    elder = person(cs, household_in(tree["A1"]), ELDER_ID, "王大爷", phone=PHONE)
    other = person(users["community_staff_b"], household_in(tree["B1"], number="HH-B1"), SON_ID, "赵大伯",
                   phone="13600001111")
    return {"elder": elder, "other": other}


def login(client, user):
    client.force_login(user)
    return client


MASKED_ID = ELDER_ID[:6] + "********" + ELDER_ID[-4:]
BIRTH = ELDER_ID[6:10] + "-" + ELDER_ID[10:12] + "-" + ELDER_ID[12:14]


def reads():
    return AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA, subject="ledger.person")


@pytest.mark.parametrize("role", ["grid_worker", "community_staff", "dispatcher", "leader", "mediator"])
def test_the_person_page_masks_for_every_role_and_shows_the_age_not_the_birth_date(client, users, people, role):
    html = login(client, users[role]).get(f"/ledger/person/{people['elder'].pk}/").content.decode()
    assert MASKED_ID in html and ELDER_ID not in html
    assert PHONE not in html and "139****5678" in html
    # the mask keeps the county and the last four: with the birth date beside it, it would be the number
    assert BIRTH not in html and ELDER_ID[6:14] not in html and f"{people['elder'].age} 岁" in html


def test_the_full_view_needs_a_reason_and_is_audited(client, users, people):
    login(client, users["community_staff"])
    url = f"/ledger/person/{people['elder'].pk}/full/"
    short = client.post(url, {"reason": "看看"[:1]})
    assert short.status_code == 400 and "事由" in short.content.decode() and not reads().exists()
    ok = client.post(url, {"reason": "办理高龄津贴需核对身份证号"}, REMOTE_ADDR="10.0.0.7")
    html = ok.content.decode()
    assert ok.status_code == 200 and ELDER_ID in html and PHONE in html and BIRTH in html
    view = reads().get()
    assert (view.user, view.subject_id, view.reason) == (users["community_staff"], people["elder"].pk,
                                                         "办理高龄津贴需核对身份证号")
    assert (view.fields, view.channel, view.ip, view.region_path) == ("id_number,phone", "page", "10.0.0.7",
                                                                        people["elder"].region_path)


def test_a_grid_worker_reads_only_the_phone_to_call_and_it_is_audited(client, users, people):
    login(client, users["grid_worker"])
    html = client.post(f"/ledger/person/{people['elder'].pk}/full/", {"reason": "走访前电话联系"}).content.decode()
    assert f'href="tel:{PHONE}"' in html and ELDER_ID not in html and BIRTH not in html
    assert reads().get().fields == "phone"


@pytest.mark.parametrize("role", ["dispatcher", "leader", "admin"])
def test_roles_without_the_full_view_are_refused(client, users, people, role):
    response = login(client, users[role]).post(f"/ledger/person/{people['elder'].pk}/full/", {"reason": "想看看完整号码"})
    assert response.status_code in (403, 404)
    assert ELDER_ID not in response.content.decode() and PHONE not in response.content.decode()
    assert not reads().exists()


def test_admins_read_the_access_log_and_others_cannot(client, users, people):
    login(client, users["community_staff"]).post(f"/ledger/person/{people['elder'].pk}/full/",
                                                  {"reason": "办理高龄津贴需核对"})
    client.logout()
    html = login(client, users["admin"]).get("/ledger/access-log/").content.decode()
    assert "cs_a" in html and "王大爷" in html and "办理高龄津贴需核对" in html
    client.logout()
    assert login(client, users["community_staff"]).get("/ledger/access-log/").status_code == 403


def test_a_resident_sees_what_is_held_on_them_and_who_looked(client, users, people):
    login(client, users["community_staff"]).post(f"/ledger/person/{people['elder'].pk}/full/",
                                                  {"reason": "核对低保申请材料"})
    client.logout()
    resident = create_staff("res_wang", PASSWORD, "resident", full_name="王大爷", phone=PHONE)
    html = login(client, resident).get("/me/").content.decode()
    assert "王大爷" in html and MASKED_ID in html and "核对低保申请材料" in html and ELDER_ID not in html
    assert "赵大伯" not in html
    stranger = create_staff("res_x", PASSWORD, "resident", phone="13500000000")
    client.logout()
    assert "没有与您账户手机号匹配的记录" in login(client, stranger).get("/me/").content.decode()
    assert client.get(f"/ledger/person/{people['elder'].pk}/").status_code == 403


def test_out_of_scope_is_404_and_audited(client, users, people):
    login(client, users["grid_worker"])  # A1's grid worker
    assert client.get(f"/ledger/person/{people['other'].pk}/").status_code == 404
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users["grid_worker"]).exists()
    assert client.get("/ledger/household/HH-B1/").status_code == 404
    assert client.get("/ledger/region/110101001002001/").status_code == 404
    # and never in a search, a list or an export
    found = client.get("/ledger/", {"q": "赵大伯"}).content.decode()
    assert "找到 0 人" in found and f"/ledger/person/{people['other'].pk}/" not in found
    assert "找到 0 人" in client.get("/ledger/", {"q": SON_ID[-6:]}).content.decode()
    assert "赵大伯" not in client.get("/ledger/persons/").content.decode()
    book = load_workbook(io.BytesIO(client.get("/ledger/persons/", {"format": "xlsx"}).content))
    names = [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)]
    assert names == ["王大爷"]


def test_the_export_is_masked_per_role(client, users, people):
    def exported(user):
        client.logout()
        book = load_workbook(io.BytesIO(login(client, user).get("/ledger/persons/", {"format": "xlsx"}).content))
        return [list(r) for r in book.active.iter_rows(values_only=True)]

    rows = exported(users["community_staff"])
    assert rows[0][2:5] == ["年龄", "公民身份号码", "联系电话"]
    assert rows[1][2:5] == [people["elder"].age, MASKED_ID, "139****5678"]
    assert exported(users["grid_worker"])[1][2:5] == [people["elder"].age, MASKED_ID, "139****5678"]
    assert not reads().exists()
    client.logout()
    assert login(client, users["leader"]).get("/ledger/persons/", {"format": "xlsx"}).status_code == 403


def test_the_api_masks_and_audits_like_the_pages(client, users, people):
    login(client, users["community_staff"])
    detail = client.get(f"/api/ledger/persons/{people['elder'].pk}").json()
    assert detail["id_number"] == MASKED_ID and detail["phone"] == "139****5678"
    bad = client.post(f"/api/ledger/persons/{people['elder'].pk}/full", {"reason": "x"}, content_type="application/json")
    assert bad.status_code == 422 and "reason" in bad.json()["detail"]
    full = client.post(f"/api/ledger/persons/{people['elder'].pk}/full", {"reason": "核对身份信息"},
                       content_type="application/json")
    assert full.status_code == 200 and full.json() == {"id_number": ELDER_ID, "birth_date": BIRTH, "phone": PHONE}
    assert "birth_date" not in detail and detail["age"] == people["elder"].age
    assert list(reads().values_list("channel", flat=True)) == ["api"]
    assert client.get(f"/api/ledger/persons/{people['other'].pk}").status_code == 404
    client.logout()
    login(client, users["grid_worker"])
    assert client.get(f"/api/ledger/persons/{people['elder'].pk}").json()["phone"] == "139****5678"
    phone_only = client.post(f"/api/ledger/persons/{people['elder'].pk}/full", {"reason": "走访电话联系"},
                             content_type="application/json")
    assert phone_only.status_code == 200 and phone_only.json() == {"id_number": None, "birth_date": None,
                                                                  "phone": PHONE}
    client.logout()
    login(client, users["leader"])
    assert client.post(f"/api/ledger/persons/{people['elder'].pk}/full", {"reason": "核对身份信息"},
                       content_type="application/json").status_code == 403
    assert reads().count() == 2


def test_wife_is_found_by_household_page_with_masked_members(client, users, people, tree):
    person(users["community_staff"], people["elder"].household, WIFE_ID, "李奶奶", relation="spouse")
    html = login(client, users["community_staff"]).get("/ledger/household/HH-A1-0001/").content.decode()
    assert "王大爷" in html and "李奶奶" in html and WIFE_ID not in html


def test_community_staff_export_in_full_with_a_reason_and_every_person_sees_it(client, users, people, settings):
    login(client, users["community_staff"])
    refused = client.post("/ledger/persons/", {"reason": "x"})
    assert refused.status_code == 400 and "至少 4 个字" in refused.content.decode() and not reads().exists()
    response = client.post("/ledger/persons/?q=王", {"reason": "报送民政高龄津贴名单"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    rows = [list(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
    assert rows[0][2:5] == ["出生日期", "公民身份号码", "联系电话"]
    assert [r[0] for r in rows[1:]] == ["王大爷"] and rows[1][3:5] == [ELDER_ID, PHONE]
    read = reads().get()
    assert (read.subject_id, read.channel, read.reason) == (people["elder"].pk, "export", "报送民政高龄津贴名单")
    settings.LEDGER_FULL_EXPORT_MAX = 0
    too_many = client.post("/ledger/persons/", {"reason": "报送民政高龄津贴名单"})
    assert too_many.status_code == 400 and "最多 0 人" in too_many.content.decode() and reads().count() == 1


@pytest.mark.parametrize("role", ["grid_worker", "leader", "dispatcher"])
def test_other_roles_cannot_export_in_full(client, users, people, role):
    response = login(client, users[role]).post("/ledger/persons/", {"reason": "报送民政高龄津贴名单"})
    assert response.status_code == 403 and not reads().exists()
