"""Reads of cases: what a user may see, worklists, likely duplicates, 三率, corrections."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import records_q, regions_q
from grassroots.accounts.roles import Role
from grassroots.cases.models import (
    UNIT_WORKING,
    Case,
    CaseClock,
    CaseUnit,
    ClassificationFeedback,
    Evaluation,
    State,
    Supervision,
)
from grassroots.lib import privacy
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Department, NotIndexed, Region
from grassroots.territory.queries import path_prefix_q


def _visible_q(user: User, case: str = "") -> Q:
    """Cases inside the user's scope: territory, their department (lead or assisting), or their
    own reports; CASE is the path to the case from the model filtered ("" or "case__")."""
    q = records_q(user, path_field=f"{case}region_path", department_fields=(f"{case}lead_department",),
                  owner_field=f"{case}reporter")
    if user.is_authenticated and user.department_id and user.role != Role.RESIDENT:
        assisted = CaseUnit.objects.filter(department_id=user.department_id).values("case_id")
        q |= Q(**{f"{case}pk__in": assisted})
    return q


def visible_cases(user: User) -> QuerySet[Case]:
    """Cases inside the user's scope: territory, their department (lead or assisting), or their own reports."""
    return Case.objects.filter(_visible_q(user))


def get_case(user: User, number: str) -> Case | None:
    return (
        visible_cases(user)
        .select_related("matter", "grid", "region", "lead_region", "lead_department", "reporter", "merged_into")
        .filter(number=number)
        .first()
    )


def _mine_q(user: User) -> Q:
    """Cases the user's own unit must act on (as lead)."""
    if user.department_id and user.role == Role.HANDLER:
        return Q(lead_department_id=user.department_id)
    if user.region_id:
        return Q(lead_region_id=user.region_id)
    return Q(pk__in=[])


WORKLISTS = {
    "pending": "待我处理",
    "due_soon": "临期",
    "overdue": "超期",
    "returned": "退回给我",
    "all": "全部",
}


def _newest_first_off_the_clocks(qs: QuerySet[Case]) -> QuerySet[Case]:
    """The 临期/超期 lists, newest first, from the case_due_soon range. Ordered by the plain
    column, SQLite walks the whole created_at index back in time looking for 50 of a street's
    few hundred red cases (110–290 ms on the M city against 5 ms); ordered by +created_at
    (NotIndexed) it reads the range and sorts what it holds. PostgreSQL gets the plain column
    and chooses well from its statistics."""
    return qs.order_by(NotIndexed("created_at").desc(), F("id").desc())


def worklist(user: User, name: str) -> QuerySet[Case]:
    """A role's worklist, newest first. Dispatchers see what waits for dispatch in their
    territory; units see what they lead."""
    dispatcher = user.role == Role.DISPATCHER
    # A dispatcher works the cases of their territory (not their own reports elsewhere), read
    # from the index of the list itself (waiting_on, or the clocks' moments), the territory
    # checked from its entries: a city's or district's list then costs its first page, not
    # a sort of every case in the territory.
    qs = Case.objects.filter(regions_q(user, "region_path", indexed=False)) if dispatcher else visible_cases(user)
    if name == "pending":
        if dispatcher:
            return qs.filter(waiting_on="dispatcher")  # = state in DISPATCHER_PENDING
        if user.role == Role.RESIDENT:
            return qs.filter(reporter=user, state=State.RESOLVED)
        return qs.filter(_mine_q(user), state__in=UNIT_WORKING)
    # The colour is read off the clocks (yellow_at, red_at: set only while a clock runs, so
    # only on open cases); yellow_at ≤ now in both, the range of the case_due_soon index.
    now = timezone.now()
    if name == "due_soon":
        return _newest_first_off_the_clocks(qs.filter(yellow_at__lte=now, red_at__gt=now))
    if name == "overdue":
        return _newest_first_off_the_clocks(qs.filter(yellow_at__lte=now, red_at__lte=now))
    if name == "returned":
        if dispatcher:
            return qs.filter(state=State.RETURNED)
        # Back to my unit: refused returns and unsatisfied reopenings.
        return qs.filter(_mine_q(user), state__in=UNIT_WORKING).filter(
            Q(reopen_count__gt=0) | Q(events__action="arbitrate", events__data__ruling="refuse")
        ).distinct()
    return qs


@dataclass
class Filters:
    matter: str = ""
    region: str = ""  # a territory code: that subtree
    state: str = ""
    channel: str = ""
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""


def apply_filters(qs: QuerySet[Case], f: Filters) -> QuerySet[Case]:
    if f.matter:
        qs = qs.filter(matter_code__startswith=f.matter)
    if f.region:
        region = Region.objects.filter(code=f.region).first()
        qs = qs.filter(path_prefix_q("region_path", region.path)) if region else qs.none()
    if f.state:
        qs = qs.filter(state=f.state)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.since:
        qs = qs.filter(created_at__gte=f.since)
    if f.until:
        qs = qs.filter(created_at__lt=f.until)
    if f.q:
        qs = qs.filter(Q(number=f.q) | Q(title__contains=f.q) | Q(address__contains=f.q))
    return qs


# --- the timeline ------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    """One line of a case's timeline, read like a CaseEvent."""

    at: datetime
    actor_name: str
    action: str
    note: str = ""
    from_state: str = ""
    to_state: str = ""
    data: dict | None = None


def case_supervisions(case: Case) -> list[Supervision]:
    return list(case.supervisions.select_related("opened_by", "to_region"))


def timeline(case: Case, supervisions: list[Supervision] | None = None) -> list[TimelineEntry]:
    """CASE's whole story in time order: its transitions (CaseEvent), its supervisions (督办 —
    a person's "supervise", the worker's "escalate" when a clock ran out; SUPERVISIONS when the
    caller has read them already, as case_supervisions does) and the worker's reminders
    (临期提醒, kept on the clock row)."""
    from grassroots.cases.jobs import reminder_note  # jobs is the worker's module: loaded on first use

    entries = [
        TimelineEntry(e.at, e.actor_name, e.action, e.note, e.from_state, e.to_state, e.data)
        for e in case.events.all()
    ]
    for s in case_supervisions(case) if supervisions is None else supervisions:
        by_worker = s.opened_by_id is None
        entries.append(TimelineEntry(
            s.opened_at, s.opened_by.display_name if s.opened_by else "系统", "escalate" if by_worker else "supervise",
            s.reason, data={"level": s.level, "to": s.to_region.code if s.to_region else ""}))
    reminders = CaseClock.objects.filter(case_id=case.pk).values_list("reminders", flat=True).first() or []
    for r in reminders:
        due = datetime.fromisoformat(r["due"]) if r.get("due") else None
        entries.append(TimelineEntry(datetime.fromisoformat(r["at"]), "系统", "warn",
                                     reminder_note(r.get("clock", ""), due), data=r))
    entries.sort(key=lambda e: e.at)
    return entries


# --- duplicates --------------------------------------------------------------------------------

DUPLICATE_DAYS = 7
DUPLICATE_METRES = 300


def _bigrams(text: str) -> set[str]:
    text = "".join(ch for ch in text if ch.isalnum())
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def similarity(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


DUPLICATE_COLUMNS = ("id", "number", "title", "description", "state", "created_at", "grid_id", "lon", "lat",
                     "region_path")


def likely_duplicates(case: Case, *, viewer: User | None = None, limit: int = 5,
                      threshold: float = 0.25) -> list[tuple[Case, float]]:
    """Recent cases of the same matter at the same grid or nearby, ranked by text similarity;
    only those VIEWER may see, when a viewer is given.

    Two index ranges OR-ed — (grid, matter, created_at) and (matter, lat, lon) — so the cost
    does not grow with the city: only that matter's cases in that grid or that small box are
    read, and only the columns the suggestion shows."""
    if not case.matter_code:
        return []
    since = (case.created_at or timezone.now()) - timedelta(days=DUPLICATE_DAYS)
    near = Q(grid_id=case.grid_id) if case.grid_id else Q(region_id=case.region_id)
    if case.lon is not None:
        dlat = DUPLICATE_METRES / 111_000
        dlon = dlat / max(0.1, math.cos(math.radians(case.lat)))
        near |= Q(lon__range=(case.lon - dlon, case.lon + dlon), lat__range=(case.lat - dlat, case.lat + dlat))
    candidates = (
        (visible_cases(viewer) if viewer is not None else Case.objects)
        .filter(near, matter_code=case.matter_code, created_at__gte=since)
        .exclude(pk=case.pk)
        .exclude(state__in=[State.MERGED, State.REJECTED])
        .only(*DUPLICATE_COLUMNS)
        .order_by("-created_at")[:50]
    )
    scored = []
    for other in candidates:
        score = similarity(case.description, other.description)
        if score >= threshold:
            scored.append((other, round(score, 2)))
    scored.sort(key=lambda pair: -pair[1])
    return scored[:limit]


# --- 三率 --------------------------------------------------------------------------------------


@dataclass
class Rates:
    unit: str
    within: str = ""  # where the unit sits: a department's district; a territory's district and street
    due: int = 0
    responded_in_time: int = 0
    evaluated: int = 0
    solved: int = 0
    satisfied: int = 0

    @staticmethod
    def _pct(n: int, d: int) -> float | None:
        return round(100 * n / d, 1) if d else None

    @property
    def response_rate(self) -> float | None:
        return self._pct(self.responded_in_time, self.due)

    @property
    def resolution_rate(self) -> float | None:
        return self._pct(self.solved, self.evaluated)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._pct(self.satisfied, self.evaluated)


def rates(cases: QuerySet[Case], evaluations: QuerySet[Evaluation], start: datetime, end: datetime) -> list[Rates]:
    """三率 per lead unit for [START, END), then a 合计 row.

    响应率 = cases whose response was due in the period and was made in time / cases due.
    解决率 = evaluations saying solved / evaluations; 满意率 = satisfied / evaluations
    (evaluations made in the period; a window that passed unanswered is not an evaluation).

    Counted per unit id (every district has its own 交通运输局, and community names repeat),
    from the case_respond_due index, without a join per case; the units' names and where they
    sit are read afterwards, once per unit.
    """
    now = timezone.now()
    due = cases.filter(respond_due_at__gte=start, respond_due_at__lt=min(end, now))
    keys = ("lead_department_id", "lead_region_id")
    counts: dict[tuple, Rates] = {}

    def unit(row) -> Rates:
        key = (row["lead_department_id"], None if row["lead_department_id"] else row["lead_region_id"])
        return counts.setdefault(key, Rates(""))

    for row in due.values(*keys).annotate(
        n=Count("id"), ok=Count("id", filter=Q(responded_at__isnull=False, responded_at__lte=F("respond_due_at")))
    ):
        r = unit(row)
        r.due += row["n"]
        r.responded_in_time += row["ok"]
    evals = evaluations.filter(at__gte=start, at__lt=end).exclude(source=Evaluation.Source.TIMEOUT)
    for row in evals.values(*keys).annotate(
        n=Count("id"), solved=Count("id", filter=Q(solved=True)), satisfied=Count("id", filter=Q(satisfied=True))
    ):
        r = unit(row)
        r.evaluated += row["n"]
        r.solved += row["solved"]
        r.satisfied += row["satisfied"]
    _name_units(counts)
    rows = sorted(counts.values(), key=lambda r: (r.unit == "未派遣", r.within, r.unit))
    total = Rates("合计")
    for r in rows:
        for attr in ("due", "responded_in_time", "evaluated", "solved", "satisfied"):
            setattr(total, attr, getattr(total, attr) + getattr(r, attr))
    return rows + [total] if rows else []


def _name_units(counts: dict[tuple, Rates]) -> None:
    """Fill each row's unit and within, keyed (department id, None) / (None, region id)."""
    departments = {d.pk: d for d in Department.objects.filter(pk__in=[k[0] for k in counts if k[0]])
                   .select_related("district")}
    regions = {r.pk: r for r in Region.objects.filter(pk__in=[k[1] for k in counts if k[1]])}
    # the codes from the district down to the unit's parent
    above = {pk: r.path.strip("/").split("/")[DEPTH[Level.DISTRICT]:-1] for pk, r in regions.items()}
    names = dict(Region.objects.filter(code__in={c for codes in above.values() for c in codes})
                 .values_list("code", "name"))
    for (dept_id, region_id), r in counts.items():
        if dept_id:
            department = departments[dept_id]
            r.unit, r.within = department.name, department.district.name
        elif region_id:
            r.unit, r.within = regions[region_id].name, " · ".join(names.get(c, c) for c in above[region_id])
        else:
            r.unit = "未派遣"


def visible_evaluations(user: User) -> QuerySet[Evaluation]:
    """Evaluations of the cases the user sees, through a join to each (an IN over every visible
    case's id read the whole territory first: a second for a city)."""
    return Evaluation.objects.filter(_visible_q(user, "case__"))


def rates_in_scope(user: User, start: datetime, end: datetime, region: Region | None = None) -> list[Rates]:
    """rates() of what USER sees, inside REGION's subtree when given (checked in scope by the caller)."""
    cases, evaluations = visible_cases(user), visible_evaluations(user)
    if region is not None:
        cases = cases.filter(path_prefix_q("region_path", region.path))
        evaluations = evaluations.filter(path_prefix_q("case__region_path", region.path))
    return rates(cases, evaluations, start, end)


def corrections() -> list[tuple[str, str]]:
    """The deployment's own history for `grassroots train`: (text, the matter a dispatcher chose)."""
    return list(ClassificationFeedback.objects.values_list("text", "chosen_code"))


def shown_phone(user, case: Case) -> str:
    """The phone as a list or a page shows it: the reporter's own in full, masked for everyone else."""
    if case.reporter_id and case.reporter_id == user.pk:
        return privacy.plain_of(case.reporter_phone)
    return str(case.reporter_phone)


def cases_of_resident(user: User, limit: int = 100) -> list[Case]:
    """What the platform holds on a resident as a reporter: the cases they reported with their account,
    and those taken in under their (verified) phone — a hotline call, a letter — found by its digest."""
    q = Q(reporter=user)
    if user.phone:
        q |= Q(reporter_phone_digest__in=privacy.digests("phone", privacy.plain_of(user.phone)))
    return list(Case.objects.filter(q).order_by("-created_at", "-id")[:limit])
