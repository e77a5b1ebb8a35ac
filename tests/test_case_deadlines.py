"""The two clocks of a case on the official working-day calendar: holidays, 调休, unknown years,
yellow at 75 %, red when overdue, and extensions."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from grassroots.cases import deadlines, workdays
from grassroots.cases.models import Alert, Case, State

BEIJING = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


@pytest.mark.parametrize(
    "start, days, due",
    [
        # National Day 2026: 1–7 October off; Saturday 10 October is a make-up working day.
        (at(2026, 9, 30, 10), 1, at(2026, 10, 8, 10)),
        (at(2026, 9, 30, 10), 2, at(2026, 10, 9, 10)),
        (at(2026, 9, 30, 10), 3, at(2026, 10, 10, 10)),
        (at(2026, 9, 30, 10), 4, at(2026, 10, 12, 10)),
        (at(2026, 10, 3, 15, 30), 1, at(2026, 10, 8, 15, 30)),  # accepted on a holiday
        # Spring Festival 2026: 15–23 February off; Saturdays 14 and 28 February are working days.
        (at(2026, 2, 13, 9), 1, at(2026, 2, 14, 9)),
        (at(2026, 2, 13, 9), 2, at(2026, 2, 24, 9)),
        (at(2026, 2, 27, 9), 1, at(2026, 2, 28, 9)),
        (at(2026, 2, 27, 9), 2, at(2026, 3, 2, 9)),
        # An ordinary week: Friday + 1 is Monday.
        (at(2026, 11, 20, 16), 1, at(2026, 11, 23, 16)),
        (at(2026, 11, 20, 16), 0, at(2026, 11, 20, 16)),
    ],
)
def test_working_days_follow_the_official_calendar(start, days, due):
    assert workdays.add_workdays(start, days) == due


def test_days_are_beijing_days_even_when_the_time_comes_in_utc():
    # 07:00 on 30 September in Beijing is 23:00 on the 29th in UTC, as the database returns it.
    start = at(2026, 9, 30, 7).astimezone(UTC)
    assert start.day == 29
    assert workdays.add_workdays(start, 1) == at(2026, 10, 8, 7)


def test_a_year_the_calendar_does_not_know_falls_back_to_monday_to_friday(caplog):
    workdays.is_workday.cache_clear()
    workdays._warned.discard(2027)
    with caplog.at_level(logging.WARNING, logger="grassroots.cases.workdays"):
        # New Year's Day 2027 is a Friday: without the State Council's arrangement it counts.
        assert workdays.add_workdays(at(2026, 12, 31, 10), 1) == at(2027, 1, 1, 10)
        assert workdays.add_workdays(at(2027, 1, 8, 10), 1) == at(2027, 1, 11, 10)
        assert workdays.add_workdays(at(2027, 1, 8, 10), 5) == at(2027, 1, 15, 10)
    assert workdays.workdays_between(at(2027, 1, 1, 0).date(), at(2027, 1, 10, 0).date()) == 5
    assert [r.message for r in caplog.records].count("chinese-calendar 尚无 2027 年的节假日安排，按周一至周五计算工作日") == 1


def test_negative_working_days_are_refused():
    with pytest.raises(ValueError, match="不能为负"):
        workdays.add_workdays(at(2026, 11, 20, 10), -1)


def test_workdays_between_counts_make_up_days():
    # 30 Sep → 11 Oct 2026: 8, 9 and Saturday 10 October.
    assert workdays.workdays_between(at(2026, 9, 30, 0).date(), at(2026, 10, 11, 0).date()) == 3
    assert workdays.workdays_between(at(2026, 10, 11, 0).date(), at(2026, 10, 1, 0).date()) == 0


# --- the clocks ---------------------------------------------------------------------------------


def open_case(accepted: datetime, *, response_hours: int = 24, resolve_workdays: int = 10) -> Case:
    case = Case(state=State.DISPATCHED, response_hours=response_hours, resolve_workdays=resolve_workdays)
    deadlines.start_clocks(case, accepted)
    return case


def test_the_respond_clock_turns_yellow_at_75_percent_and_red_when_overdue():
    accepted = at(2026, 11, 16, 9)  # Monday
    case = open_case(accepted, response_hours=24)
    assert case.respond_due_at == accepted + timedelta(hours=24)
    assert deadlines.evaluate_clocks(case, accepted + timedelta(hours=17, minutes=59)) == (
        Alert.GREEN, accepted + timedelta(hours=18)
    )
    assert deadlines.evaluate_clocks(case, accepted + timedelta(hours=18)) == (Alert.YELLOW, case.respond_due_at)
    now = accepted + timedelta(hours=24)
    assert deadlines.evaluate_clocks(case, now) == (Alert.RED, now + deadlines.REESCALATE_AFTER)


def test_the_resolve_clock_turns_yellow_at_75_percent_of_its_working_days_and_red_when_overdue():
    accepted = at(2026, 9, 28, 10)  # Monday before National Day
    case = open_case(accepted, resolve_workdays=5)
    case.responded_at = accepted + timedelta(hours=1)
    # 29, 30 Sep, 8, 9, 10 Oct: due Saturday 10 October (a make-up day) at 10:00.
    assert case.resolve_due_at == at(2026, 10, 10, 10)
    yellow = accepted + (case.resolve_due_at - accepted) * 0.75
    assert deadlines.evaluate_clocks(case, yellow - timedelta(seconds=1)) == (Alert.GREEN, yellow)
    assert deadlines.evaluate_clocks(case, yellow) == (Alert.YELLOW, case.resolve_due_at)
    assert deadlines.evaluate_clocks(case, case.resolve_due_at)[0] == Alert.RED
    assert deadlines.used_share(case, case.resolve_due_at) == pytest.approx(1.0)


def test_the_respond_clock_stops_once_the_reporter_was_contacted():
    accepted = at(2026, 11, 16, 9)
    case = open_case(accepted, response_hours=2)
    late = accepted + timedelta(hours=3)
    assert deadlines.evaluate_clocks(case, late)[0] == Alert.RED
    case.responded_at = late
    colour, next_due = deadlines.evaluate_clocks(case, late)
    assert colour == Alert.GREEN
    assert next_due == accepted + (case.resolve_due_at - accepted) * 0.75  # only the resolve clock is left


def test_an_overdue_case_comes_back_only_to_be_escalated_again():
    accepted = at(2026, 11, 16, 9)
    case = open_case(accepted, response_hours=2, resolve_workdays=10)
    now = accepted + timedelta(hours=3)  # respond overdue, resolve clock still far from yellow
    assert deadlines.evaluate_clocks(case, now) == (Alert.RED, now + deadlines.REESCALATE_AFTER)


def test_an_extension_moves_the_resolve_deadline_and_its_yellow_mark():
    accepted = at(2026, 11, 16, 9)
    case = open_case(accepted, resolve_workdays=3)
    case.responded_at = accepted
    assert case.resolve_due_at == at(2026, 11, 19, 9)
    now = at(2026, 11, 19, 12)
    assert deadlines.evaluate_clocks(case, now)[0] == Alert.RED
    deadlines.extend(case, 5)
    assert case.resolve_due_at == at(2026, 11, 26, 9)
    colour, next_due = deadlines.evaluate_clocks(case, now)
    assert colour == Alert.GREEN and next_due == accepted + (case.resolve_due_at - accepted) * 0.75
    deadlines.extend(case, 1)  # across a weekend: Thursday + 1 = Friday, + 1 more = Monday
    assert case.resolve_due_at == at(2026, 11, 27, 9)


def test_a_resolved_case_waits_for_its_evaluation_window_and_others_have_no_clock(settings):
    settings.CASE_EVALUATION_WORKDAYS = 3
    resolved = at(2026, 9, 29, 16)
    assert deadlines.evaluation_due(resolved) == at(2026, 10, 9, 16)  # 30 Sep, 8 Oct, 9 Oct
    case = open_case(at(2026, 9, 28, 9))
    case.state, case.resolved_at, case.evaluate_due_at = State.RESOLVED, resolved, deadlines.evaluation_due(resolved)
    assert deadlines.evaluate_clocks(case, at(2026, 10, 20, 9)) == (Alert.GREEN, at(2026, 10, 9, 16))
    for state in (State.SUBMITTED, State.CLOSED, State.MERGED, State.REJECTED):
        case.state = state
        assert deadlines.evaluate_clocks(case, at(2026, 10, 20, 9)) == (Alert.GREEN, None)
