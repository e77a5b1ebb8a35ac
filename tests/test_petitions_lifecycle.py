"""Petitions (信访): registration, the 信访工作条例 clocks with one extension, review and re-review,
repeat detection, case leaders and the backlog with 一案一策."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases.models import Notification
from grassroots.disputes import jobs, petitions, queries
from grassroots.disputes.models import Petition, PetitionEvent, PetitionState
from grassroots.disputes.services import Conflict, DisputeError, NotAllowed
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db

P = PetitionState


@pytest.fixture
def office(users):
    return users["dispatcher"]  # 东华门街道综治中心 (信访办)


def letter(actor, tree, *, name="老周", id_number="11010119650101123X", title="小区旁工地夜间施工扰民",
           content="工地每晚施工到凌晨，噪声扰民，多次反映未解决", **kw):
    return petitions.register(actor, form="letter", petitioner_name=name, petitioner_id_number=id_number,
                              title=title, content=content, region=tree["A"], **kw)


def test_petition_clocks_follow_the_regulation_in_calendar_days(tree, users, office):
    p = letter(office, tree)
    assert p.state == P.REGISTERED and p.accept_due_at - p.received_at == timedelta(days=15)
    assert p.next_due_at == p.accept_due_at - timedelta(days=3)  # warned 3 days before
    p = petitions.accept(p, office, p.version)
    assert p.handle_due_at - p.accepted_at == timedelta(days=60)
    due = p.handle_due_at
    p = petitions.extend(p, office, p.version, days=30, reason="涉及多个部门，需联合调查")
    assert p.handle_due_at - due == timedelta(days=30)
    with pytest.raises(DisputeError, match="只能延长一次"):
        petitions.extend(p, office, p.version, days=5, reason="再延")
    p = petitions.reply(p, office, p.version, text="已责令工地22时后停止施工，城管每晚巡查")
    assert p.state == P.REPLIED and p.request_due_at - p.replied_at == timedelta(days=30)
    p = petitions.request_review(p, office, p.version, note="信访人认为仍有夜间施工，申请复查")
    assert p.state == P.REVIEWING and p.answer_due_at is not None
    p = petitions.answer_review(p, office, p.version, text="经复查，维持原处理意见")
    p = petitions.request_recheck(p, office, p.version, note="申请复核")
    p = petitions.answer_recheck(p, office, p.version, text="复核维持，信访事项终结")
    assert p.state == P.CLOSED and p.closed_at
    assert [e.action for e in p.events.all()] == [
        "register", "accept", "extend", "reply", "request_review", "answer_review", "request_recheck", "answer_recheck"]


def test_extension_is_at_most_thirty_days(tree, office):
    p = petitions.accept(letter(office, tree), office, 1)
    with pytest.raises(DisputeError, match="1 到 30 天"):
        petitions.extend(p, office, p.version, days=31, reason="太复杂")


@override_settings(PETITION_WORKDAYS=True)
def test_working_days_when_configured(tree, office):
    p = letter(office, tree)
    from grassroots.cases.workdays import add_workdays

    assert p.accept_due_at == add_workdays(p.received_at, 15)


@override_settings(PETITION_LIMITS={"accept": 7, "handle": 30, "extension": 15, "request": 30, "answer": 30})
def test_limits_are_configurable(tree, office):
    p = letter(office, tree)
    assert p.accept_due_at - p.received_at == timedelta(days=7)
    p = petitions.accept(p, office, p.version)
    with pytest.raises(DisputeError, match="1 到 15 天"):
        petitions.extend(p, office, p.version, days=20, reason="x")


def test_review_requested_after_thirty_days_is_refused(tree, office):
    p = petitions.accept(letter(office, tree), office, 1)
    p = petitions.reply(p, office, p.version, text="答复")
    Petition.objects.filter(pk=p.pk).update(request_due_at=timezone.now() - timedelta(hours=1))
    p.refresh_from_db()
    with pytest.raises(DisputeError, match="30 日"):
        petitions.request_review(p, office, p.version, note="复查")


def test_a_repeat_petitioners_second_letter_is_linked_to_the_first(tree, users, office):
    first = letter(office, tree)
    leader = create_staff("ld_street", None, Role.LEADER, full_name="街道包案领导", region=tree["street"])
    first = petitions.assign(first, office, first.version, case_leader=leader, responsible=users["community_staff"])
    second = letter(office, tree, content="工地还是每天夜里施工，吵得老人睡不着，要求停工")
    assert second.repeat_of == first
    first.refresh_from_db()
    assert first.repeat_count == 1
    assert PetitionEvent.objects.filter(petition=second, action="repeat", note__contains=first.number).exists()
    assert Notification.objects.filter(recipient=leader, text__contains=second.number).exists()
    # The same person on another matter, and another person on the same matter: not repeats.
    other = letter(office, tree, title="低保申请被拒", content="申请低保被社区拒绝，认为不公平")
    assert other.repeat_of is None
    stranger = letter(office, tree, name="小王", id_number="110101199001011237")
    assert stranger.repeat_of is None
    third = letter(office, tree, form_note=None) if False else letter(office, tree)
    assert third.repeat_of == first
    first.refresh_from_db()
    assert first.repeat_count == 2
    assert first in queries.backlog(users["dispatcher"])  # petitioned again and again: 积案
    assert set(queries.petition_worklist(office, "repeat")) >= {first, second, third}


def test_repeat_by_name_and_phone_without_id_number(tree, office):
    a = letter(office, tree, id_number="", petitioner_phone="13811112222")
    b = letter(office, tree, id_number="", petitioner_phone="13811112222", content="夜间施工噪声仍未解决，再次反映")
    assert b.repeat_of == a


def test_backlog_plan_one_case_one_plan(tree, users, office):
    p = petitions.accept(letter(office, tree), office, 1)
    made = petitions.plan(p, office, p.version, measures="包案领导每周约见；联合城管住建现场办公",
                          target_date=timezone.localdate() + timedelta(days=30), progress="已约见一次")
    p.refresh_from_db()
    assert p.backlog and made.petition == p and p in queries.backlog(office)


def test_who_may_handle_petitions(tree, users, office):
    for who in ("grid_worker", "mediator", "community_staff", "leader", "resident"):
        with pytest.raises(NotAllowed):
            letter(users[who], tree)
    p = letter(office, tree)
    for who in ("grid_worker", "mediator", "leader", "handler"):
        with pytest.raises(NotAllowed):
            petitions.accept(p, users[who], p.version)
    # Scope: a dispatcher of 西城区 cannot even register one in 东城区.
    dp_x = create_staff("dp_x", None, Role.DISPATCHER, region=tree["street_x"])
    with pytest.raises(DisputeError, match="不在您的辖区"):
        letter(dp_x, tree)
    with pytest.raises(NotAllowed):
        petitions.accept(p, dp_x, p.version)
    assert queries.get_petition(dp_x, p.number) is None
    assert queries.get_petition(users["leader"], p.number) == p  # leaders view
    assert queries.get_petition(users["leader_x"], p.number) is None


def test_case_leader_may_reply_but_not_accept(tree, users, office):
    leader = create_staff("ld_street", None, Role.LEADER, full_name="包案领导", region=tree["street"])
    p = letter(office, tree)
    p = petitions.assign(p, office, p.version, case_leader=leader, responsible=users["community_staff"])
    with pytest.raises(NotAllowed):
        petitions.accept(p, leader, p.version)
    p = petitions.accept(p, office, p.version)
    p = petitions.reply(p, leader, p.version, text="包案领导约见信访人并答复")
    assert p.state == P.REPLIED


def test_bad_input_and_conflicts(tree, office, users):
    with pytest.raises(DisputeError, match="集体访"):
        letter(office, tree, collective=True, people_count=2)
    with pytest.raises(DisputeError, match="公民身份号码"):
        letter(office, tree, id_number="12345")
    with pytest.raises(DisputeError, match="信访形式"):
        petitions.register(office, form="fax", petitioner_name="x", title="x", content="x", region=tree["A"])
    p = letter(office, tree, collective=True, people_count=12, skip_level=True)
    assert p.collective and p.people_count == 12 and p.skip_level
    stale = Petition.objects.get(pk=p.pk)
    petitions.accept(p, office, p.version)
    with pytest.raises(Conflict, match="刚被他人处理"):
        petitions.not_accept(stale, office, stale.version, reason="不属于本机关职责")
    with pytest.raises(DisputeError, match="包案领导"):
        petitions.assign(p, office, p.version, case_leader=users["leader_x"], responsible=users["community_staff"])


def test_sweep_warns_marks_overdue_and_closes_after_the_window(tree, users, office):
    leader = create_staff("ld_street", None, Role.LEADER, full_name="包案领导", region=tree["street"])
    p = letter(office, tree)
    p = petitions.assign(p, office, p.version, case_leader=leader, responsible=users["community_staff"])
    now = timezone.now()
    assert jobs.sweep(now) == 0  # nothing due yet
    assert jobs.sweep(now + timedelta(days=12, hours=1)) == 1  # 3 days before the 15-day limit
    assert Notification.objects.filter(recipient=office, kind="petition_warn").count() == 1
    assert Notification.objects.filter(recipient=leader, kind="petition_warn").exists()
    assert jobs.sweep(now + timedelta(days=12, hours=2)) == 0  # warned once only
    assert jobs.sweep(now + timedelta(days=15, hours=1)) == 1
    p.refresh_from_db()
    assert p.overdue and p.next_due_at is None
    assert p in queries.petition_worklist(office, "overdue", now + timedelta(days=16))
    # Accepted late: the handling clock starts; replied; the review window passes unused → closed.
    p = petitions.accept(p, office, p.version)
    assert not p.overdue and p.next_due_at == p.handle_due_at - timedelta(days=3)
    p = petitions.reply(p, office, p.version, text="已处理")
    assert jobs.sweep(timezone.now() + timedelta(days=31)) == 1
    p.refresh_from_db()
    assert p.state == P.CLOSED and p.events.last().action == "close"


def test_who_sees_petitions_a_superuser_all_a_case_leader_their_own_others_their_territory(tree, users, office):
    p = letter(office, tree)
    root = create_staff("root", None, Role.ADMIN)
    type(root).objects.filter(pk=root.pk).update(is_superuser=True)
    root.refresh_from_db()
    assert queries.get_petition(root, p.number) == p  # not only those they lead
    assert queries.get_petition(office, p.number) == p  # the street's office
    leader = users["leader_x"]  # 西城区: outside the territory
    assert queries.get_petition(leader, p.number) is None
    p = petitions.assign(p, office, p.version, case_leader=users["leader"], responsible=users["community_staff"])
    assert queries.get_petition(users["leader"], p.number) == p
