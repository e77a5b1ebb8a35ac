"""The ledger API: scoped and masked like the pages, refusals in Chinese with the right status."""

import pytest

from grassroots.ledger import services
from grassroots.ledger.models import CareTag, Visit
from tests.conftest import PASSWORD, create_staff
from tests.ledger_helpers import ELDER_ID, SON_ID, WIFE_ID, household_in, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(tree, users):
    cs = users["community_staff"]
    hh = household_in(tree["A1"])
    elder = person(cs, hh, ELDER_ID, "王大爷", phone="13912345678")
    wife = person(cs, hh, WIFE_ID, "李奶奶", relation="spouse", status="resident")
    other = person(users["community_staff_b"], household_in(tree["B1"], number="HH-B1"), SON_ID, "赵大伯")
    return {"hh": hh, "elder": elder, "wife": wife, "other": other}


def api(client, user):
    client.force_login(user)
    return client


def test_search_by_the_last_six_digits_finds_only_within_scope(client, users, ledger):
    body = api(client, users["community_staff"]).get("/api/ledger/search", {"q": ELDER_ID[-6:]}).json()
    assert body["kind"] == "id6" and [p["name"] for p in body["items"]] == ["王大爷"]
    assert body["items"][0]["id_number"] == ELDER_ID[:6] + "********" + ELDER_ID[-4:]
    assert client.get("/api/ledger/search", {"q": SON_ID[-6:]}).json()["items"] == []
    assert client.get("/api/ledger/search", {"q": "wdy"}).json()["items"][0]["name"] == "王大爷"
    assert client.get("/api/ledger/search", {"q": "5678"}).json()["kind"] == "tail4"
    assert client.get("/api/ledger/search", {"q": ""}).status_code == 422


def test_person_list_filters_and_counts_within_scope(client, users, ledger):
    c = api(client, users["dispatcher"])  # the street: A and B
    assert c.get("/api/ledger/persons").json()["count"] == 3
    assert c.get("/api/ledger/persons", {"region": "110101001001"}).json()["count"] == 2
    assert c.get("/api/ledger/persons", {"status": "resident"}).json()["items"][0]["name"] == "李奶奶"
    bad = c.get("/api/ledger/persons", {"status": "visitor"})
    assert bad.status_code == 422 and "status" in bad.json()["detail"]
    assert c.get("/api/ledger/persons", {"region": "110102001001"}).status_code == 404  # 西城区: outside


def test_details_of_household_house_and_counts(client, users, ledger, tree):
    c = api(client, users["community_staff"])
    hh = c.get("/api/ledger/households/HH-A1-0001").json()
    assert hh["head"] == "王大爷" and [m["name"] for m in hh["members"]] == ["王大爷", "李奶奶"]
    house = c.get(f"/api/ledger/houses/{ledger['hh'].house_id}").json()
    assert house["area_m2"] == 88.5 and house["households"] == ["HH-A1-0001"]
    counts = c.get("/api/ledger/regions/110101001001").json()
    assert counts["population"] == 2 and {s["code"]: s["count"] for s in counts["by_status"]}["resident"] == 1
    grid = c.get("/api/ledger/grids/110101001001001").json()
    assert grid["households"][0]["member_count"] == 2 and grid["buildings"][0]["house_count"] == 1
    assert c.get("/api/ledger/households/HH-B1").status_code == 404


def test_a_visit_through_the_api_opens_a_case_and_care_is_assigned(client, users, ledger):
    c = api(client, users["grid_worker"])
    tag = c.post(f"/api/ledger/persons/{ledger['elder'].pk}/care", {"type": "living_alone", "reason": "老伴去世独居"},
                 content_type="application/json")
    assert tag.status_code == 201 and tag.json()["visit_every_days"] == 30
    again = c.post(f"/api/ledger/persons/{ledger['elder'].pk}/care", {"type": "living_alone", "reason": "重复"},
                   content_type="application/json")
    assert again.status_code == 400 and "已在" in again.json()["detail"]
    visit = c.post(f"/api/ledger/persons/{ledger['elder'].pk}/visits",
                   {"findings": "老人家中水管漏水，需物业维修", "open_case": True}, content_type="application/json")
    assert visit.status_code == 201 and visit.json()["case_number"].startswith("SJ")
    assert CareTag.objects.get().last_visit_at is not None
    empty = c.post(f"/api/ledger/persons/{ledger['elder'].pk}/visits", {"findings": ""}, content_type="application/json")
    assert empty.status_code == 422 and Visit.objects.count() == 1
    assert c.post(f"/api/ledger/persons/{ledger['other'].pk}/visits", {"findings": "路过"},
                  content_type="application/json").status_code == 404


def test_roles_are_refused_with_403(client, users, ledger):
    c = api(client, users["leader"])
    assert c.post(f"/api/ledger/persons/{ledger['elder'].pk}/visits", {"findings": "看望"},
                  content_type="application/json").status_code == 403
    assert c.get("/api/ledger/access-log").status_code == 403
    client.logout()
    assert api(client, users["handler"]).get("/api/ledger/persons").status_code == 403


def test_overdue_and_access_log_and_me(client, users, ledger):
    from datetime import timedelta

    from django.utils import timezone

    services.assign_care(users["grid_worker"], ledger["elder"], "living_alone", "独居",
                         start=timezone.localdate() - timedelta(days=40))
    overdue = api(client, users["community_staff"]).get("/api/ledger/overdue").json()
    assert [o["person_name"] for o in overdue] == ["王大爷"]
    client.post(f"/api/ledger/persons/{ledger['elder'].pk}/full", {"reason": "核对高龄补贴"}, content_type="application/json")
    client.logout()
    log = api(client, users["admin"]).get("/api/ledger/access-log").json()
    assert log[0]["person_name"] == "王大爷" and log[0]["reason"] == "核对高龄补贴"
    client.logout()
    resident = create_staff("res_w", PASSWORD, "resident", phone="13912345678")
    me = api(client, resident).get("/api/ledger/me").json()
    assert [p["name"] for p in me] == ["王大爷"] and me[0]["phone"] == "139****5678"


def test_organisations_with_risk_flags_are_listed_within_scope(client, users, ledger, tree):
    from grassroots.ledger.models import Organisation

    Organisation.objects.create(name="老王小餐馆", kind="small_place", grid=tree["A1"], region_path=tree["A1"].path,
                                risk_flags=["燃气", "消防隐患"])
    Organisation.objects.create(name="便利店", kind="shop", grid=tree["A1"], region_path=tree["A1"].path)
    Organisation.objects.create(name="银闸网吧", kind="small_place", grid=tree["B1"], region_path=tree["B1"].path,
                                risk_flags=["消防隐患"])
    c = api(client, users["grid_worker"])
    risky = c.get("/api/ledger/organisations", {"risky": "true"}).json()
    assert [(o["name"], o["risk_flags"]) for o in risky] == [("老王小餐馆", ["燃气", "消防隐患"])]
    assert len(c.get("/api/ledger/organisations").json()) == 2
    assert "老王小餐馆" in c.get("/ledger/region/110101001001001/").content.decode()
    assert c.get("/api/ledger/organisations", {"kind": "bar"}).status_code == 422


def test_register_move_split_and_change_owner_through_the_api(client, users, ledger, tree):
    from datetime import date

    from grassroots.ledger.identity import make_id
    from grassroots.ledger.models import LedgerEvent

    c = api(client, users["community_staff"])
    new_id = make_id("110101", date(1995, 5, 5), 22)
    created = c.post("/api/ledger/persons", {"id_number": new_id, "name": "王小妹", "status": "registered",
                                             "household": "HH-A1-0001", "relation": "child"},
                     content_type="application/json")
    assert created.status_code == 201 and created.json()["sex"] == "F" and "birth_date" not in created.json()
    bad = c.post("/api/ledger/persons", {"id_number": new_id[:-1] + "0" if new_id[-1] != "0" else new_id[:-1] + "1",
                                         "name": "某", "status": "registered", "household": "HH-A1-0001"},
                 content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"] == "id_number" and "校验码" in bad.json()["detail"]
    pk = created.json()["id"]
    split = c.post("/api/ledger/households/HH-A1-0001/split", {"number": "HH-A1-0009", "members": [pk]},
                   content_type="application/json")
    assert split.status_code == 201 and split.json()["head"] == "王小妹" and split.json()["split_from"] == "HH-A1-0001"
    other = household_in(tree["A2"], number="HH-A2-0001")
    moved = c.post(f"/api/ledger/persons/{pk}/move", {"household": "HH-A2-0001", "relation": "head", "note": "婚后迁居"},
                   content_type="application/json")
    assert moved.status_code == 200 and moved.json()["grid_code"] == "110101001001002"
    history = c.get(f"/api/ledger/persons/{pk}").json()["history"]
    assert [h["action"] for h in history] == ["register", "move", "move"]
    owner = c.post(f"/api/ledger/houses/{other.house.pk}/owner", {"owner": pk}, content_type="application/json")
    assert owner.status_code == 200 and owner.json()["owner"] == "王小妹"
    assert LedgerEvent.objects.filter(subject="house", action="owner").exists()
    out = c.post(f"/api/ledger/persons/{pk}/move-out", {"note": "出国"}, content_type="application/json")
    assert out.status_code == 200 and out.json()["moved_out_at"] is not None
    assert c.post(f"/api/ledger/persons/{ledger['other'].pk}/move-out", {}, content_type="application/json"
                  ).status_code == 404
    client.logout()
    assert api(client, users["leader"]).post("/api/ledger/persons", {"id_number": new_id, "name": "x",
                                                                     "status": "registered"},
                                             content_type="application/json").status_code == 403
