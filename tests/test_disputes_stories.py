"""The issue's “done when”, told as a new user would live it, end to end through the services,
the document, the worker and the inbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases.models import Notification
from grassroots.disputes import jobs, petitions, services
from grassroots.disputes.documents import agreement_docx, docx_text
from grassroots.disputes.models import Dispute, Referral, Stage
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db


def test_water_leak_found_on_a_visit_is_mediated_confirmed_on_time_and_closed(tree, users):
    gw, m = users["grid_worker"], users["mediator"]
    d = services.register_from_visit(gw, grid=tree["A1"], title="楼上漏水邻里纠纷",
                                     description="走访发现：3号楼502卫生间漏水，402天花板发霉，两家多次争吵",
                                     parties=[{"name": "陈楼上", "phone": "13800001111"}, {"name": "刘楼下"}])
    d = services.accept(d, m, d.version)
    for day, notes in ((3, "双方陈述，约定请物业检测"), (1, "检测为防水层老化，协商赔偿金额")):
        services.record_session(d, m, d.version, held_at=timezone.now() - timedelta(days=day), place="社区调解室",
                                mediators="钱调解", attendees="陈楼上、刘楼下、物业", notes=notes)
        d.refresh_from_db()
    services.agree(d, m, d.version, form="written", facts="502室防水层老化漏水致402室天花板受损",
                   responsibilities="502室承担责任", terms="陈楼上修复防水并赔偿刘楼下2000元", performance="当面交付",
                   perform_by=timezone.localdate() + timedelta(days=10), mediator_names="钱调解")
    d.refresh_from_db()
    services.sign(d, m, d.version, signed_by=["陈楼上", "刘楼下", "钱调解"])
    d = Dispute.objects.get(pk=d.pk)
    text = docx_text(agreement_docx(d))  # generated and opened
    assert "陈楼上修复防水并赔偿刘楼下2000元" in text and "三十日内" in text
    effective = d.agreement.effective_at
    jobs.sweep(effective + timedelta(days=26))  # day 26: the window closes on day 30
    reminder = Notification.objects.get(recipient=m, kind="dispute_confirm_warn")
    assert d.number in reminder.text
    d.refresh_from_db()
    services.follow_up(d, m, d.version, performance="full", note="已修复，赔偿款已付")
    d.refresh_from_db()
    d = services.close(d, m, d.version)
    assert d.stage == Stage.CLOSED


def test_land_dispute_fails_in_the_village_goes_to_the_street_and_on_to_arbitration(tree, users):
    street_mediator = create_staff("md_street", None, Role.MEDIATOR, full_name="街道调解员", region=tree["street"])
    m = users["mediator"]
    d = services.register(users["grid_worker"], kind="land", title="承包地边界纠纷", source="screening",
                          description="两户因承包地边界争执", parties=[{"name": "赵甲"}, {"name": "孙乙"}],
                          region=tree["A1"])
    d = services.accept(d, m, d.version)
    d = services.fail(d, m, d.version, reason="双方对承包合同边界认识分歧大")
    d = services.escalate(d, m, d.version, reason="社区调解不成，涉及承包合同解释")
    assert d.handling_region == tree["street"]
    assert d.events.get(action="escalate").note == "社区调解不成，涉及承包合同解释"
    assert Notification.objects.filter(recipient=street_mediator, kind="dispute_escalated").exists()
    d = services.fail(d, street_mediator, d.version, reason="仍不成")
    services.refer(d, street_mediator, d.version, to="arbitration", body="东城区农村土地承包仲裁委员会",
                   reason="引导申请仲裁")
    assert Referral.objects.get(dispute=d).to == "arbitration"


def test_a_repeat_petitioners_second_letter_is_linked(tree, users):
    office = users["dispatcher"]
    first = petitions.register(office, form="letter", petitioner_name="老周", petitioner_id_number="11010119650101123X",
                               title="工地夜间施工扰民", content="工地每晚施工到凌晨，噪声扰民", region=tree["A"])
    second = petitions.register(office, form="letter", petitioner_name="老周",
                                petitioner_id_number="11010119650101123X", title="再次反映工地施工",
                                content="工地夜间施工噪声依旧，要求停工", region=tree["A"])
    assert second.repeat_of == first
