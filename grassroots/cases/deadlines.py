"""The two clocks of a case and what the worker must look at next.

respond: contact the reporter within `response_hours` (wall-clock) of acceptance.
resolve: resolve within `resolve_workdays` working days of acceptance (plus approved extensions).
Yellow at 75 % of the time used, red when overdue: the case row keeps the moments
(`yellow_at`, `red_at`), so its colour is known at any time without the worker. The worker's
`CaseClock.next_due_at` is the next moment the colour changes, an overdue case must be
escalated again or an evaluation window closes; the sweep reads only clocks whose
next_due_at has passed.
"""

from datetime import datetime, timedelta

from django.conf import settings

from grassroots.cases.models import Alert, Case, State, alert_at
from grassroots.cases.workdays import add_workdays

YELLOW_AT = 0.75
# How long an overdue case waits before it is escalated one tier further.
REESCALATE_AFTER = timedelta(days=1)

CLOCK_STATES = frozenset({State.ACCEPTED, State.DISPATCHED, State.IN_PROGRESS, State.RETURNED, State.REOPENED})


def start_clocks(case: Case, at: datetime) -> None:
    """Set both due times from the case's own (snapshotted) limits, counting from AT."""
    case.accepted_at = case.accepted_at or at
    if case.response_hours is not None:
        case.respond_due_at = at + timedelta(hours=case.response_hours)
    if case.resolve_workdays is not None:
        case.resolve_due_at = add_workdays(at, case.resolve_workdays)


def extend(case: Case, workdays: int) -> None:
    case.resolve_due_at = add_workdays(case.resolve_due_at, workdays)


def thresholds(case) -> tuple[datetime | None, datetime | None]:
    """(yellow_at, red_at) of CASE's running clocks: the earliest moment one of them reaches 75 %
    and the earliest at which one is overdue; (None, None) while no clock runs. The respond clock
    runs until the reporter is contacted, the resolve clock until the case is resolved."""
    if case.state not in CLOCK_STATES or case.accepted_at is None:
        return None, None
    start = case.accepted_at
    dues = [case.resolve_due_at] + ([case.respond_due_at] if case.responded_at is None else [])
    dues = [due for due in dues if due is not None]
    if not dues:
        return None, None
    return min(start + (due - start) * YELLOW_AT for due in dues), min(dues)


def evaluate_clocks(case, now: datetime) -> tuple[str, datetime | None]:
    """(colour at NOW, next moment the worker must look at the case), from CASE's state, clocks
    and evaluate_due_at as they stand (its yellow_at and red_at need not be set yet)."""
    return _look(case.state, case.evaluate_due_at, *thresholds(case), now)


def look(case, now: datetime) -> tuple[str, datetime | None]:
    """evaluate_clocks from the yellow_at and red_at CASE already carries (the worker's reading)."""
    return _look(case.state, case.evaluate_due_at, case.yellow_at, case.red_at, now)


def _look(state: str, evaluate_due_at, yellow, red, now: datetime) -> tuple[str, datetime | None]:
    """Green: next when it turns yellow; yellow: when it turns red; red: a day later, to escalate
    one tier further if still overdue (its colour cannot get worse); resolved: when the
    evaluation window closes; no clock running: never."""
    if state == State.RESOLVED:
        return Alert.GREEN, evaluate_due_at
    colour = alert_at(yellow, red, now)
    if colour == Alert.RED:
        return colour, now + REESCALATE_AFTER
    return colour, red if colour == Alert.YELLOW else yellow


def refresh(case: Case, now: datetime) -> tuple[str, datetime | None]:
    """Set CASE's yellow_at and red_at from its clocks; return (colour, next_due_at) for its clock row."""
    case.yellow_at, case.red_at = thresholds(case)
    return evaluate_clocks(case, now)


def evaluation_due(resolved_at: datetime) -> datetime:
    return add_workdays(resolved_at, settings.CASE_EVALUATION_WORKDAYS)


def used_share(case: Case, now: datetime) -> float | None:
    """How much of the resolve time is used (0..1+), for display."""
    if not case.accepted_at or not case.resolve_due_at:
        return None
    total = (case.resolve_due_at - case.accepted_at).total_seconds()
    end = case.resolved_at or now
    return max(0.0, (end - case.accepted_at).total_seconds() / total) if total > 0 else 1.0
