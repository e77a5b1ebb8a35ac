"""The worker's sweep for disputes and screening rounds: judicial confirmation warned before day 30,
lapsed after; mediation overdue; follow-up reminders; screening rounds overdue rolled up to the tier above."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases.models import Notification
from grassroots.disputes import jobs, screening, services
from grassroots.disputes.models import Confirmation, Dispute, DisputeEvent, ScreeningRound
from grassroots.disputes.services import DisputeError, NotAllowed
from grassroots.lib.worker import Worker, registered_jobs
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db


def agreed(tree, users, form="written"):
    d = services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="楼上漏水",
                                     parties=[{"name": "甲"}, {"name": "乙"}])
    m = users["mediator"]
    d = services.accept(d, m, d.version)
    services.record_session(d, m, d.version, held_at=timezone.now(), place="调解室", mediators="钱调解",
                            attendees="甲、乙", notes="协商")
    d.refresh_from_db()
    services.agree(d, m, d.version, form=form, facts="漏水", terms="赔偿1000元", performance="现金",
                   perform_by=timezone.localdate() + timedelta(days=40), mediator_names="钱调解")
    d.refresh_from_db()
    if form == "written":
        services.sign(d, m, d.version, signed_by=["甲", "乙", "钱调解"])
        d.refresh_from_db()
    return d


def test_jobs_are_registered():
    names = {j.name for j in registered_jobs()}
    assert {"disputes.deadlines", "disputes.screening"} <= names


def test_judicial_confirmation_is_reminded_before_day_30_then_lapses(tree, users):
    d = agreed(tree, users)
    effective = d.agreement.effective_at
    assert d.next_due_at == effective + timedelta(days=25)  # 5 days before the window closes
    assert jobs.sweep(effective + timedelta(days=24)) == 0
    assert jobs.sweep(effective + timedelta(days=25, minutes=1)) == 1
    note = Notification.objects.get(recipient=users["mediator"], kind="dispute_confirm_warn")
    assert d.number in note.text and "司法确认" in note.text
    d.refresh_from_db()
    assert d.confirm_warned and d.next_due_at == d.confirm_due_at
    assert jobs.sweep(effective + timedelta(days=26)) == 0  # once only
    assert jobs.sweep(effective + timedelta(days=30, minutes=1)) == 1
    d.refresh_from_db()
    assert d.confirmation == Confirmation.LAPSED
    assert list(DisputeEvent.objects.filter(dispute=d, actor_name="系统").values_list("action", flat=True)) == [
        "confirm_warn", "confirm_lapsed"]
    with pytest.raises(DisputeError, match="30 日"):
        services.confirm(d, users["mediator"], d.version, outcome=Confirmation.APPLIED)


def test_no_warning_once_confirmation_is_applied_for(tree, users):
    d = agreed(tree, users, form="oral")
    d = services.confirm(d, users["mediator"], d.version, outcome=Confirmation.APPLIED)
    jobs.sweep(timezone.now() + timedelta(days=29))
    assert not Notification.objects.filter(kind__startswith="dispute_confirm").exists()


def test_follow_up_due_after_the_performance_date(tree, users):
    d = agreed(tree, users, form="oral")
    services.confirm(d, users["mediator"], d.version, outcome=Confirmation.APPLIED)
    d.refresh_from_db()
    assert d.next_due_at == d.follow_up_due_at
    assert jobs.sweep(d.follow_up_due_at + timedelta(minutes=1)) == 1
    assert Notification.objects.filter(recipient=users["mediator"], kind="dispute_follow_up_due").exists()


def test_mediation_overdue(tree, users):
    d = services.register_from_visit(users["grid_worker"], grid=tree["A1"], description="噪音",
                                     parties=[{"name": "甲"}, {"name": "乙"}])
    d = services.accept(d, users["mediator"], d.version)
    assert jobs.sweep(d.mediation_due_at + timedelta(minutes=1)) == 1
    d.refresh_from_db()
    assert d.overdue and d.next_due_at is None
    assert Notification.objects.filter(recipient=users["mediator"], kind="dispute_overdue").exists()


def test_worker_runs_the_job(tree, users):
    d = agreed(tree, users, form="oral")
    Dispute.objects.filter(pk=d.pk).update(next_due_at=timezone.now() - timedelta(seconds=1),
                                           confirm_due_at=timezone.now() + timedelta(days=1))
    job = next(j for j in registered_jobs() if j.name == "disputes.deadlines")
    result = Worker([job], say=lambda _m: None).run_job(job)
    assert result.error is None and result.handled == 1


# --- screening rounds ---------------------------------------------------------------------------


def test_rounds_are_scheduled_weekly_for_communities_and_monthly_above(tree):
    made = screening.schedule(date(2026, 11, 18))  # a Wednesday
    assert made == 3 + 2 + 2  # communities A, B, C; two streets; two districts
    assert screening.schedule(date(2026, 11, 19)) == 0  # idempotent within the period
    week = ScreeningRound.objects.get(region=tree["A"])
    assert week.period_start == date(2026, 11, 16) and "第47周" in week.title
    month = ScreeningRound.objects.get(region=tree["street"])
    assert month.period_start == date(2026, 11, 1) and timezone.localtime(month.due_at).date() == date(2026, 11, 30)


def test_round_closed_by_listing_disputes_or_declaring_none(tree, users):
    screening.schedule()
    rnd = ScreeningRound.objects.get(region=tree["A"])
    d = services.register(users["grid_worker"], kind="neighbour", description="排查发现楼道堆物纠纷",
                          parties=[{"name": "甲"}, {"name": "乙"}], region=tree["A1"], source="screening")
    with pytest.raises(DisputeError, match="或声明未发现"):
        screening.close_round(users["grid_worker"], rnd)
    with pytest.raises(DisputeError, match="不在本次排查范围"):
        screening.close_round(users["grid_worker"], rnd, dispute_numbers=[d.number, "TJ000"])
    with pytest.raises(NotAllowed):
        screening.close_round(users["grid_worker_b"], rnd, none_found=True)
    with pytest.raises(NotAllowed):
        screening.close_round(users["leader"], rnd, none_found=True)
    rnd = screening.close_round(users["grid_worker"], rnd, dispute_numbers=[d.number])
    assert rnd.closed_at and list(rnd.disputes.all()) == [d]
    other = ScreeningRound.objects.get(region=tree["B"])
    other = screening.close_round(users["community_staff_b"], other, none_found=True, note="本周未发现")
    assert other.none_found
    with pytest.raises(DisputeError, match="已完成"):
        screening.close_round(users["community_staff_b"], other, none_found=True)


def test_missed_rounds_show_as_overdue_to_the_tier_above(tree, users):
    screening.schedule()
    rnd_a = ScreeningRound.objects.get(region=tree["A"])
    screening.close_round(users["community_staff_b"], ScreeningRound.objects.get(region=tree["B"]), none_found=True)
    street_dispatcher = users["dispatcher"]
    later = rnd_a.due_at + timedelta(minutes=1)
    handled = jobs.sweep(later)
    assert handled >= 1
    rnd_a.refresh_from_db()
    assert rnd_a.overdue and rnd_a.next_due_at is None
    assert Notification.objects.filter(recipient=street_dispatcher, kind="screening_overdue",
                                       text__contains="多福巷社区").exists()
    assert not Notification.objects.filter(kind="screening_overdue", text__contains="银闸社区").exists()
    ScreeningRound.objects.filter(region__level="community").update(due_at=timezone.now() - timedelta(days=1))
    ScreeningRound.objects.filter(region=tree["B"]).update(closed_at=timezone.now())
    rollup = screening.overdue_rollup(users["leader"])
    assert {"unit": "多福巷社区", "level": "community", "count": 1} in rollup
    assert all(r["unit"] != "西长安街社区" for r in rollup) and all(r["unit"] != "银闸社区" for r in rollup)
    assert screening.overdue_rollup(users["leader_x"]) == [
        {"unit": "西长安街社区", "level": "community", "count": 1}]


def test_special_round_around_a_sensitive_date(tree, users):
    dp = users["dispatcher"]
    today = timezone.localdate()
    rows = screening.open_special(dp, tree["street"], title="国庆前矛盾纠纷专项排查", start=today,
                                  due=today + timedelta(days=5))
    assert {r.region.code for r in rows} == {tree["A"].code, tree["B"].code, tree["street"].code}
    with pytest.raises(DisputeError, match="不在您的范围"):
        screening.open_special(dp, tree["street_x"], title="x", start=today, due=today)
    with pytest.raises(NotAllowed):
        screening.open_special(create_staff("ld2", None, Role.LEADER, region=tree["street"]), tree["street"],
                               title="x", start=today, due=today)
