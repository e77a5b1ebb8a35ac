"""Care and attention groups: visit rules, overdue visits and their roll-up per community, a
visit that opens a case, and the dispute hook while the disputes part is not there."""

from datetime import timedelta

import pytest
from django.utils import timezone

from grassroots.cases.models import Case, Channel
from grassroots.ledger import queries, services
from grassroots.ledger.models import CareTag
from tests.ledger_helpers import ELDER_ID, SON_ID, WIFE_ID, household_in, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def elders(tree, users):
    cs = users["community_staff"]
    a1 = person(cs, household_in(tree["A1"]), ELDER_ID, "王大爷")
    a2 = person(cs, household_in(tree["A2"], number="HH-A2-1"), WIFE_ID, "李奶奶")
    b1 = person(users["community_staff_b"], household_in(tree["B1"], number="HH-B1-1"), SON_ID, "赵大伯")
    return {"a1": a1, "a2": a2, "b1": b1}


def test_each_type_has_its_visit_rule(elders, users):
    today = timezone.localdate()
    alone = services.assign_care(users["grid_worker"], elders["a1"], "living_alone", "老伴去世，子女在外地")
    assert alone.next_visit_due == today + timedelta(days=30) and alone.assigned_by == users["grid_worker"]
    disabled = services.assign_care(users["community_staff"], elders["a2"], "disabled", "二级肢体残疾")
    assert disabled.next_visit_due == today + timedelta(days=90)
    with pytest.raises(services.LedgerError, match="已在“独居老人”中"):
        services.assign_care(users["grid_worker"], elders["a1"], "living_alone", "重复")
    with pytest.raises(services.LedgerError, match="请填写认定理由"):
        services.assign_care(users["grid_worker"], elders["a1"], "empty_nest", "  ")
    with pytest.raises(services.LedgerError, match="类别不正确"):
        services.assign_care(users["grid_worker"], elders["a1"], "vip", "x")


def test_a_visit_restarts_the_clock_and_overdue_counts_roll_up_per_community(elders, users):
    today = timezone.localdate()
    long_ago = today - timedelta(days=45)
    for key, grid_user in (("a1", "grid_worker"), ("a2", "community_staff"), ("b1", "community_staff_b")):
        services.assign_care(users[grid_user], elders[key], "living_alone", "独居", start=long_ago)
    assert queries.overdue(users["grid_worker"]).count() == 1  # only A1's
    assert queries.overdue(users["community_staff"]).count() == 2  # A1 + A2
    rollup = queries.overdue_by_community(users["dispatcher"])  # the street: A and B
    assert [(r["name"], r["count"], r["grids"]) for r in rollup] == [("多福巷社区", 2, 2), ("银闸社区", 1, 1)]
    assert queries.overdue(users["grid_worker_b"]).get().person == elders["b1"]

    services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(findings="身体尚好，冰箱有菜"))
    tag = CareTag.objects.get(person=elders["a1"])
    assert tag.next_visit_due == today + timedelta(days=30) and tag.last_visit_at is not None
    assert queries.overdue(users["grid_worker"]).count() == 0
    assert queries.overdue_by_community(users["dispatcher"])[0]["count"] == 1


def test_a_visit_to_an_elderly_person_living_alone_opens_a_case(elders, users):
    services.assign_care(users["grid_worker"], elders["a1"], "living_alone", "独居")
    visit = services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(
        findings="老人反映楼道灯坏了一个月，夜里下楼不便", open_case=True))
    case = Case.objects.get(pk=visit.case_id)
    assert case.channel == Channel.VISIT and case.grid.code == "110101001001001"
    assert "楼道灯" in case.description and case.state == "accepted"
    assert visit.care_tag.type == "living_alone"


def test_a_visit_with_nothing_written_is_refused_and_changes_nothing(elders, users):
    services.assign_care(users["grid_worker"], elders["a1"], "living_alone", "独居")
    before = CareTag.objects.get(person=elders["a1"]).next_visit_due
    with pytest.raises(services.LedgerError, match="请填写走访情况"):
        services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(findings=" "))
    with pytest.raises(services.LedgerError, match="不能晚于现在"):
        services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(
            findings="x", visited_at=timezone.now() + timedelta(days=1)))
    assert CareTag.objects.get(person=elders["a1"]).next_visit_due == before
    assert not elders["a1"].visits.exists()


def test_a_visit_can_open_a_dispute_through_the_disputes_hook(elders, users):
    if not services.dispute_hook_available():
        with pytest.raises(services.LedgerError, match="矛盾纠纷模块尚未启用"):
            services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(
                findings="邻里噪音纠纷", open_dispute=True, dispute_party="楼上住户"))
        assert not elders["a1"].visits.exists()
        return
    from grassroots.disputes.models import Dispute

    with pytest.raises(services.LedgerError, match="矛盾纠纷未能登记"):  # one party only: refused, nothing kept
        services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(
            findings="楼上装修噪音扰民，双方争吵", open_dispute=True))
    assert not elders["a1"].visits.exists() and not Dispute.objects.exists()
    visit = services.record_visit(users["grid_worker"], elders["a1"], services.VisitData(
        findings="楼上装修噪音扰民，双方争吵", open_dispute=True, dispute_party="楼上住户孙某"))
    dispute = Dispute.objects.get(number=visit.dispute_ref)
    assert dispute.grid.code == "110101001001001" and "装修噪音" in dispute.description


def test_visiting_someone_outside_the_grid_is_refused(elders, users):
    with pytest.raises(services.LedgerError, match="不在您的辖区内"):
        services.record_visit(users["grid_worker"], elders["b1"], services.VisitData(findings="路过"))
    with pytest.raises(services.NotAllowed):
        services.record_visit(users["leader"], elders["a1"], services.VisitData(findings="看望"))
