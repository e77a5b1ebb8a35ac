"""The two clocks of a case and what the worker must look at next.

respond: contact the reporter within `response_hours` (wall-clock) of acceptance.
resolve: resolve within `resolve_workdays` working days of acceptance (plus approved extensions).
Yellow at 75 % of the time used, red when overdue. `next_due_at` is the next moment at
which the case's colour changes or an overdue case must be escalated again; the worker's
sweep reads only cases whose next_due_at has passed.
"""

from datetime import datetime, timedelta

from django.conf import settings

from grassroots.cases.models import Alert, Case, State
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


def _thresholds(start: datetime, due: datetime) -> tuple[datetime, datetime]:
    return start + (due - start) * YELLOW_AT, due


def evaluate_clocks(case: Case, now: datetime) -> tuple[str, datetime | None]:
    """(alert colour, next moment something changes) for an open case at NOW."""
    if case.state == State.RESOLVED:
        return Alert.GREEN, case.evaluate_due_at
    if case.state not in CLOCK_STATES or case.accepted_at is None:
        return Alert.GREEN, None
    colour = Alert.GREEN
    upcoming: list[datetime] = []
    clocks = [(case.resolve_due_at, None)]
    if case.responded_at is None:
        clocks.append((case.respond_due_at, None))
    for due, _ in clocks:
        if due is None:
            continue
        yellow, red = _thresholds(case.accepted_at, due)
        if now >= red:
            colour = Alert.RED
        elif now >= yellow:
            colour = Alert.YELLOW if colour == Alert.GREEN else colour
            upcoming.append(red)
        else:
            upcoming.append(yellow)
    if colour == Alert.RED:
        # Overdue: the colour cannot get worse, so the only next moment is the one at which
        # the case is escalated one tier further if it stays overdue. (The other clock's
        # thresholds would bring the worker back early and escalate again within the day.)
        return colour, now + REESCALATE_AFTER
    return colour, min(upcoming) if upcoming else None


def refresh(case: Case, now: datetime) -> None:
    case.alert, case.next_due_at = evaluate_clocks(case, now)


def evaluation_due(resolved_at: datetime) -> datetime:
    return add_workdays(resolved_at, settings.CASE_EVALUATION_WORKDAYS)


def used_share(case: Case, now: datetime) -> float | None:
    """How much of the resolve time is used (0..1+), for display."""
    if not case.accepted_at or not case.resolve_due_at:
        return None
    total = (case.resolve_due_at - case.accepted_at).total_seconds()
    end = case.resolved_at or now
    return max(0.0, (end - case.accepted_at).total_seconds() / total) if total > 0 else 1.0
