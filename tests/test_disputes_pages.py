"""Dispute and petition pages through the test client: registering, acting, the timeline, the
agreement download, law search, statistics export, screening rounds, the role homes — and scope."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.disputes import petitions, screening, services
from grassroots.disputes.documents import docx_text
from grassroots.disputes.models import Dispute, ScreeningRound, Stage
from tests.conftest import PASSWORD, create_staff

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def register_leak(client, tree, **extra):
    data = {"kind": "neighbour", "source": "grid", "region_code": tree["A1"].code, "title": "楼上漏水邻里纠纷",
            "description": "楼上卫生间漏水，楼下天花板发霉", "party1_name": "陈楼上", "party1_kind": "person",
            "party1_id": "110101198001011232", "party1_phone": "13800001111", "party2_name": "刘楼下",
            "party2_kind": "person", "people_involved": "2", "risk": "normal"} | extra
    return client.post("/disputes/new/", data)


def test_grid_worker_registers_and_the_mediator_sees_it(client, tree, users):
    login(client, users["grid_worker"])
    response = register_leak(client, tree)
    assert response.status_code == 302
    d = Dispute.objects.get()
    assert response.url == f"/disputes/{d.number}/"
    page = client.get(response.url).content.decode()
    assert "楼上漏水邻里纠纷" in page and "多福巷社区" in page
    assert "110101********1232" in page and "138****1111" in page  # a grid worker sees masked data
    assert "《民法典》" in page and "《人民调解法》第三十三条" in page  # law references
    client.logout()
    login(client, users["mediator"])
    page = client.get(f"/disputes/{d.number}/").content.decode()
    assert 'id="act-accept"' in page and "110101198001011232" not in page and "显示完整信息" in page
    party = d.parties.get(name="陈楼上")
    shown = client.post(f"/disputes/{d.number}/parties/{party.pk}/reveal/", {"reason": "contact"},
                        HTTP_HX_REQUEST="true").content.decode()
    assert "110101198001011232" in shown and 'href="tel:13800001111"' in shown and "已记入审计日志" in shown
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA, subject="disputes.party",
                                     subject_id=party.pk, user=users["mediator"]).count() == 1
    client.logout()
    login(client, users["grid_worker"])  # registered it, does not mediate it: refused and audited
    assert client.post(f"/disputes/{d.number}/parties/{party.pk}/reveal/", {"reason": "contact"}).status_code == 403
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users["grid_worker"]).exists()
    client.logout()
    login(client, users["mediator"])
    home = client.get("/home/").content.decode()
    assert 'data-worklist="dispute-to_accept"' in home


def test_bad_registration_is_explained_and_writes_nothing(client, tree, users):
    login(client, users["grid_worker"])
    response = register_leak(client, tree, party2_name="")
    assert response.status_code == 400
    assert "请至少填写两方当事人" in response.content.decode()
    assert "楼上卫生间漏水" in response.content.decode()  # what was typed is kept
    assert not Dispute.objects.exists()


def test_actions_through_the_page_and_a_stale_form(client, tree, users):
    login(client, users["grid_worker"])
    register_leak(client, tree)
    d = Dispute.objects.get()
    client.logout()
    login(client, users["mediator"])
    assert client.post(f"/disputes/{d.number}/act/", {"action": "accept", "version": 1}).status_code == 302
    response = client.post(f"/disputes/{d.number}/act/", {"action": "accept", "version": 1})
    assert response.status_code == 409 and "刷新" in response.content.decode()
    response = client.post(f"/disputes/{d.number}/act/", {
        "action": "record_session", "version": 2, "held_at": "", "place": "调解室", "mediators": "钱调解",
        "attendees": "双方", "notes": "x"})
    assert response.status_code == 400 and "请填写调解时间" in response.content.decode()
    held = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/disputes/{d.number}/act/", {
        "action": "record_session", "version": 2, "held_at": held, "place": "调解室", "mediators": "钱调解",
        "attendees": "陈楼上、刘楼下", "notes": "双方同意先检查防水"})
    assert response.status_code == 302
    page = client.get(f"/disputes/{d.number}/").content.decode()
    assert "双方同意先检查防水" in page and 'data-action="record_session"' in page


def test_others_cannot_act_or_even_see(client, tree, users):
    d = services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="漏水",
                                     parties=[{"name": "甲"}, {"name": "乙"}])
    login(client, users["grid_worker"])
    response = client.post(f"/disputes/{d.number}/act/", {"action": "accept", "version": 1})
    assert response.status_code == 403 and "无权" in response.content.decode()
    client.logout()
    login(client, users["community_staff_b"])
    assert client.get(f"/disputes/{d.number}/").status_code == 404
    assert client.post(f"/disputes/{d.number}/act/", {"action": "accept", "version": 1}).status_code == 404
    assert AuditEvent.objects.filter(detail__contains=d.number).exists()
    assert d.number not in client.get("/disputes/").content.decode()
    client.logout()
    login(client, users["handler"])
    assert client.get("/disputes/").status_code == 403
    assert client.get(f"/disputes/{d.number}/").status_code == 403
    client.logout()
    login(client, users["leader"])
    assert client.get(f"/disputes/{d.number}/").status_code == 200
    assert client.get("/disputes/new/").status_code == 403
    assert Dispute.objects.get(pk=d.pk).stage == Stage.REGISTERED


def test_agreement_download_opens_as_a_word_document(client, tree, users):
    m = users["mediator"]
    d = services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="漏水",
                                     parties=[{"name": "陈楼上"}, {"name": "刘楼下"}])
    d = services.accept(d, m, d.version)
    services.record_session(d, m, d.version, held_at=timezone.now(), place="调解室", mediators="钱调解",
                            attendees="双方", notes="协商")
    d.refresh_from_db()
    services.agree(d, m, d.version, form="written", facts="防水老化漏水", terms="赔偿2000元", performance="现金",
                   perform_by=timezone.localdate() + timedelta(days=7), mediator_names="钱调解")
    login(client, m)
    response = client.get(f"/disputes/{d.number}/agreement.docx")
    assert response.status_code == 200
    assert response["Content-Type"].endswith("wordprocessingml.document")
    text = docx_text(response.content)
    assert "人民调解协议书" in text and "赔偿2000元" in text and "陈楼上" in text
    client.logout()
    login(client, users["community_staff_b"])
    assert client.get(f"/disputes/{d.number}/agreement.docx").status_code == 404


def test_law_search_page(client, users):
    login(client, users["mediator"])
    page = client.get("/disputes/laws/", {"q": "宅基地"}).content.decode()
    assert "宅基地" in page and "《" in page
    partial = client.get("/disputes/laws/", {"q": "拖欠工资"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "《劳动法》第五十条" in partial
    client.logout()
    login(client, users["resident"])
    assert client.get("/disputes/laws/", {"q": "x"}).status_code == 403


def test_monthly_statistics_export_to_excel(client, tree, users):
    d = services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="漏水",
                                     parties=[{"name": "甲"}, {"name": "乙"}])
    d = services.accept(d, users["mediator"], d.version)
    services.fail(d, users["mediator"], d.version, reason="双方分歧大")
    services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="讨薪", kind="labour",
                                 parties=[{"name": "甲"}, {"name": "乙"}], people_involved=15)
    login(client, users["leader"])
    page = client.get("/disputes/stats/").content.decode()
    assert "社区（村）调委会" in page and "街道矛调中心" in page
    response = client.get("/disputes/stats/", {"format": "xlsx"})
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][:3] == ("调解层级", "登记数", "调结数")
    by_tier = {r[0]: r for r in rows[2:]}
    assert by_tier["社区（村）调委会"][1] == 1 and by_tier["社区（村）调委会"][2] == 1
    assert by_tier["街道矛调中心"][1] == 1 and by_tier["合计"][1] == 2
    client.logout()
    login(client, users["leader_x"])
    ws = load_workbook(io.BytesIO(client.get("/disputes/stats/", {"format": "xlsx"}).content)).active
    assert list(ws.iter_rows(values_only=True))[-1][1] == 0  # nothing of 东城区 counted for 西城区


def test_screening_page_closes_a_round_and_rolls_up_overdue(client, tree, users):
    screening.schedule()
    ScreeningRound.objects.filter(region=tree["B"]).update(due_at=timezone.now() - timedelta(days=1))
    login(client, users["community_staff"])
    rnd = ScreeningRound.objects.get(region=tree["A"])
    response = client.post(f"/disputes/screening/{rnd.pk}/close/", {"none_found": "1"})
    assert response.status_code == 302
    assert ScreeningRound.objects.get(pk=rnd.pk).none_found
    client.logout()
    login(client, users["dispatcher"])
    page = client.get("/disputes/screening/").content.decode()
    assert 'id="overdue-rollup"' in page and "银闸社区" in page


def test_petition_pages(client, tree, users):
    login(client, users["dispatcher"])
    data = {"form": "letter", "petitioner_name": "老周", "petitioner_id_number": "11010119650101123X",
            "title": "工地夜间施工扰民", "content": "工地每晚施工到凌晨，噪声扰民", "region_code": tree["A"].code}
    first = client.post("/disputes/petitions/new/", data)
    assert first.status_code == 302
    second = client.post("/disputes/petitions/new/", data | {"content": "工地夜间施工噪声仍未解决，再次来信"})
    page = client.get(second.url).content.decode()
    assert 'id="repeat-of"' in page and "11010119650101123X" not in page and "110101********123X" in page
    number = second.url.rstrip("/").split("/")[-1]
    shown = client.post(f"/disputes/petitions/{number}/reveal/", {"reason": "other", "note": "约访信访人"},
                        HTTP_HX_REQUEST="true").content.decode()
    assert "11010119650101123X" in shown
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.PERSONAL_DATA, subject="disputes.petition").reason == \
        "其他：约访信访人"
    number = second.url.rstrip("/").split("/")[-1]
    response = client.post(f"/disputes/petitions/{number}/act/", {"action": "extend", "version": 1, "days": "10",
                                                                  "reason": "x"})
    assert response.status_code == 403  # not accepted yet: no extension
    assert client.post(f"/disputes/petitions/{number}/act/", {"action": "accept", "version": 1}).status_code == 302
    response = client.post(f"/disputes/petitions/{number}/act/", {"action": "extend", "version": 2, "days": "31",
                                                                  "reason": "复杂"})
    assert response.status_code == 400 and "1 到 30 天" in response.content.decode()
    lists = client.get("/disputes/petitions/", {"tab": "repeat"}).content.decode()
    assert number in lists
    client.logout()
    login(client, users["mediator"])
    assert client.get(f"/disputes/petitions/{number}/").status_code == 404
    assert client.get("/disputes/petitions/").status_code == 403


def test_petition_office_home_shows_petition_counts(client, tree, users):
    office = users["dispatcher"]
    petitions.register(office, form="visit", petitioner_name="老李", title="拆迁补偿", content="补偿款未到位",
                       region=tree["A"])
    login(client, office)
    home = client.get("/home/").content.decode()
    assert 'data-worklist="petition-to_accept"' in home and "信访" in home
    client.logout()
    login(client, users["grid_worker"])
    assert 'id="dispute-worklists"' not in client.get("/home/").content.decode()


def test_case_leader_sees_the_petition_without_the_office_role(client, tree, users):
    office = users["dispatcher"]
    p = petitions.register(office, form="visit", petitioner_name="老李", title="拆迁补偿", content="补偿款未到位",
                           region=tree["A"])
    leader = create_staff("ld_street", PASSWORD, Role.LEADER, full_name="包案领导", region=tree["street"])
    petitions.assign(p, office, p.version, case_leader=leader, responsible=users["community_staff"])
    login(client, leader)
    page = client.get(f"/disputes/petitions/{p.number}/").content.decode()
    assert "拆迁补偿" in page and "包案领导" in page
