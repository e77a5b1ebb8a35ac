"""Working days on the official calendar: national holidays and 调休 make-up days.

chinese-calendar knows the State Council's published arrangements; for a year it does not
know yet (arrangements are published each November or December) we fall back to Monday to
Friday and say so in the log, rather than failing a deadline.
"""

import logging
from datetime import date, datetime, timedelta
from functools import lru_cache

import chinese_calendar
from django.utils import timezone

log = logging.getLogger(__name__)
_warned: set[int] = set()


@lru_cache(maxsize=4096)
def is_workday(day: date) -> bool:
    # Cached: the worker and the generator ask about the same few hundred days again and again,
    # and for an unknown year chinese-calendar answers by raising.
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
    Days are the calendar days of the platform's time zone (TIME_ZONE, 北京时间): an aware
    START in UTC (as the database returns it) is first turned into local time, otherwise a
    case accepted at 07:00 on 30 September would count from the 29th (23:00 UTC).
    """
    if workdays < 0:
        raise ValueError("工作日数不能为负")
    if timezone.is_aware(start):
        start = timezone.localtime(start)
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
