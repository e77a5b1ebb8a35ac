"""The deadline sweep run by `grassroots worker`: reminders, escalation with supervision, closing
unevaluated cases, leaving the rest alone, and never doing anything twice."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases import deadlines, jobs, queries, services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import (
    Alert,
    Case,
    CaseClock,
    CaseEvent,
    Evaluation,
    Notification,
    State,
    Supervision,
)
from grassroots.cases.notify import unit_members
from grassroots.cases.services import Report
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff

IN_A1 = (116.402, 39.905)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def make_city(tree, users) -> dict:
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    users["dispatcher_dc"] = create_staff("dp_dc", None, Role.DISPATCHER, full_name="区调度", region=tree["dongcheng"])
    return {"tree": tree, "users": users, "shengtai": shengtai}


@pytest.fixture
def city(db, tree, users):
    return make_city(tree, users)


def hotline(city, text="楼下烧烤店油烟直排，熏得开不了窗", matter="03.01.01") -> Case:
    """A 12345 call taken by the street dispatcher: accepted at once, clocks running."""
    report = Report(channel="hotline", description=text, lon=IN_A1[0], lat=IN_A1[1], matter_code=matter)
    return services.intake(city["users"]["dispatcher"], report).case


def dispatched(city, text="楼下烧烤店油烟直排，熏得开不了窗") -> Case:
    case = hotline(city, text)
    return services.dispatch(case, city["users"]["dispatcher"], case.version, lead_department=city["shengtai"])


def rewind(case: Case, *, accepted_ago: timedelta, resolve_due_in: timedelta, responded=True,
           alert: str = Alert.GREEN) -> Case:
    """Move the case's clocks into the past (test set-up) and make it due as the worker would
    find it, having last acted on colour ALERT."""
    now = timezone.now()
    accepted = now - accepted_ago
    values = {
        "accepted_at": accepted,
        "responded_at": accepted + HOUR if responded else None,
        "respond_due_at": accepted + timedelta(hours=case.response_hours),
        "resolve_due_at": now + resolve_due_in,
    }
    probe = Case(**{**{f: getattr(case, f) for f in ("state", "response_hours", "resolve_workdays")}, **values})
    values["yellow_at"], values["red_at"] = deadlines.thresholds(probe)
    Case.objects.filter(pk=case.pk).update(**values)
    first_due = deadlines.evaluate_clocks(probe, accepted + timedelta(seconds=1))[1]
    due_now(case, min(first_due, now), alert=alert)
    case.refresh_from_db()
    return case


def due_now(case: Case, at=None, **fields) -> None:
    """Set the case's clock row as if the worker had last left it due at AT (default: a minute ago)."""
    at = at or timezone.now() - timedelta(minutes=1)
    CaseClock.objects.filter(case_id=case.pk).update(next_due_at=at, **fields)


def clock(case: Case) -> CaseClock:
    return CaseClock.objects.get(case_id=case.pk)


def actions(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))


def run_worker() -> str:
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    return out.getvalue()


# --- what the sweep does ------------------------------------------------------------------------


def test_an_overdue_case_is_escalated_to_the_next_tier_with_a_supervision(city):
    u, t = city["users"], city["tree"]
    case = rewind(dispatched(city), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
    out = run_worker()
    assert "办理时限检查：处理 1 项" in out
    case.refresh_from_db()
    assert case.alert == Alert.RED and case.escalation_level == 1 and case.state == State.DISPATCHED
    assert timezone.now() + DAY - timedelta(minutes=1) < clock(case).next_due_at <= timezone.now() + DAY
    supervision = Supervision.objects.get(case=case)
    assert supervision.level == 1 and supervision.to_region == t["dongcheng"] and supervision.opened_by is None
    assert "超过办结时限（10 个工作日）未办结" in supervision.reason
    # The timeline shows the supervision as the worker's escalation; the event log holds transitions only.
    escalate = queries.timeline(case)[-1]
    assert (escalate.action, escalate.actor_name, escalate.note) == ("escalate", "系统", supervision.reason)
    assert escalate.data["level"] == 1 and "escalate" not in actions(case)
    # The next tier's dispatcher — the district's, not the street's own — is told, and the lead unit too.
    escalated = Notification.objects.filter(case=case, kind="escalated")
    assert [n.recipient for n in escalated] == services.dispatchers_for(case, level_up=1) == [u["dispatcher_dc"]]
    assert escalated.get().delivered == {"log": "ok"}
    assert {n.recipient for n in Notification.objects.filter(case=case, kind="supervised")} == set(unit_members(case))
    assert not Notification.objects.filter(case=case, recipient=u["dispatcher"], kind="escalated").exists()


def test_a_case_turning_yellow_reminds_the_lead_unit(city):
    u = city["users"]
    case = rewind(dispatched(city), accepted_ago=8 * DAY, resolve_due_in=2 * DAY)
    assert jobs.sweep_deadlines() == 1
    case.refresh_from_db()
    assert case.alert == Alert.YELLOW and case.escalation_level == 0 and clock(case).next_due_at == case.resolve_due_at
    reminder = Notification.objects.get(case=case, kind="due_soon")
    assert reminder.recipient == u["handler_st"] and [reminder.recipient] == unit_members(case)
    assert "临期提醒" in reminder.text and case.number in reminder.text
    warn = queries.timeline(case)[-1]
    assert warn.action == "warn" and warn.actor_name == "系统" and warn.data["clock"] == "resolve"
    assert warn.note.startswith("办结时限已用 75%，将于") and clock(case).reminders == [warn.data]
    assert not Supervision.objects.filter(case=case).exists()


def test_before_dispatch_the_reminder_goes_to_the_cases_dispatcher(city):
    u = city["users"]
    case = hotline(city)  # accepted, not dispatched: no lead unit yet
    rewind(case, accepted_ago=19 * HOUR, resolve_due_in=9 * DAY, responded=False)
    jobs.sweep()
    case.refresh_from_db()
    assert case.alert == Alert.YELLOW
    reminder = Notification.objects.get(case=case, kind="due_soon")
    assert reminder.recipient == u["dispatcher"] and "响应时限" in reminder.text
    assert [r["clock"] for r in clock(case).reminders] == ["respond"]


def test_a_resolved_case_past_its_evaluation_window_is_closed_as_unevaluated(city):
    u = city["users"]
    case = dispatched(city)
    case = services.resolve(case, u["handler_st"], case.version, "已责令安装油烟净化器")
    past = timezone.now() - HOUR
    Case.objects.filter(pk=case.pk).update(evaluate_due_at=past)
    due_now(case, past)
    assert jobs.sweep().actions["close"] == 1
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closed_at is not None and clock(case).next_due_at is None
    evaluation = Evaluation.objects.get(case=case)
    assert evaluation.source == Evaluation.Source.TIMEOUT and evaluation.solved is None
    assert evaluation.lead_department == city["shengtai"]
    close = CaseEvent.objects.get(case=case, action="close")
    assert close.actor_name == "系统" and close.to_state == State.CLOSED


def test_cases_not_yet_due_are_not_touched(city):
    fresh = dispatched(city)
    resolved = dispatched(city, "饭店后厨油烟熏人")
    resolved = services.resolve(resolved, city["users"]["handler_st"], resolved.version, "已整改")
    for case in (fresh, resolved):
        case.refresh_from_db()
    before = {c.pk: (c.updated_at, c.version, clock(c).next_due_at, len(actions(c))) for c in (fresh, resolved)}
    assert all(next_due > timezone.now() for _, _, next_due, _ in before.values())
    due = rewind(dispatched(city, "烧烤摊油烟"), accepted_ago=8 * DAY, resolve_due_in=2 * DAY)
    assert jobs.sweep_deadlines() == 1
    for case in (fresh, resolved):
        case.refresh_from_db()
        assert (case.updated_at, case.version, clock(case).next_due_at, len(actions(case))) == before[case.pk]
    due.refresh_from_db()
    assert due.alert == Alert.YELLOW
    assert jobs.sweep_deadlines() == 0  # nothing is due any more


def test_still_overdue_a_day_later_goes_one_tier_further_then_stops_at_the_top(city):
    t = city["tree"]
    city_dispatcher = create_staff("dp_city", None, Role.DISPATCHER, full_name="市调度", region=t["city"])
    case = rewind(dispatched(city), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
    jobs.sweep()
    case.refresh_from_db()
    assert case.escalation_level == 1
    # A day later (test set-up: the re-escalation moment is moved into the past).
    due_now(case)
    jobs.sweep()
    case.refresh_from_db()
    assert case.escalation_level == 2 and case.alert == Alert.RED
    second = Supervision.objects.get(case=case, level=2)
    assert second.to_region == t["city"]
    assert list(Notification.objects.filter(case=case, kind="escalated", recipient=city_dispatcher)) != []
    assert services.dispatchers_for(case, level_up=2) == [city_dispatcher]
    assert [e.action for e in queries.timeline(case)].count("escalate") == 2
    # There is no tier above the city: it stays red and is looked at again in a day, nothing more.
    due_now(case)
    assert jobs.sweep().actions == {"retime": 1}
    case.refresh_from_db()
    assert case.escalation_level == 2 and Supervision.objects.filter(case=case).count() == 2
    assert clock(case).next_due_at > timezone.now() + DAY - timedelta(minutes=1)


def test_a_case_someone_acted_on_after_the_worker_read_it_is_skipped(city):
    u = city["users"]
    case = rewind(dispatched(city), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
    seen_due = clock(case).next_due_at
    services.respond(case, u["handler_st"], case.version, "已联系反映人，明天上门")  # the clock is recomputed
    row = (case.pk, seen_due, Alert.RED, timezone.now() + DAY, 1, None, None)
    assert jobs.claim_batch([row], timezone.now()) == set()
    case.refresh_from_db()
    assert case.escalation_level == 0


def test_a_close_of_a_case_someone_acted_on_meanwhile_is_skipped(city):
    u = city["users"]
    case = dispatched(city)
    case = services.resolve(case, u["handler_st"], case.version, "已责令安装油烟净化器")
    seen_version, seen_due = case.version, clock(case).next_due_at
    services.evaluate(case, u["dispatcher"], case.version, solved=True, satisfied=True)  # closed by the callback
    assert jobs.claim_batch([(case.pk, seen_due, Alert.GREEN, None, 0, seen_version, None)], timezone.now()) == set()
    case.refresh_from_db()
    assert case.state == State.CLOSED and not CaseEvent.objects.filter(case=case, action="close").exists()


def test_the_sweep_writes_what_the_services_write(city):
    """The sweep writes in bulk; each case must end up as services.close_unevaluated and
    services.supervise leave it. A change to one path that the other lacks fails here."""
    u = city["users"]
    a, b = (services.resolve(c, u["handler_st"], c.version, "已整改") for c in (dispatched(city), dispatched(city, "饭店油烟")))
    past = timezone.now() - HOUR
    Case.objects.filter(pk__in=[a.pk, b.pk]).update(evaluate_due_at=past)
    for case in (a, b):
        due_now(case, past)
    a.refresh_from_db()
    services.close_unevaluated(a, a.version)
    assert jobs.sweep().actions == {"close": 1}

    def closed(case):
        case.refresh_from_db()
        event = CaseEvent.objects.filter(case=case).last()
        evaluation = Evaluation.objects.get(case=case)
        return (
            case.state, case.version, case.alert, clock(case).next_due_at, case.closed_at is not None,
            case.escalation_level, case.yellow_at, case.red_at,
            (event.action, event.actor_id, event.actor_name, event.from_state, event.to_state, event.note, event.data),
            (evaluation.source, evaluation.by_id, evaluation.solved, evaluation.satisfied, evaluation.comment,
             evaluation.lead_region_id, evaluation.lead_department_id),
        )

    assert closed(a) == closed(b)

    swept = rewind(dispatched(city, "烧烤店油烟"), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
    jobs.sweep()
    by_sweep = Supervision.objects.get(case=swept)
    by_hand = dispatched(city, "另一家烧烤店油烟")
    services.supervise(by_hand, None, by_sweep.reason, level=by_sweep.level, to_region=by_sweep.to_region, check=False)

    def supervised(case):
        sup = Supervision.objects.get(case=case)
        notes = Notification.objects.filter(case=case, kind="supervised")
        return (
            (sup.opened_by_id, sup.level, sup.to_region_id, sup.reason, sup.closed_at),
            sorted((n.recipient_id, n.text.replace(case.number, "#"), n.delivered) for n in notes),
            [(e.actor_name, e.note, e.data) for e in queries.timeline(case) if e.action in ("supervise", "escalate")],
            actions(case),
        )

    assert supervised(swept) == supervised(by_hand)


def test_two_claims_of_the_same_reading_succeed_once(city):
    case = rewind(dispatched(city), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
    row = (case.pk, clock(case).next_due_at, Alert.RED, timezone.now() + DAY, 1, None, None)
    assert jobs.claim_batch([row], timezone.now()) == {case.pk}
    assert jobs.claim_batch([row], timezone.now()) == set()  # a second worker with the same reading


def test_the_batches_page_through_every_due_case_once(city):
    cases = [rewind(dispatched(city, f"第{i}家烧烤店油烟扰民"), accepted_ago=8 * DAY, resolve_due_in=2 * DAY) for i in range(7)]
    result = jobs.sweep(batch_size=3)
    assert result.handled == 7 and result.batches == 3 and result.actions == {"warn": 7}
    assert all(len(clock(c).reminders) == 1 for c in cases)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_escalate_a_case_twice(tree, users):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers (IMMEDIATE transactions); the claim is tested above")
    city = make_city(tree, users)
    cases = [
        rewind(dispatched(city, f"第{i}家饭店油烟直排"), accepted_ago=15 * DAY, resolve_due_in=-HOUR, alert=Alert.YELLOW)
        for i in range(24)
    ]
    start = threading.Barrier(2)
    results = []

    def worker():
        try:
            start.wait()
            results.append(jobs.sweep(batch_size=4))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.handled for r in results) == 24
    for case in cases:
        case.refresh_from_db()
        assert case.escalation_level == 1
        assert Supervision.objects.filter(case=case).count() == 1
        assert [e.action for e in queries.timeline(case)].count("escalate") == 1
    # The district dispatcher is told of each case once: alone, or in one batch's digest.
    told = {case.pk: 0 for case in cases}
    for note in Notification.objects.filter(kind="escalated"):
        for case in cases:
            told[case.pk] += note.case_id == case.pk or (note.case_id is None and case.number in note.text)
    assert set(told.values()) == {1}


# --- the generated city --------------------------------------------------------------------------


def test_the_generated_city_has_cases_the_services_could_have_written_and_the_worker_catches_up(db):
    from grassroots.cases.models import OPEN_STATES, Matter, Tier
    from grassroots.cases.workdays import add_workdays
    from grassroots.territory import geo

    call_command("generate", "--scale", "S", "--seed", "3", "--password", "Demo-city-2026", stdout=io.StringIO())
    cases = list(Case.objects.select_related("grid", "lead_department", "lead_region"))
    assert len(cases) == 300
    states = {c.state for c in cases}
    assert {State.CLOSED, State.RESOLVED, State.IN_PROGRESS, State.DISPATCHED, State.REJECTED} <= states
    channels = [c.channel for c in cases]
    assert max(set(channels), key=channels.count) == "hotline"
    assert Supervision.objects.exists() and CaseClock.objects.exclude(reminders=[]).exists()
    now = timezone.now()
    tiers = dict(Matter.objects.values_list("code", "tier"))
    first = {}
    for event in CaseEvent.objects.order_by("at", "id"):
        first.setdefault(event.case_id, event.action)
    for case in cases:
        assert first[case.pk] == "report" and case.created_at <= now
        if case.accepted_at and case.resolve_workdays:
            assert case.resolve_due_at == add_workdays(case.accepted_at, case.resolve_workdays)
            assert case.respond_due_at == case.accepted_at + timedelta(hours=case.response_hours)
        if case.grid_id:
            assert geo.locate(case.lon, case.lat).code == case.grid.code
        if case.lead_department_id:
            assert case.lead_department.code == Matter.objects.get(code=case.matter_code).department_code
            assert tiers[case.matter_code] == Tier.DISTRICT
        assert (case.yellow_at, case.red_at) == deadlines.thresholds(case), case.number
        next_due = clock(case).next_due_at
        if case.state in OPEN_STATES and next_due and next_due > now:
            assert clock(case).alert == deadlines.evaluate_clocks(case, now)[0], case.number
        assert case.escalation_level == Supervision.objects.filter(case=case).count()
    # The worker stopped a while ago: what fell due since then is its to catch up.
    due = CaseClock.objects.filter(next_due_at__lte=now).count()
    assert jobs.sweep(now).handled == due
    assert not CaseClock.objects.filter(next_due_at__lte=now).exists()


def test_the_same_seed_at_the_same_moment_gives_the_same_cases(db):
    from unittest import mock

    from django.db.models import Count

    from grassroots.accounts.models import User
    from grassroots.territory.models import Region

    fields = ("number", "tracking_code", "channel", "title", "state", "matter_code", "reporter__username",
              "created_by__username", "lon", "lat", "grid__code", "region_path", "lead_region__code",
              "lead_department__code", "created_at", "accepted_at", "resolved_at", "closed_at", "yellow_at", "red_at",
              "clock__next_due_at", "clock__alert", "clock__escalation_level", "version")

    def generate() -> list:
        with mock.patch("django.utils.timezone.now", return_value=timezone.now().replace(2026, 11, 20, 6, 30)):
            call_command("generate", "--scale", "S", "--seed", "5", "--password", "Demo-city-2026", stdout=io.StringIO())
        cases = list(Case.objects.order_by("number").values_list(*fields))
        events = list(Case.objects.order_by("number").annotate(n=Count("events")).values_list("n", flat=True))
        return [cases, events]

    first = generate()
    Case.objects.all().delete()
    User.objects.all().delete()
    Department.objects.all().delete()
    for depth in range(5, -1, -1):
        Region.objects.filter(depth=depth).delete()
    assert generate() == first


def test_many_cases_for_one_person_in_one_batch_come_as_one_digest_that_opens_the_worklist(city, client):
    """A backlog must not become a message per case (an SMS gateway would send hundreds): more
    than DIGEST_AFTER reminders of one kind for one person in a batch are one digest, while each
    case's timeline still records its own reminder."""
    u = city["users"]
    cases = [rewind(dispatched(city, f"楼下烧烤店油烟直排第{i}次"), accepted_ago=8 * DAY, resolve_due_in=2 * DAY)
             for i in range(jobs.DIGEST_AFTER + 2)]
    assert jobs.sweep().handled == len(cases)
    notes = list(Notification.objects.filter(recipient=u["handler_st"], kind="due_soon"))
    assert len(notes) == 1 and notes[0].case_id is None
    assert f"{len(cases)} 件事件即将到期" in notes[0].text and cases[0].number in notes[0].text
    assert notes[0].delivered == {"log": "ok"}
    assert all([e.action for e in queries.timeline(c)].count("warn") == 1 for c in cases)
    client.force_login(u["handler_st"])
    response = client.get(reverse("cases:inbox_open", args=[notes[0].pk]))
    assert response.status_code == 302 and response["Location"].endswith("?tab=due_soon")
    assert Notification.objects.get(pk=notes[0].pk).read_at is not None


def test_a_few_cases_for_one_person_are_told_one_by_one(city):
    u = city["users"]
    cases = [rewind(dispatched(city, f"楼下烧烤店油烟直排第{i}次"), accepted_ago=8 * DAY, resolve_due_in=2 * DAY)
             for i in range(jobs.DIGEST_AFTER)]
    jobs.sweep()
    notes = Notification.objects.filter(recipient=u["handler_st"], kind="due_soon")
    assert sorted(n.case_id for n in notes) == sorted(c.pk for c in cases)
