"""Disputes through the services: every stage, who may do it, and what it leaves behind."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases import services as case_services
from grassroots.cases.models import Notification
from grassroots.disputes import services
from grassroots.disputes.documents import agreement_docx, docx_text
from grassroots.disputes.models import (
    Agreement,
    Confirmation,
    Dispute,
    DisputeEvent,
    FollowUp,
    Party,
    Referral,
    Source,
    Stage,
)
from grassroots.disputes.services import Conflict, DisputeError, NotAllowed
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db

NEIGHBOURS = [
    {"name": "陈楼上", "id_number": "110101198001011232", "phone": "13800001111", "address": "多福巷3号楼502"},
    {"name": "刘楼下", "phone": "13900002222", "address": "多福巷3号楼402"},
]


@pytest.fixture
def staff(tree, users):
    users["mediator_street"] = create_staff("md_street", None, Role.MEDIATOR, full_name="街道调解员", region=tree["street"])
    users["mediator_district"] = create_staff("md_dc", None, Role.MEDIATOR, full_name="区调解员", region=tree["dongcheng"])
    users["mediator_b"] = create_staff("md_b", None, Role.MEDIATOR, full_name="银闸调解员", region=tree["B"])
    return users


def leak(actor, tree, **kw):
    return services.register_from_visit(
        actor, grid=tree["A1"], description="楼上卫生间漏水，楼下天花板发霉，双方多次争吵", parties=NEIGHBOURS,
        title="楼上漏水邻里纠纷", amount=3000, **kw)


def mediated_to_agreement(d, mediator, *, form="written"):
    d = services.accept(d, mediator, d.version)
    now = timezone.now()
    services.record_session(d, mediator, d.version, held_at=now - timedelta(days=2), place="社区调解室",
                            mediators="钱调解", attendees="陈楼上、刘楼下", notes="双方陈述，楼上同意检查防水")
    services.record_session(d, mediator, d.version, held_at=now - timedelta(hours=1), place="社区调解室",
                            mediators="钱调解", attendees="陈楼上、刘楼下", notes="鉴定为防水层老化，协商赔偿")
    services.agree(d, mediator, d.version, form=form, facts="502室卫生间防水层老化漏水，致402室天花板受损",
                   responsibilities="502室承担维修和赔偿责任", terms="陈楼上于十日内修复防水并赔偿刘楼下2000元",
                   performance="维修后由社区见证，赔偿款当面交付", perform_by=timezone.localdate() + timedelta(days=10),
                   mediator_names="钱调解")
    return Dispute.objects.get(pk=d.pk)


def actions(d):
    return list(DisputeEvent.objects.filter(dispute=d).values_list("action", flat=True))


def test_water_leak_from_a_visit_to_closing(tree, staff):
    u = staff
    d = leak(u["grid_worker"], tree)
    assert d.source == Source.GRID and d.stage == Stage.REGISTERED and d.tier == "community"
    assert d.handling_region == tree["A"] and d.grid == tree["A1"] and d.parties.count() == 2
    assert Notification.objects.filter(recipient=u["mediator"], text__contains=d.number).exists()
    d = mediated_to_agreement(d, u["mediator"])
    assert d.stage == Stage.AGREED and d.sessions.count() == 2
    assert d.agreement.effective_at is None and d.confirm_due_at is None  # written: effective when signed
    with pytest.raises(DisputeError, match="刘楼下"):
        services.sign(d, u["mediator"], d.version, signed_by=["陈楼上", "钱调解"])
    services.sign(d, u["mediator"], d.version, signed_by=["陈楼上", "刘楼下", "钱调解"])
    d.refresh_from_db()
    assert d.agreement.effective_at is not None
    assert d.confirm_due_at - d.agreement.effective_at == timedelta(days=30)
    services.follow_up(d, u["mediator"], d.version, performance=FollowUp.Performance.FULL, note="已修复并赔偿")
    d.refresh_from_db()
    d = services.close(d, u["mediator"], d.version)
    assert d.stage == Stage.CLOSED and d.closed_at
    assert actions(d) == ["register", "accept", "record_session", "record_session", "agree", "sign", "follow_up", "close"]
    assert list(Party.objects.filter(dispute=d).values_list("consented", flat=True)) == [True, True]


def test_oral_agreement_takes_effect_at_once(tree, staff):
    d = mediated_to_agreement(leak(staff["grid_worker"], tree), staff["mediator"], form="oral")
    assert d.agreement.form == Agreement.Form.ORAL and d.agreement.effective_at is not None
    assert d.confirm_due_at is not None and d.next_due_at is not None
    with pytest.raises(DisputeError, match="书面"):
        services.sign(d, staff["mediator"], d.version, signed_by=["陈楼上"])


def test_agreement_document_holds_article_29_contents(tree, staff):
    d = mediated_to_agreement(leak(staff["grid_worker"], tree), staff["mediator"])
    services.sign(d, staff["mediator"], d.version, signed_by=["陈楼上", "刘楼下", "钱调解"])
    d = Dispute.objects.get(pk=d.pk)
    data = agreement_docx(d)
    assert data[:2] == b"PK"  # a real Office Open XML package
    text = docx_text(data)
    assert "人民调解协议书" in text and d.number in text
    assert "陈楼上" in text and "刘楼下" in text  # the parties
    assert "110101********1232" in text and "110101198001011232" not in text  # ID masked
    assert "138****1111" in text
    assert "防水层老化" in text  # facts
    assert "502室承担维修和赔偿责任" in text  # responsibilities
    assert "赔偿刘楼下2000元" in text  # agreed terms
    assert "维修后由社区见证" in text and "前履行完毕" in text  # performance and time limit
    assert "签名" in text and "多福巷社区人民调解委员会（印章）" in text
    assert "三十日内共同向人民法院申请司法确认" in text


def test_consent_refusal_ends_mediation_with_a_referral(tree, staff):
    d = leak(staff["grid_worker"], tree)
    party = d.parties.get(name="刘楼下")
    with pytest.raises(DisputeError, match="受理机关"):
        services.refuse(d, staff["mediator"], d.version, party_id=party.pk, to="court", body="", reason="不愿调解")
    assert Dispute.objects.get(pk=d.pk).stage == Stage.REGISTERED  # nothing written half-way
    d = services.refuse(d, staff["mediator"], d.version, party_id=party.pk, to="court", body="东城区人民法院",
                        reason="刘楼下表示只接受诉讼解决")
    assert d.stage == Stage.REFERRED and d.closed_at
    assert Referral.objects.get(dispute=d).to == Referral.To.COURT
    assert Party.objects.get(pk=party.pk).consented is False
    with pytest.raises(NotAllowed, match="已引导分流"):
        services.record_session(d, staff["mediator"], d.version, held_at=timezone.now(), place="x", mediators="x",
                                attendees="x", notes="x")


def test_land_dispute_fails_escalates_and_goes_to_arbitration(tree, staff):
    u = staff
    d = services.register(u["community_staff"], kind="land", description="两户因承包地边界争执，互不相让",
                          parties=[{"name": "赵甲"}, {"name": "孙乙"}], region=tree["A"], source="screening")
    d = services.accept(d, u["mediator"], d.version)
    services.record_session(d, u["mediator"], d.version, held_at=timezone.now(), place="村委会", mediators="钱调解",
                            attendees="赵甲、孙乙", notes="双方各执一词")
    d.refresh_from_db()
    d = services.fail(d, u["mediator"], d.version, reason="双方对承包合同边界认识分歧大")
    assert d.stage == Stage.FAILED
    with pytest.raises(NotAllowed):  # the street's centre cannot act on a community case it does not hold…
        services.refer(d, u["mediator_b"], d.version, to="arbitration", body="x", reason="x")
    d = services.escalate(d, u["mediator"], d.version, reason="社区调解不成，涉及承包合同解释，提请街道矛调中心")
    assert d.tier == "street" and d.handling_region == tree["street"] and d.stage == Stage.ACCEPTED
    ev = DisputeEvent.objects.filter(dispute=d, action="escalate").get()
    assert ev.note.startswith("社区调解不成") and ev.data["to"] == "street"
    with pytest.raises(NotAllowed):  # the community no longer holds it
        services.fail(d, u["mediator"], d.version, reason="再次不成")
    services.record_session(d, u["mediator_street"], d.version, held_at=timezone.now(), place="街道矛调中心",
                            mediators="街道调解员", attendees="赵甲、孙乙", notes="仍未达成一致")
    d.refresh_from_db()
    d = services.fail(d, u["mediator_street"], d.version, reason="双方坚持己见")
    referral = services.refer(d, u["mediator_street"], d.version, to="arbitration",
                              body="东城区农村土地承包仲裁委员会", reason="属农村土地承包经营纠纷，引导申请仲裁")
    d.refresh_from_db()
    assert d.stage == Stage.REFERRED and referral.get_to_display() == "仲裁机构"
    assert "escalate" in actions(d) and actions(d)[-1] == "refer"


@pytest.mark.parametrize(("kw", "tier", "why"), [
    ({}, "community", ""),
    ({"people_involved": 12}, "street", "涉及 12 人"),
    ({"amount": 150000}, "street", "涉及金额 150,000 元"),
    ({"risk": "major", "risk_reasons": "双方扬言动手"}, "street", "较大"),
    ({"people_involved": 40}, "district", "涉及 40 人"),
    ({"risk": "serious", "risk_reasons": "群体性事件苗头"}, "district", "重大"),
])
def test_escalation_thresholds_put_the_dispute_at_its_tier(tree, staff, kw, tier, why):
    args = {"people_involved": 2, "amount": None} | kw
    d = services.register(staff["grid_worker"], kind="labour", description="工地拖欠工资", region=tree["A1"],
                          parties=[{"name": "工人代表"}, {"name": "某建筑公司", "kind": "organisation"}], source="grid",
                          **args)
    assert d.tier == tier
    escalations = DisputeEvent.objects.filter(dispute=d, action="escalate")
    if why:
        assert why in escalations.get().note and escalations.get().data["auto"] is True
    else:
        assert not escalations.exists()


def test_risk_assessment_moves_the_dispute_up_when_a_threshold_is_reached(tree, staff):
    d = leak(staff["grid_worker"], tree)
    d = services.assess_risk(d, staff["mediator"], d.version, risk="major", reasons="楼下扬言报复")
    assert d.tier == "street" and d.handling_region == tree["street"]
    assert actions(d)[-2:] == ["assess_risk", "escalate"]
    assert Notification.objects.filter(recipient=staff["mediator_street"], text__contains=d.number).exists()


def test_cannot_escalate_above_the_district(tree, staff):
    d = leak(staff["grid_worker"], tree, people_involved=50)
    assert d.tier == "district"
    with pytest.raises(DisputeError, match="不能再提级"):
        services.escalate(d, staff["mediator_district"], d.version, reason="再提级")


def test_permissions_follow_role_and_scope(tree, staff):
    u = staff
    d = leak(u["grid_worker"], tree)
    for who in ("grid_worker", "dispatcher", "leader", "handler", "resident", "mediator_b", "community_staff_b"):
        with pytest.raises(NotAllowed):
            services.accept(d, u[who], d.version)
    with pytest.raises(NotAllowed):
        leak(u["leader"], tree)  # leaders view only
    with pytest.raises(NotAllowed):
        leak(u["resident"], tree)
    with pytest.raises(DisputeError, match="不在您的辖区"):
        leak(u["grid_worker_b"], tree)  # A1 is not B1's grid
    services.accept(d, u["community_staff"], d.version)  # community staff mediate too
    d.refresh_from_db()
    # A dispatcher (综治中心) may escalate and flag 民转刑, but not mediate.
    with pytest.raises(NotAllowed):
        services.fail(d, u["dispatcher"], d.version, reason="x")
    d = services.flag_criminal(d, u["dispatcher"], d.version, note="当事人持刀伤人，已由派出所立案")
    assert d.criminal


def test_second_concurrent_action_gets_a_clear_message(tree, staff):
    d = leak(staff["grid_worker"], tree)
    stale = Dispute.objects.get(pk=d.pk)
    services.accept(d, staff["mediator"], d.version)
    with pytest.raises(Conflict, match="刚被他人处理"):
        services.accept(stale, staff["community_staff"], stale.version)
    with pytest.raises(Conflict):
        services.fail(stale, staff["mediator"], stale.version, reason="不成")


def test_bad_input_is_refused_in_chinese_and_writes_nothing(tree, staff):
    gw = staff["grid_worker"]
    before = Dispute.objects.count()
    cases = [
        ({"parties": NEIGHBOURS[:1]}, "两方当事人"),
        ({"description": "  "}, "纠纷简要情况"),
        ({"kind": "weird"}, "纠纷类型"),
        ({"amount": "一万"}, "金额"),
        ({"risk": "major"}, "研判理由"),
        ({"parties": [{"name": "甲", "id_number": "123"}, {"name": "乙"}]}, "公民身份号码应为 18 位"),
            ({"parties": [{"name": "甲", "id_number": "110101199607300171"}, {"name": "乙"}]}, "校验码不正确"),
            ({"parties": [{"name": "某公司", "kind": "organisation", "id_number": "91110000600037341X"}, {"name": "乙"}]},
             "统一社会信用代码校验位不正确"),
        ({"parties": [{"name": "甲", "phone": "12345"}, {"name": "乙"}]}, "联系电话"),
    ]
    for change, message in cases:
        args = {"kind": "neighbour", "description": "楼上漏水", "parties": NEIGHBOURS, "region": tree["A1"],
                "source": "grid"} | change
        with pytest.raises(DisputeError, match=message):
            services.register(gw, **args)
    assert Dispute.objects.count() == before


def test_close_needs_a_follow_up_and_reasons_when_not_performed(tree, staff):
    m = staff["mediator"]
    d = mediated_to_agreement(leak(staff["grid_worker"], tree), m, form="oral")
    with pytest.raises(NotAllowed):
        services.close(d, m, d.version)
    services.follow_up(d, m, d.version, performance="partial", note="只赔了一半")
    d.refresh_from_db()
    with pytest.raises(DisputeError, match="写明理由"):
        services.close(d, m, d.version)
    d = services.close(d, m, d.version, note="余款已约定由法院司法确认后执行")
    assert d.stage == Stage.CLOSED


def test_judicial_confirmation_only_within_the_window(tree, staff):
    m = staff["mediator"]
    d = mediated_to_agreement(leak(staff["grid_worker"], tree), m, form="oral")
    with pytest.raises(DisputeError, match="先申请"):
        services.confirm(d, m, d.version, outcome=Confirmation.CONFIRMED)
    Dispute.objects.filter(pk=d.pk).update(confirm_due_at=timezone.now() - timedelta(minutes=1))
    d.refresh_from_db()
    with pytest.raises(DisputeError, match="30 日"):
        services.confirm(d, m, d.version, outcome=Confirmation.APPLIED)
    Dispute.objects.filter(pk=d.pk).update(confirm_due_at=timezone.now() + timedelta(days=3))
    d.refresh_from_db()
    d = services.confirm(d, m, d.version, outcome=Confirmation.APPLIED, note="双方共同向东城区法院申请")
    d = services.confirm(d, m, d.version, outcome=Confirmation.CONFIRMED)
    assert d.confirmation == Confirmation.CONFIRMED and d.next_due_at == d.follow_up_due_at


def test_a_case_converts_into_a_dispute_keeping_the_link(tree, staff):
    from grassroots.cases.catalog import load_default_catalog
    from grassroots.cases.services import Report

    load_default_catalog()
    case = case_services.intake(staff["grid_worker"], Report(channel="grid", description="邻居装修噪音扰民引发争吵",
                                                             lon=116.402, lat=39.905)).case
    d = services.convert_case(case, staff["community_staff"], kind="neighbour", parties=NEIGHBOURS)
    assert d.source == Source.CASE and d.case == case and d.grid == tree["A1"] and d.title == case.title
    with pytest.raises(DisputeError, match="已转为矛盾纠纷"):
        services.convert_case(case, staff["community_staff"], kind="neighbour", parties=NEIGHBOURS)
    with pytest.raises(DisputeError, match="事件不存在"):
        services.convert_case(case, staff["community_staff_b"], kind="neighbour", parties=NEIGHBOURS)
