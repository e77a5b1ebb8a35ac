"""The disputes and petitions REST endpoints: the whole story over the API, refusals in Chinese, scope."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grassroots.accounts.models import AuditEvent
from grassroots.disputes.documents import docx_text
from grassroots.disputes.models import Dispute, Petition

pytestmark = pytest.mark.django_db

LEAK = {
    "kind": "neighbour", "description": "楼上卫生间漏水，楼下天花板发霉", "source": "grid", "title": "楼上漏水",
    "parties": [{"name": "陈楼上", "id_number": "110101198001011232", "phone": "13800001111"}, {"name": "刘楼下"}],
}


def api(client, user):
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_dispute_story_over_the_api(client, tree, users):
    api(client, users["grid_worker"])
    r = post(client, "/api/disputes", LEAK | {"region_code": tree["A1"].code})
    assert r.status_code == 201, r.content
    body = r.json()
    number = body["number"]
    assert body["stage"] == "registered" and body["handling_unit"]["name"] == "多福巷社区"
    assert body["parties"][0]["id_number"] == "110101********1232" and body["parties"][0]["phone"] == "138****1111"
    client.logout()
    api(client, users["mediator"])
    party = client.get(f"/api/disputes/{number}").json()["parties"][0]
    assert party["id_number"] == "110101********1232"  # masked for the mediator too, until revealed (audited)
    full = post(client, f"/api/disputes/{number}/parties/{party['id']}/reveal", {"reason": "agreement"})
    assert full.status_code == 200 and full.json() == {"id_number": "110101198001011232", "phone": "13800001111"}
    read = AuditEvent.objects.get(kind=AuditEvent.Kind.PERSONAL_DATA, subject="disputes.party")
    assert (read.user, read.subject_id, read.channel, read.fields) == (users["mediator"], party["id"], "api",
                                                                        "id_number,phone")
    r = post(client, f"/api/disputes/{number}/accept", {"version": 1})
    assert r.status_code == 200 and r.json()["stage"] == "accepted"
    for i in (1, 2):
        r = post(client, f"/api/disputes/{number}/record-session", {
            "version": r.json()["version"], "held_at": (timezone.now() - timedelta(hours=3 - i)).isoformat(),
            "place": "社区调解室", "mediators": "钱调解", "attendees": "陈楼上、刘楼下", "notes": f"第{i}次调解"})
        assert r.status_code == 200, r.content
    r = post(client, f"/api/disputes/{number}/agree", {
        "version": r.json()["version"], "form": "written", "facts": "防水层老化漏水", "terms": "赔偿2000元并修复",
        "performance": "当面交付", "perform_by": (timezone.localdate() + timedelta(days=10)).isoformat(),
        "mediator_names": "钱调解"})
    assert r.status_code == 200 and r.json()["stage"] == "agreed"
    r = post(client, f"/api/disputes/{number}/sign", {"version": r.json()["version"],
                                                      "signed_by": ["陈楼上", "刘楼下", "钱调解"]})
    assert r.json()["confirm_due_at"] is not None
    doc = client.get(f"/api/disputes/{number}/agreement.docx")
    assert doc.status_code == 200 and "赔偿2000元并修复" in docx_text(doc.content)
    r = post(client, f"/api/disputes/{number}/follow-up", {"version": r.json()["version"], "performance": "full"})
    r = post(client, f"/api/disputes/{number}/close", {"version": r.json()["version"]})
    assert r.json()["stage"] == "closed"
    assert [e["action"] for e in r.json()["events"]] == [
        "register", "accept", "record_session", "record_session", "agree", "sign", "follow_up", "close"]
    laws = client.get(f"/api/disputes/{number}/laws").json()
    assert any("民法典" in a["citation"] for a in laws)


def test_refusals_are_chinese_with_the_right_status(client, tree, users):
    api(client, users["grid_worker"])
    r = post(client, "/api/disputes", LEAK | {"region_code": tree["A1"].code, "parties": LEAK["parties"][:1]})
    assert r.status_code == 400 and r.json() == {"detail": "请至少填写两方当事人", "field": "parties"}
    r = post(client, "/api/disputes", LEAK | {"region_code": tree["B1"].code})
    assert r.status_code == 400 and "不在您的辖区" in r.json()["detail"]
    r = post(client, "/api/disputes", LEAK | {"region_code": tree["A1"].code, "people_involved": "很多"})
    assert r.status_code == 422 and "people_involved" in r.json()["detail"]
    assert not Dispute.objects.exists()
    number = post(client, "/api/disputes", LEAK | {"region_code": tree["A1"].code}).json()["number"]
    r = post(client, f"/api/disputes/{number}/accept", {"version": 1})
    assert r.status_code == 403 and "无权" in r.json()["detail"]
    client.logout()
    api(client, users["mediator"])
    assert post(client, f"/api/disputes/{number}/accept", {"version": 1}).status_code == 200
    r = post(client, f"/api/disputes/{number}/accept", {"version": 1})
    assert r.status_code == 409 and "刚被他人处理" in r.json()["detail"]
    client.logout()
    api(client, users["community_staff_b"])
    assert client.get(f"/api/disputes/{number}").status_code == 404
    assert post(client, f"/api/disputes/{number}/fail", {"version": 2, "reason": "x"}).status_code == 404
    assert client.get("/api/disputes").json()["count"] == 0
    client.logout()
    api(client, users["handler"])
    assert client.get("/api/disputes").status_code == 403


def test_petitions_over_the_api_with_repeat_and_extension(client, tree, users):
    api(client, users["dispatcher"])
    letter = {"form": "letter", "petitioner_name": "老周", "petitioner_id_number": "11010119650101123X",
              "title": "工地夜间施工扰民", "content": "工地每晚施工到凌晨，噪声扰民", "region_code": tree["A"].code}
    first = post(client, "/api/petitions", letter)
    assert first.status_code == 201, first.content
    second = post(client, "/api/petitions", letter | {"content": "工地夜间施工噪声仍未解决，再次来信"}).json()
    assert second["repeat_of"] == first.json()["number"]
    n = second["number"]
    r = post(client, f"/api/petitions/{n}/accept", {"version": 1})
    assert r.json()["state"] == "accepted"
    r = post(client, f"/api/petitions/{n}/extend", {"version": 2, "days": 45, "reason": "复杂"})
    assert r.status_code == 400 and "1 到 30 天" in r.json()["detail"]
    r = post(client, f"/api/petitions/{n}/extend", {"version": 2, "days": 30, "reason": "需多部门会商"})
    assert r.json()["extended_days"] == 30
    r = post(client, f"/api/petitions/{n}/assign", {"version": 3, "case_leader": "ld_dc", "responsible": "cs_a"})
    assert r.status_code == 200 and r.json()["case_leader"] == "孙领导"
    listed = client.get("/api/petitions", {"worklist": "repeat"}).json()
    assert {p["number"] for p in listed["items"]} == {n, first.json()["number"]}
    client.logout()
    api(client, users["leader_x"])
    assert client.get(f"/api/petitions/{n}").status_code == 404
    client.logout()
    api(client, users["mediator"])
    assert post(client, "/api/petitions", letter).status_code == 403
    assert Petition.objects.count() == 2


def test_law_search_screening_and_stats_endpoints(client, tree, users):
    api(client, users["mediator"])
    r = client.get("/api/laws/search", {"q": "宅基地", "law": "民法典"})
    assert r.status_code == 200 and r.json() and all(a["law"] == "民法典" for a in r.json())
    assert client.get("/api/laws/search").status_code == 422
    from grassroots.disputes import screening

    screening.schedule()
    rounds = client.get("/api/screening-rounds", {"open_only": True}).json()
    mine = next(x for x in rounds if x["unit"]["code"] == tree["A"].code)
    r = post(client, f"/api/screening-rounds/{mine['id']}/close", {})
    assert r.status_code == 400 and "未发现" in r.json()["detail"]
    r = post(client, f"/api/screening-rounds/{mine['id']}/close", {"none_found": True})
    assert r.status_code == 200 and r.json()["none_found"]
    stats = client.get("/api/dispute-stats", {"month": timezone.localdate().strftime("%Y-%m")}).json()
    assert [row["tier"] for row in stats][-1] == "合计"
    assert client.get("/api/dispute-stats", {"month": "2026-13"}).status_code == 422
