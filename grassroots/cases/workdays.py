"""Working days on the official calendar: national holidays and 调休 make-up days.

chinese-calendar knows the State Council's published arrangements; for a year it does not
know yet (arrangements are published each November or December) we fall back to Monday to
Friday and say so in the log, rather than failing a deadline.
"""

import logging
from datetime import date, datetime, timedelta

import chinese_calendar

log = logging.getLogger(__name__)
_warned: set[int] = set()


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning("chinese-calendar 尚无 %s 年的节假日安排，按周一至周五计算工作日", day.year)
        return day.weekday() < 5


def add_workdays(start: datetime, workdays: int) -> datetime:
    """The moment WORKDAYS working days after START, at the same time of day.

    A case accepted on Friday 10:00 with 1 working day is due on the next working day at
    10:00 (Monday, or later across a holiday); make-up Saturdays (调休) count as working days.
    """
    if workdays < 0:
        raise ValueError("工作日数不能为负")
    day = start.date()
    counted = 0
    while counted < workdays:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return start.replace(year=day.year, month=day.month, day=day.day)


def workdays_between(start: date, end: date) -> int:
    """Working days after START up to and including END (0 when END ≤ START)."""
    n, day = 0, start
    while day < end:
        day += timedelta(days=1)
        n += is_workday(day)
    return n
