"""The deadline sweep (办理时限检查), run by `grassroots worker` every 30 seconds.

For each case whose clock row (CaseClock) has a `next_due_at` that has passed:
  * resolved, and the evaluation window passed unanswered → closed, with an Evaluation of
    source "timeout" and a "close" event (what services.close_unevaluated writes);
  * turned yellow (75 % of a clock used) → a reminder (临期提醒) to the lead unit, or to the
    case's dispatchers while no unit leads it, kept in the clock row's `reminders`;
  * turned red (overdue) → escalated: escalation_level + 1, a supervision record (督办) for the
    next tier up, that tier's dispatchers told, the lead unit told it is supervised (what
    services.supervise writes and tells);
  * still red deadlines.REESCALATE_AFTER later → escalated one tier further, while there is one;
  * otherwise → only next_due_at is brought up to date.
A case's colour is not the sweep's to write: the case row carries the moments its clocks turn
yellow and red (set by each transition), and every page reads the colour off them. Nor are
reminders and escalations transitions: the event log (CaseEvent) gets only the closing; the
timeline shows the reminders and supervisions beside it (queries.timeline).

Finding work: only clock rows with next_due_at ≤ now, through the partial index
clock_next_due, oldest first, in batches of BATCH_SIZE, paged on (next_due_at, case): a run
never reads a case that is not due, nor the same case twice.

What is written per due case is its clock row (narrow, two indexes), and for an escalation
the supervision; the wide case row, with its many indexes, and an event only when a case is
closed. (On PostgreSQL each row inserted that refers to a case also makes the database lock
that case's row to check the reference: fewer rows per case, fewer pages written.) Notifications are grouped: a person told of more than DIGEST_AFTER cases of
one kind in one batch gets one digest.

Several workers at once: each batch is one transaction. On PostgreSQL its clock rows are
selected FOR UPDATE SKIP LOCKED (lib.worker.locked_queryset), so another worker skips them
instead of waiting; a transition (services._transition) writes the clock row before the case
row, so it waits for the batch, then recomputes the clock from the case as it has left it. On
SQLite transactions are IMMEDIATE, so batches are serialised. Everywhere, the clock rows are
written by one UPDATE conditional on the next_due_at this worker read (`claim_batch`): a case
another worker already handled is skipped, and nothing else is written for it. Closing is a
transition: conditional on the case's version too, and it bumps it.

Why in bulk, and without the ORM's per-row machinery: through the services one escalation
costs about ten queries and one close about eight (4–10 ms each on the reference machine), so a
backlog of 10,000 due cases — a worker down for a day — took a minute or more. Here a batch of
BATCH_SIZE costs a fixed handful of statements: the select, one conditional UPDATE … RETURNING
(two when some close), a query each for unit members and units' levels not yet known this run
(dispatchers are read once per run), and one multi-row INSERT (COPY on PostgreSQL) each for
events, supervisions, evaluations and notifications. Each case gets the rows services.close_unevaluated,
services.supervise, services.dispatchers_for, notify.unit_members and notify.notify would have
given it; tests/test_case_worker.py compares the two paths, so a change to one that the other
lacks fails there.
"""

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.cases import deadlines
from grassroots.cases.models import (
    UNIT_WORKING,
    Alert,
    Case,
    CaseClock,
    CaseEvent,
    Evaluation,
    Notification,
    State,
    Supervision,
)
from grassroots.cases.notify import deliver
from grassroots.lib.worker import job, locked_queryset
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Region

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
# More notifications than this of one kind for one person in one batch are sent as one digest.
DIGEST_AFTER = 3
# A run stops taking new batches after this many seconds; what is left waits for the next run.
RUN_SECONDS = 20.0
SYSTEM = "系统"
CLOSE_NOTE = "回访期内未评价，自动结案"  # services.close_unevaluated's words
CLOCK_LABELS = {"respond": "响应时限", "resolve": "办结时限"}
# Units that lead a case in these states are the ones to remind; before dispatch, after a
# return or a second complaint it is the dispatchers' move.
UNIT_STATES = frozenset(UNIT_WORKING)


class Due(NamedTuple):
    """What the sweep reads of a due case: its clock row and the case's columns it needs
    (deadlines.look and _turned_clock read it like a Case). `alert` and `escalation_level` are
    the clock row's: the colour last acted on and the tiers escalated. A tuple: made from the
    cursor's row as it comes (`Due._make`), thousands per batch."""

    pk: int
    next_due_at: datetime | None
    alert: str
    escalation_level: int
    number: str
    title: str
    state: str
    region_path: str
    lead_region_id: int | None
    lead_department_id: int | None
    response_hours: int
    resolve_workdays: int
    accepted_at: datetime | None
    responded_at: datetime | None
    respond_due_at: datetime | None
    resolve_due_at: datetime | None
    evaluate_due_at: datetime | None
    yellow_at: datetime | None
    red_at: datetime | None
    version: int


# The same, as the clock queryset names them.
_QUERY_COLUMNS = tuple(name if name in ("next_due_at", "alert", "escalation_level") else
                       "case_id" if name == "pk" else f"case__{name}" for name in Due._fields)
_DUE_DATETIMES = tuple(i for i, name in enumerate(Due._fields) if name.endswith("_at"))


def _due_columns() -> list:
    """What _read_due selects, in Due's order. On SQLite each datetime as CAST(… AS text): a
    column of declared type datetime goes through the driver's converter (Django's, in Python)
    and then needs its zone, two calls per value and a tenth of a large sweep; the text is
    parsed with its zone in one."""
    if connection.vendor != "sqlite":
        return list(_QUERY_COLUMNS)
    return [Cast(name, models.TextField()) if i in _DUE_DATETIMES else name for i, name in enumerate(_QUERY_COLUMNS)]


def _read_due(qs, size: int) -> list[Due]:
    """lib.worker.locked_queryset(QS, SIZE), locking the clock rows only, as Due rows read on
    the cursor: Django's per-value converters were a tenth of a large sweep. PostgreSQL's
    driver returns aware datetimes; SQLite gives the UTC text Django stores (_due_columns)."""
    sql, params = locked_queryset(qs, size, of=("self",)).query.sql_with_params()
    if connection.vendor == "postgresql":
        # psycopg's own (compiled) timestamptz loader: Django's, which only adds the zone the
        # session already gives, parses in Python — a fifth of a large sweep.
        from psycopg.types.datetime import TimestamptzLoader

        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
            cursor.execute(sql, params)
            return list(map(Due._make, cursor.fetchall()))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [list(row) for row in cursor.fetchall()]
    parse = datetime.fromisoformat
    for row in rows:
        for i in _DUE_DATETIMES:
            if row[i] is not None:
                row[i] = parse(row[i] + "+00:00")
    return list(map(Due._make, rows))


@dataclass
class SweepResult:
    handled: int = 0  # cases written (closed, warned, escalated or just re-timed)
    actions: Counter = field(default_factory=Counter)  # close / warn / escalate / retime / skipped
    batches: int = 0
    notifications: int = 0


@job("cases.deadlines", label="办理时限检查", every=30)
def sweep_deadlines() -> int:
    return sweep().handled


def sweep(now: datetime | None = None, *, batch_size: int = BATCH_SIZE, budget: float = RUN_SECONDS) -> SweepResult:
    """Handle every case due at NOW (default: the clock), batch by batch, within BUDGET seconds."""
    now = now or timezone.now()
    result = SweepResult()
    after = None
    started = time.monotonic()
    people = _People()
    while True:
        after, more = _sweep_batch(now, after, batch_size, result, people)
        if not more or time.monotonic() - started > budget:
            return result


# --- one batch -------------------------------------------------------------------------------


@dataclass
class _Plan:
    case: Due
    alert: str  # the colour now, for the clock row
    next_due: datetime | None
    level: int
    action: str = "retime"  # close / warn / escalate / retime
    clock: str = ""  # the clock that turned: respond / resolve
    due: datetime | None = None  # …and when it is (was) due
    tier: tuple[Region | None, list[User]] = (None, [])  # escalation: to whom


def _sweep_batch(now: datetime, after: tuple | None, size: int, result: SweepResult,
                 people: "_People | None" = None) -> tuple[tuple | None, bool]:
    """One transaction: read up to SIZE due cases after AFTER, decide, write. Returns (key, more)."""
    people = people or _People()
    with transaction.atomic():
        _relaxed_commit()
        qs = CaseClock.objects.filter(next_due_at__lte=now).order_by("next_due_at", "case_id").values_list(*_due_columns())
        if after is not None:
            qs = qs.filter(Q(next_due_at__gt=after[0]) | Q(next_due_at=after[0], case_id__gt=after[1]))
        cases = _read_due(qs, size)
        if not cases:
            return after, False
        result.batches += 1
        plans = [_plan(case, now) for case in cases]
        tiers = _dispatcher_tiers([p.case for p in plans if p.alert != Alert.GREEN], people)
        for plan in plans:
            if plan.alert == Alert.RED:
                _decide_escalation(plan, tiers[plan.case.pk])
        stamp = timezone.now()
        written = claim_batch([_claim_row(p, stamp) for p in plans], stamp)
        done = [p for p in plans if p.case.pk in written]
        if len(done) < len(plans):
            result.actions["skipped"] += len(plans) - len(done)
        result.handled += len(done)
        result.actions.update(p.action for p in done)
        outbox = _record(done, tiers, stamp, people)
    result.notifications += len(outbox)
    _deliver(outbox)
    return (cases[-1].next_due_at, cases[-1].pk), len(cases) == size


def _relaxed_commit() -> None:
    """PostgreSQL: this transaction's commit returns without waiting for its WAL to reach disk
    (synchronous_commit off, for this transaction only). A server crash may lose the last
    fraction of a second of batches — never corrupt anything; those cases are still due and
    the next run handles them again (their people may be told twice). A backlog of thousands
    of due cases writes megabytes of WAL per batch. (Measured: no clear gain beside the run-to-run
    spread while each commit still ran thousands of foreign-key checks; not re-measured since.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")


def _plan(case: Due, now: datetime) -> _Plan:
    """What is due on the case at NOW: closing, a colour change, or only a new next_due_at."""
    if case.state == State.RESOLVED and case.evaluate_due_at and case.evaluate_due_at <= now:
        return _Plan(case, Alert.GREEN, None, case.escalation_level, "close")
    alert, next_due = deadlines.look(case, now)
    plan = _Plan(case, alert, next_due, case.escalation_level)
    if alert == Alert.RED or (alert == Alert.YELLOW and case.alert == Alert.GREEN):
        plan.clock, plan.due = _turned_clock(case, now, alert)
        if alert == Alert.YELLOW:
            plan.action = "warn"
    return plan


def _turned_clock(case: Due, now: datetime, alert: str) -> tuple[str, datetime | None]:
    """Which clock is at colour ALERT (the one due first when both are), and its due time."""
    found = []
    clocks = [("resolve", case.resolve_due_at)] + ([("respond", case.respond_due_at)] if case.responded_at is None else [])
    for name, due in clocks:
        if due is None or case.accepted_at is None:
            continue
        yellow = case.accepted_at + (due - case.accepted_at) * deadlines.YELLOW_AT
        colour = Alert.RED if now >= due else Alert.YELLOW if now >= yellow else Alert.GREEN
        if colour == alert:
            found.append((due, name))
    if not found:
        return "", None
    due, name = min(found)
    return name, due


def _decide_escalation(plan: _Plan, tiers: list[tuple[Region | None, list[User]]]) -> None:
    """Turned red: up one tier (capped at the top). Still red a day on: up one more, if there is one."""
    level = plan.case.escalation_level + 1
    if plan.case.alert == Alert.RED and level > len(tiers) - 1:
        return  # already at the top tier: stays red, looked at again in a day
    plan.action, plan.level = "escalate", level
    plan.tier = tiers[min(level, len(tiers) - 1)] if tiers else (None, [])


def _claim_row(plan: _Plan, stamp: datetime) -> tuple:
    """(case pk, seen next_due_at, colour, new next_due_at, escalation level, version if closing
    else None, the reminder to add as JSON text or None)."""
    case = plan.case
    reminder = None
    if plan.action == "warn":
        reminder = json.dumps({"at": stamp.isoformat(), "clock": plan.clock,
                               "due": plan.due.isoformat() if plan.due else None})
    return (case.pk, case.next_due_at, plan.alert, plan.next_due, plan.level,
            case.version if plan.action == "close" else None, reminder)


def claim_batch(rows: list[tuple], now: datetime) -> set[int]:
    """Write each row of _claim_row whose clock still has the next_due_at it was read with;
    returns the pks written.

    One UPDATE … FROM (the rows) … RETURNING of the clock rows — a conditional UPDATE per row,
    in one round trip; a reminder is appended to the row's list. A pk missing from the answer
    was handled by someone else after we read it: the caller writes nothing else for it. A row
    to close (with the version it was read at) first closes its case — state, closed_at, no
    more clocks, version + 1 — if the case is still at that version; one that is not is left
    out of the clock UPDATE too.
    """
    q = connection.ops.quote_name
    closing = [r for r in rows if r[5] is not None]
    if closing:
        closed = _close_cases([(r[0], r[5]) for r in closing], now)
        rows = [r for r in rows if r[5] is None or r[0] in closed]
        if not rows:
            return set()
    col = {f.name: q(f.column) for f in CaseClock._meta.concrete_fields}
    t = q(CaseClock._meta.db_table)
    prefix, before, source, after = _rows_source(
        ("v_id", "v_seen", "v_alert", "v_next", "v_level", "v_reminder"),
        ("bigint", "timestamp with time zone", "text", "timestamp with time zone", "integer", "text"),
        [r[:5] + r[6:7] for r in rows])
    reminders = f"{t}.{col['reminders']}"
    if connection.vendor == "postgresql":
        appended = f"{reminders} || jsonb_build_array(CAST(v.v_reminder AS jsonb))"
    else:
        appended = f"json_insert({reminders}, '$[#]', json(v.v_reminder))"
    sql = (
        f"{prefix}UPDATE {t} SET {col['alert']} = v.v_alert, {col['next_due_at']} = v.v_next, "
        f"{col['escalation_level']} = v.v_level, "
        f"{col['reminders']} = CASE WHEN v.v_reminder IS NULL THEN {reminders} ELSE {appended} END FROM {source} "
        f"WHERE {t}.{col['case']} = v.v_id AND {t}.{col['next_due_at']} = v.v_seen RETURNING {t}.{col['case']}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, before + after)
        return {row[0] for row in cursor.fetchall()}


def _close_cases(rows: list[tuple[int, int]], now: datetime) -> set[int]:
    """Close each (pk, version) case still at that version, as services.close_unevaluated's
    transition does; returns the pks closed."""
    q = connection.ops.quote_name
    col = {name: q(Case._meta.get_field(name).column) for name in
           ("id", "version", "state", "closed_at", "yellow_at", "red_at", "updated_at")}
    t = q(Case._meta.db_table)
    prefix, before, source, after = _rows_source(("v_id", "v_version"), ("bigint", "integer"), rows)
    sql = (
        f"{prefix}UPDATE {t} SET {col['state']} = %s, {col['closed_at']} = {_stamp_mark()}, "
        f"{col['updated_at']} = {_stamp_mark()}, {col['version']} = {t}.{col['version']} + 1, "
        f"{col['yellow_at']} = NULL, {col['red_at']} = NULL FROM {source} "
        f"WHERE {t}.{col['id']} = v.v_id AND {t}.{col['version']} = v.v_version RETURNING {t}.{col['id']}"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, before + [State.CLOSED.value, stamp, stamp] + after)
        return {row[0] for row in cursor.fetchall()}


def _stamp_mark() -> str:
    return "CAST(%s AS timestamp with time zone)" if connection.vendor == "postgresql" else "%s"


def _datetime_adapter():
    """connection.ops.adapt_datetimefield_value, remembered per value for one statement (a batch
    writes the same stamp on thousands of rows) and, on SQLite, without its settings lookups:
    UTC text as Django writes it."""
    memo: dict = {}
    if connection.vendor != "sqlite":
        adapt = connection.ops.adapt_datetimefield_value
    else:
        def adapt(value: datetime) -> str:
            return str(value.astimezone(UTC).replace(tzinfo=None)) if value.tzinfo else str(value)

    def cached(value):
        if value is None:
            return None
        found = memo.get(value)
        if found is None:
            found = memo[value] = adapt(value)
        return found

    return cached


def _rows_source(names: tuple[str, ...], types: tuple[str, ...], rows: list[tuple]) -> tuple[str, list, str, list]:
    """ROWS as a table `v` with columns NAMES, to put in a statement as
    f"{prefix}UPDATE … {source} …" with params before + (the statement's own) + after.

    PostgreSQL: unnest() of one array per column, each passed as one array literal — as many
    parameters as columns however many rows (psycopg parses every placeholder of a query in
    Python, and dumps a list element by element in Python). SQLite: a VALUES list in a WITH
    clause (its placeholders cost nothing)."""
    if connection.vendor == "postgresql":
        columns = [_pg_array(c) for c in zip(*rows, strict=True)]
        arrays = ", ".join(f"CAST(%s AS {kind}[])" for kind in types)
        return "", [], f"unnest({arrays}) AS v ({', '.join(names)})", columns
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    return f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([one] * len(rows))}) ", _sqlite_params(types, rows), "v", []


def _pg_array(values) -> str:
    """VALUES as a PostgreSQL array literal: {1,NULL,"text with \"quotes\"","2026-11-21T10:00:00+00:00"}."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, bool | int):
            out.append(str(v))
        elif isinstance(v, datetime):
            out.append(f'"{v.isoformat()}"')
        else:
            out.append('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(out) + "}"


# --- who is told -------------------------------------------------------------------------------


class _People:
    """Who is told, read once per sweep run and kept for its batches: every active dispatcher
    by the code of their territory (a city has a few hundred), and each lead unit's members
    when first needed."""

    def __init__(self):
        self._dispatchers: dict[str, list[User]] | None = None
        self.by_dept: dict[int, list[User]] = {}
        self.by_region: dict[int, list[User]] = {}
        self.levels: dict[int, str] = {}
        self.tiers_by_path: dict[str, list[tuple[Region | None, list[User]]]] = {}

    def dispatchers(self) -> dict[str, list[User]]:
        if self._dispatchers is None:
            self._dispatchers = defaultdict(list)
            for user in User.objects.filter(role=Role.DISPATCHER, is_active=True).select_related("region").order_by("pk"):
                if user.region_id:
                    self._dispatchers[user.region.code].append(user)
        return self._dispatchers


def _dispatcher_tiers(cases: list[Due], people: _People | None = None) -> dict[int, list[tuple[Region | None, list[User]]]]:
    """Per case, the tiers above it that have dispatchers, nearest first — the list
    services.dispatchers_for picks from (level_up n → entry n, capped at the last). A case with
    no dispatcher anywhere above it still escalates: to its street, district and city, unheard."""
    people = people or _People()
    by_code, by_path = people.dispatchers(), people.tiers_by_path
    depths = (DEPTH[Level.STREET], DEPTH[Level.DISTRICT], DEPTH[Level.CITY])
    fallback = {}
    for path in {c.region_path for c in cases} - by_path.keys():  # a run meets each territory once
        codes = path.strip("/").split("/")
        tiers = [(by_code[c][0].region, by_code[c]) for c in reversed(codes) if c in by_code]
        if tiers:
            by_path[path] = tiers
        else:
            fallback[path] = [codes[d] for d in depths if d < len(codes)]
    if fallback:
        regions = {r.code: r for r in Region.objects.filter(code__in={c for codes in fallback.values() for c in codes})}
        for path, codes in fallback.items():
            by_path[path] = [(regions.get(code), []) for code in codes]
    return {c.pk: by_path[c.region_path] for c in cases}


def _unit_members(cases: list[Due], people: _People | None = None) -> dict[int, list[User]]:
    """notify.unit_members for many cases in at most three queries (none for units already
    known this run): a department's handlers, or the staff of the lead territorial unit (its
    grid worker; a community's or street's staff)."""
    people = people or _People()
    dept_ids = {c.lead_department_id for c in cases if c.lead_department_id} - people.by_dept.keys()
    region_ids = {c.lead_region_id for c in cases if c.lead_region_id and not c.lead_department_id} - people.by_region.keys()
    if dept_ids:
        for pk in dept_ids:
            people.by_dept[pk] = []
        for u in User.objects.filter(department_id__in=dept_ids, role=Role.HANDLER, is_active=True).order_by("pk"):
            people.by_dept[u.department_id].append(u)
    if region_ids:
        people.levels.update(Region.objects.filter(pk__in=region_ids).values_list("pk", "level"))
        for pk in region_ids:
            people.by_region[pk] = []
        staff = User.objects.filter(
            region_id__in=region_ids, role__in=[Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.DISPATCHER], is_active=True
        ).order_by("pk")
        for u in staff:
            if (u.role == Role.GRID_WORKER) == (people.levels[u.region_id] == Level.GRID):
                people.by_region[u.region_id].append(u)
    return {
        c.pk: people.by_dept[c.lead_department_id] if c.lead_department_id else people.by_region.get(c.lead_region_id, [])
        for c in cases
    }


# --- what is written ---------------------------------------------------------------------------


def _local(moment: datetime | None) -> str:
    """MOMENT in local time as "11月21日 09:30" (what timezone.localtime(…).strftime gives, at a
    fifth of its cost: it is written twice per reminder)."""
    if moment is None:
        return ""
    d = moment.astimezone(timezone.get_default_timezone())
    return f"{d.month:02d}月{d.day:02d}日 {d.hour:02d}:{d.minute:02d}"


def reminder_note(clock: str, due: datetime | None) -> str:
    """What a reminder says of its clock: "办结时限已用 75%，将于 11月21日 09:30 到期"."""
    label = CLOCK_LABELS.get(clock, "时限")
    return f"{label}已用 {deadlines.YELLOW_AT:.0%}，将于 {_local(due)} 到期" if due else f"{label}已用 {deadlines.YELLOW_AT:.0%}"


def _overdue_text(plan: _Plan) -> str:
    case = plan.case
    if plan.clock == "respond":
        return f"超过响应时限（{case.response_hours} 小时）未联系反映人"
    if plan.clock == "resolve":
        return f"超过办结时限（{case.resolve_workdays} 个工作日）未办结"
    return "已超期"


@dataclass
class Outgoing:
    """A notification as the backends read it (pk, recipient, case, kind, text), without
    building a model instance for each of thousands."""

    pk: int
    recipient: User
    case: Due | None  # None: a digest of several cases
    kind: str
    text: str

    @property
    def case_id(self) -> int | None:
        return self.case.pk if self.case is not None else None


# One person told of many cases of one kind in one batch (a backlog after the worker was down,
# a department with dozens of cases turning red at the start of a working day) gets one digest
# instead of a message per case: an SMS gateway would otherwise send hundreds. The cases' own
# timelines still record each reminder and escalation; the digest opens the matching worklist.
DIGEST_TEXT = {
    "due_soon": "临期提醒：{n} 件事件即将到期，请到“临期”待办中抓紧办理：{numbers}",
    "escalated": "超期督办：{n} 件事件超期未办，已自动升级至您处督办，请到“超期”待办中查看：{numbers}",
    "supervised": "督办：您单位承办的 {n} 件事件因超期被督办，请到“超期”待办中查看：{numbers}",
}


def _with_digests(notes: list[tuple]) -> list[tuple]:
    """NOTES (recipient, case, kind, text), with each person's run of more than DIGEST_AFTER of
    one kind replaced by one digest (case None) naming the first cases."""
    groups: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for note in notes:
        groups[(note[0].pk, note[2])].append(note)
    out = []
    for (_, kind), group in groups.items():
        if len(group) <= DIGEST_AFTER or kind not in DIGEST_TEXT:
            out.extend(group)
            continue
        shown = "、".join(case.number for _, case, _, _ in group[:5]) + ("等" if len(group) > 5 else "")
        out.append((group[0][0], None, kind, DIGEST_TEXT[kind].format(n=len(group), numbers=shown)[:300]))
    return out


def _record(done: list[_Plan], tiers: dict, stamp: datetime, people: _People | None = None) -> list[Outgoing]:
    """What the cases written need besides their clock rows, one INSERT each: a closed case's
    event and evaluation, an escalated case's supervision, and everyone's notifications."""
    events, supervisions, evaluations, notes = [], [], [], []
    warned = [p for p in done if p.action == "warn"]
    escalated = [p for p in done if p.action == "escalate"]
    members = _unit_members([p.case for p in warned + escalated], people) if warned or escalated else {}

    def tell(users: list[User], case: Due, kind: str, text: str) -> None:
        notes.extend((u, case, kind, text[:300]) for u in {u.pk: u for u in users}.values())

    for plan in done:
        case = plan.case
        if plan.action == "close":
            events.append((case.pk, stamp, None, SYSTEM, "close", case.state, State.CLOSED, CLOSE_NOTE, "{}"))
            evaluations.append((case.pk, stamp, None, Evaluation.Source.TIMEOUT, None, None, "", case.lead_region_id,
                                case.lead_department_id))
        elif plan.action == "warn":
            # The reminder itself went onto the clock row (claim_batch); here, who is told.
            if case.state in UNIT_STATES and members[case.pk]:
                recipients = members[case.pk]
            else:
                recipients = tiers[case.pk][0][1] if tiers.get(case.pk) else []
            label = CLOCK_LABELS.get(plan.clock, "时限")
            tell(recipients, case, "due_soon",
                 f"临期提醒：事件 {case.number}「{case.title}」{label}将于 {_local(plan.due)} 到期，请抓紧办理")
        elif plan.action == "escalate":
            region, dispatchers = plan.tier
            where = region.name if region else "上级"
            reason = f"{_overdue_text(plan)}，自动升级至{where}督办（第 {plan.level} 级）"[:200]
            supervisions.append((case.pk, stamp, None, plan.level, region.pk if region else None, reason, None))
            tell(dispatchers, case, "escalated", f"超期督办：事件 {case.number}「{case.title}」{reason}")
            tell(members[case.pk], case, "supervised", f"事件 {case.number} 被督办：{reason}")

    insert_rows(CaseEvent, ("case", "at", "actor", "actor_name", "action", "from_state", "to_state", "note", "data"), events)
    insert_rows(Supervision, ("case", "opened_at", "opened_by", "level", "to_region", "reason", "closed_at"), supervisions)
    insert_rows(Evaluation, ("case", "at", "by", "source", "solved", "satisfied", "comment", "lead_region",
                             "lead_department"), evaluations)
    notes = _with_digests(notes)
    ids = insert_rows(Notification, ("recipient", "case", "kind", "text", "created_at", "read_at", "delivered"),
                      [(u.pk, case.pk if case else None, kind, text, stamp, None, "{}") for u, case, kind, text in notes],
                      returning=True)
    return [Outgoing(pk, u, case, kind, text) for pk, (u, case, kind, text) in zip(ids, notes, strict=True)]


def _deliver(notes: list[Outgoing]) -> None:
    """Send through the configured backends after the batch committed, as notify.notify does
    for one case, and keep each result; one UPDATE per distinct result (usually one)."""
    by_result: dict[tuple, list[int]] = defaultdict(list)
    for note in notes:
        results = deliver(note)
        by_result[tuple(sorted(results.items()))].append(note.pk)
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        for result, pks in by_result.items():
            # The ids as one parameter (a JSON array on SQLite, an array on PostgreSQL): an
            # IN list of thousands of placeholders costs more to build than to run.
            value = json.dumps(dict(result), ensure_ascii=False)
            if connection.vendor == "postgresql":
                cursor.execute(f"UPDATE {table} SET delivered = CAST(%s AS jsonb) WHERE id = ANY(%s)", [value, pks])
            else:
                cursor.execute(f"UPDATE {table} SET delivered = %s WHERE id IN (SELECT value FROM json_each(%s))",
                               [value, json.dumps(pks)])


# --- plain multi-row INSERT --------------------------------------------------------------------


def insert_rows(model, fields: tuple[str, ...], rows: list[tuple], *, returning: bool = False, chunk: int = 1000) -> list[int]:
    """INSERT ROWS (tuples of FIELDS' values: datetimes or their text, ids, text, JSON as text);
    with RETURNING, the new ids in the rows' order. Django's bulk_create prepares every value of
    every row through its field in Python, which was most of the sweep's time.

    PostgreSQL: COPY, rows formatted by psycopg's compiled code; the ids, when wanted, taken
    from the table's sequence first (one nextval per row, in one statement) and written with
    the rows. SQLite: plain multi-row VALUES (its placeholders cost nothing)."""
    check_columns(model, fields)
    if not rows:
        return []
    q = connection.ops.quote_name
    meta = [model._meta.get_field(f) for f in fields]
    table, pk = q(model._meta.db_table), model._meta.pk.column
    columns = ", ".join(q(f.column) for f in meta)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids: list[int] = []
            if returning:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [model._meta.db_table, pk, len(rows)])
                ids = [r[0] for r in cursor.fetchall()]
                rows = [(i, *row) for i, row in zip(ids, rows, strict=True)]
                columns = f"{q(pk)}, {columns}"
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return ids
        types = tuple("timestamp" if isinstance(f, models.DateTimeField) else "" for f in meta)
        one = "(" + ", ".join(["%s"] * len(meta)) + ")"
        tail = f" RETURNING {q(pk)}" if returning else ""
        ids = []
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))}{tail}",
                           _sqlite_params(types, part))
            if returning:
                # In the rows' order: ids are given ascending as rows go in; RETURNING's own
                # order is not promised (SQLite says so).
                ids += sorted(r[0] for r in cursor.fetchall())
    return ids


def _sqlite_params(types: tuple[str, ...], rows: list[tuple]) -> list:
    """ROWS' values in one flat list, datetimes as the UTC text Django stores on SQLite."""
    adapt = _datetime_adapter()
    stamps = [i for i, kind in enumerate(types) if kind.startswith("timestamp")]
    if not stamps:
        return [v for row in rows for v in row]
    out = []
    for row in rows:
        row = list(row)
        for i in stamps:
            row[i] = adapt(row[i])
        out.extend(row)
    return out


def check_columns(model, fields: tuple[str, ...]) -> None:
    """Refuse to write a model that has gained a required column the caller does not fill."""
    missing = [
        f.name for f in model._meta.concrete_fields
        if f.name not in fields and not f.null and not f.primary_key and not f.generated
        and f.db_default is models.NOT_PROVIDED
    ]
    if missing:
        raise RuntimeError(f"{model.__name__} 的必填字段 {missing} 没有写入，请更新 cases.jobs / cases.city_steps")
