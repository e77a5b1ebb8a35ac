"""Generator step: the city's cases (事件), as if the platform had been in use for 90 days.

`grassroots generate` makes `scale.cases_count` cases (S 300, M 50,000, L 1,000,000) reported
over the last DAYS days, more by day than by night, through every channel (12345 hotline most,
then grid workers, the app, walk-in visits, 110 transfers and letters), about matters drawn by
weight from the catalog (a grid worker reports more grid and community matters), each at a
point inside a generated grid (a quarter of phone calls name only their community), by a
generated resident, a named caller or anonymously. Each case then lives its life the way the
services would have written it — intake, acceptance, dispatch to the unit cases.routing picks
(with its assisting department), signing, contact with the reporter, resolution, evaluation or
the evaluation window running out, and on the side returns, reopenings, duplicates and invalid
reports — with its clocks on the official working-day calendar, and the worker's colour changes,
reminders and escalations (督办, to the district, then the city) whenever a clock passed its
mark. What has happened by now is written; what would happen later is not, so the cases are in
every state, and every case has the events that explain it.

The worker is taken to have stopped WORKER_PAUSED ago: what fell due since then (colours,
escalations, evaluation windows) is left for it, so about 1 % of the open cases are due when the
city is opened — `grassroots worker --once` catches up.

Everything comes from the seed (ctx.rng("cases") and per-grid streams for the points); times
are offsets from the minute of generation, so the same seed in the same minute gives the same
cases.

Speed: nothing here goes through the services, the classifier or one ORM save per row. Rows
are tuples written in batches of BATCH — COPY on PostgreSQL, executemany on SQLite — because
Django's bulk_create prepares every value of every row in Python (≈ 1 ms per case row on the
reference machine, and 22 rows per INSERT on SQLite): a million cases would take a quarter of an
hour that way. Working days come from a calendar table built once from workdays.is_workday.
"""

import bisect
import json
import math
import queue
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases import catalog, deadlines, workdays
from grassroots.cases.jobs import check_columns
from grassroots.cases.models import (
    Alert,
    Case,
    CaseClock,
    CaseEvent,
    CaseUnit,
    Channel,
    Evaluation,
    Matter,
    State,
    Supervision,
    Tier,
)
from grassroots.generator import layout, names
from grassroots.generator.city import CityContext, city_step
from grassroots.lib import privacy
from grassroots.lib.sqlite import bulk_page_cache
from grassroots.territory import geo
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region

DAYS = 90
WORKER_PAUSED = timedelta(hours=2)
BATCH = 5000
DAY_S = 86400.0
HOUR_S = 3600.0

# Channels (来源渠道): the 12345 hotline carries most cases; grid workers find a fifth.
CHANNEL_WEIGHTS = {
    Channel.HOTLINE: 52, Channel.GRID: 20, Channel.APP: 16, Channel.VISIT: 6, Channel.POLICE110: 4, Channel.LETTER: 2,
}
# Reports per local hour of the day.
HOUR_WEIGHTS = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1.5, 3, 6, 8, 8, 7, 5, 6, 7, 7, 7, 6, 5, 5, 4, 3, 2, 1.5)
# How often each matter comes in, relative to 1 (12345 figures: noise, parking, property
# management and street vending lead; gas leaks and collapsing buildings are rare).
MATTER_WEIGHTS = {
    "01.01.01": 3, "01.01.02": 0.4, "01.02.01": 4, "01.03.01": 3, "01.03.02": 0.5, "02.01.01": 3, "02.01.02": 3,
    "02.02.01": 4, "02.02.02": 2, "03.01.01": 3, "03.02.01": 5, "04.01.01": 2, "04.01.02": 2, "04.02.01": 5,
    "05.01.01": 2, "05.01.02": 2, "05.03.01": 0.3, "05.04.01": 3, "06.02.01": 4, "07.01.01": 3, "09.02.01": 2,
    "12.01.01": 6, "12.01.02": 3, "13.01.01": 3, "14.01.02": 0.3,
}
# A grid worker on patrol finds grid and community matters more than the hotline hears of them.
GRID_CHANNEL_BOOST = {Tier.GRID: 5.0, Tier.COMMUNITY: 2.5, Tier.STREET: 1.0, Tier.DISTRICT: 0.4}
RESULTS = (
    "已联系反映人并到现场核实，问题已处理完毕",
    "已责成相关单位整改，经复查已整改到位",
    "已协调物业及相关部门处置，反映人表示认可",
    "经核实，已按政策规定向反映人解释说明",
    "已安排人员维修，现已恢复正常",
    "已约谈当事人并督促整改，将持续跟进",
)
CLOCK_STATES = deadlines.CLOCK_STATES
MAX_LEVEL = 2  # street → district → city: the generated city has dispatchers at all three


@city_step(order=600, label="事件")
def cases_step(ctx: CityContext) -> None:
    count = ctx.scale.cases_count
    grids = ctx.regions.get(Level.GRID, [])
    if not count or not grids:
        return
    catalog.load_default_catalog()
    now = timezone.now().replace(second=0, microsecond=0)
    world = _World(ctx, now)
    writer = _Writer()
    sim = _Simulation(world, ctx.rng("cases"), now.timestamp(), (now - WORKER_PAUSED).timestamp(), writer.new_rows())
    created = sim.creation_times(count)
    first_id = (Case.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    # The lives are played in a thread of their own while this one writes the batch before:
    # the database drivers let go of the interpreter while they work, so the two overlap. The
    # thread only reads what _World loaded; every query stays on this thread's connection.
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()  # the writer failed: the player gives up instead of waiting forever
    played = [0.0]

    def hand_over(item) -> None:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def play() -> None:
        try:
            for start in range(0, count, BATCH):
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                for i in range(start, min(count, start + BATCH)):
                    sim.case(first_id + i, i, created[i])
                played[0] += time.perf_counter() - t0
                hand_over(sim.out)
                sim.out = writer.new_rows()
            hand_over(None)
        except BaseException as exc:  # handed to the writing thread, which raises it
            hand_over(exc)

    player = threading.Thread(target=play, name="cases-generator", daemon=True)
    with _big_cache(count):
        player.start()
        try:
            while (rows := batches.get()) is not None:
                if isinstance(rows, BaseException):
                    raise rows
                writer.write(rows)
        finally:
            stop.set()
            player.join()
    writer.finish()
    ctx.say(f"    事件：模拟 {played[0]:.1f} 秒，写入 {writer.seconds:.1f} 秒（两者并行）")
    ctx.count("事件", count)
    ctx.count("事件日志", writer.events)
    ctx.count("督办", writer.supervisions)
    ctx.count("回访评价", writer.evaluations)
    ctx.count("事件（待办理时限检查）", sim.due)


def _big_cache(count: int):
    """A million cases update a dozen indexes each, at random places: give the connection
    about 300 bytes of page cache a case (at most 1 GB) while they are written."""
    return bulk_page_cache(min(1_048_576, count * 300 // 1024)) if count >= 20_000 else nullcontext()


# --- what the cases are made from ---------------------------------------------------------------


@dataclass
class _Matter:
    id: int
    code: str
    name: str
    tier: str
    priority: str
    hours: int
    workdays: int
    department_code: str
    texts: list[str]


@dataclass
class _Place:
    """Where a case can be: a grid (with points inside it) or, for a call without a point, a community."""

    region: Region
    grid: Region | None
    community: Region
    street: Region
    district: Region
    city: Region
    points: list[tuple[float, float]] = field(default_factory=list)


class _World:
    """The generated city seen from the cases: matters, places, routes, people, the calendar."""

    def __init__(self, ctx: CityContext, now: datetime):
        self.seed = ctx.seed
        by_code = ctx.region_by_code
        self.matters = [self._matter(m, texts) for m, texts in self._matters_with_texts()]
        self.places: list[_Place] = []
        for grid in ctx.regions[Level.GRID]:
            codes = grid.path.strip("/").split("/")
            self.places.append(_Place(grid, grid, by_code[codes[4]], by_code[codes[3]], by_code[codes[2]], by_code[codes[1]]))
        self.departments = {(d.district_id, d.code): d for d in ctx.departments}
        users = {u.username: u for u in ctx.users}
        self.users = users
        self.residents = [u for u in ctx.users if u.role == Role.RESIDENT]
        self.routes: dict[tuple[int, int], tuple] = {}
        self.calendar = _Calendar(now)

    @staticmethod
    def _matters_with_texts():
        texts: dict[str, list[str]] = {}
        try:
            from grassroots.cases.classifier import shipped_examples

            for text, code in shipped_examples():
                texts.setdefault(code, []).append(text)
        except Exception:  # the classifier's examples are a nicety: the catalog's words will do
            texts = {}
        for matter in Matter.objects.filter(active=True).order_by("code"):
            yield matter, texts.get(matter.code) or [matter.description or matter.name]

    @staticmethod
    def _matter(m: Matter, texts: list[str]) -> _Matter:
        return _Matter(m.id, m.code, m.name, m.tier, m.priority, m.response_hours, m.resolve_workdays,
                       m.department_code, texts)

    def user(self, username: str):
        return self.users.get(username)

    def points(self, place: _Place) -> list[tuple[float, float]]:
        """64 points inside the grid, from the grid's own random stream (made on first use):
        on the way from its representative point towards a vertex, kept if inside."""
        if not place.points:
            grid = place.grid
            rings = grid.boundary["coordinates"] if grid.boundary["type"] == "Polygon" else None
            polygon = shapely.Polygon(rings[0], rings[1:]) if rings else geo.to_geometry(grid.boundary)
            ring = shapely.get_coordinates(polygon.exterior)[:-1]
            draw = np.random.default_rng(layout.node_rng(self.seed, "case-points", grid.code).getrandbits(64))
            centre = np.array([grid.center_lon, grid.center_lat])
            points = centre + draw.uniform(0.05, 0.85, (64, 1)) * (ring[draw.integers(0, len(ring), 64)] - centre)
            inside = shapely.contains_xy(polygon, points[:, 0], points[:, 1])
            points[~inside] = centre
            place.points = [tuple(p) for p in np.round(points, 6).tolist()]
        return place.points

    def route(self, region: Region, place: _Place, m: int) -> tuple:
        """(lead_region, lead_department, lead name, assisting departments): cases.routing's
        suggestion, computed once per (unit, matter) from what is in memory."""
        key = (region.id, m)
        hit = self.routes.get(key)
        if hit is not None:
            return hit
        matter = self.matters[m]
        department = self.departments.get((place.district.id, matter.department_code))
        territorial = department is not None and department.kind == Department.Kind.TERRITORIAL
        if matter.tier == Tier.DISTRICT:
            if department is None:  # no such department in this district: the street takes it
                hit = (place.street, None, place.street.name, [])
            elif territorial:
                hit = (place.community, None, place.community.name, [])
            else:
                hit = (None, department, department.name, [])
        else:
            # A grid matter is led by the grid the case lies in, or by its community when it names no point.
            unit = {Tier.GRID: region, Tier.COMMUNITY: place.community, Tier.STREET: place.street}[matter.tier]
            assists = [department] if department is not None and not territorial else []
            hit = (unit, None, unit.name, assists)
        self.routes[key] = hit
        return hit


class _Calendar:
    """workdays.add_workdays as a table lookup, in seconds since the epoch (local calendar days)."""

    def __init__(self, now: datetime):
        local = timezone.localtime(now)
        self.offset = local.utcoffset().total_seconds()  # Asia/Shanghai keeps one offset all year
        today = math.floor((now.timestamp() + self.offset) / DAY_S)
        self.base = today - DAYS - 5
        days = DAYS + 5 + 200  # far enough for the last case's evaluation window after a reopening
        epoch = datetime(1970, 1, 1).date()
        flags = [workdays.is_workday(epoch + timedelta(days=self.base + i)) for i in range(days)]
        self.names: dict[int, str] = {}
        self.cum, self.work, n = [], [], 0
        for i, flag in enumerate(flags):
            if flag:
                n += 1
                self.work.append(i)
            self.cum.append(n)

    def add(self, t: float, n: int) -> float:
        d = math.floor((t + self.offset) / DAY_S) - self.base
        return t + (self.work[self.cum[d] + n - 1] - d) * DAY_S if n else t

    def ymd(self, t: float) -> str:
        """The local date of T as YYYYMMDD."""
        day = math.floor((t + self.offset) / DAY_S)
        text = self.names.get(day)
        if text is None:
            text = self.names[day] = datetime.fromtimestamp(day * DAY_S, UTC).strftime("%Y%m%d")
        return text

    def local_midnight(self, days_ago: int, now: float) -> float:
        today = math.floor((now + self.offset) / DAY_S)
        return (today - days_ago) * DAY_S - self.offset


# --- one case's life ----------------------------------------------------------------------------


class _State:
    """The case row while its life is played, with the clocks as seconds since the epoch."""

    __slots__ = (
        "state", "acc", "rdue", "resp", "sdue", "edue", "alert", "level", "nxt", "version", "updated", "dispatched",
        "resolved", "closed", "lead_region", "lead_department", "reopen_count", "result", "merged_into", "reminders",
    )

    def __init__(self):
        self.state = State.SUBMITTED
        self.acc = self.rdue = self.resp = self.sdue = self.edue = self.nxt = None
        self.dispatched = self.resolved = self.closed = None
        self.alert, self.level, self.version, self.updated = Alert.GREEN, 0, 1, None
        self.lead_region = self.lead_department = self.merged_into = None
        self.reopen_count, self.result = 0, ""
        self.reminders: list[dict] = []

    def thresholds(self) -> tuple[float | None, float | None]:
        """deadlines.thresholds, on seconds: (yellow_at, red_at) of the running clocks."""
        if self.state not in CLOCK_STATES or self.acc is None:
            return None, None
        dues = [due for due in (self.sdue, self.rdue if self.resp is None else None) if due is not None]
        if not dues:
            return None, None
        return min(self.acc + (due - self.acc) * deadlines.YELLOW_AT for due in dues), min(dues)

    def clocks(self, t: float) -> tuple[str, float | None]:
        """deadlines.evaluate_clocks, on seconds."""
        if self.state == State.RESOLVED:
            return Alert.GREEN, self.edue
        yellow, red = self.thresholds()
        if red is not None and t >= red:
            return Alert.RED, t + deadlines.REESCALATE_AFTER.total_seconds()
        if yellow is not None and t >= yellow:
            return Alert.YELLOW, red
        return Alert.GREEN, yellow

    def turned(self, t: float, alert: str) -> tuple[str, float | None]:
        """The clock at colour ALERT that is due first (jobs._turned_clock)."""
        found = []
        for name, due in (("resolve", self.sdue), ("respond", self.rdue if self.resp is None else None)):
            if due is None:
                continue
            yellow = self.acc + (due - self.acc) * deadlines.YELLOW_AT
            colour = Alert.RED if t >= due else Alert.YELLOW if t >= yellow else Alert.GREEN
            if colour == alert:
                found.append((due, name))
        return (min(found)[1], min(found)[0]) if found else ("", None)


class _Simulation:
    def __init__(self, world: _World, rng, now: float, cut: float, out: "_Rows"):
        self.w, self.rng, self.now, self.cut, self.out = world, rng, now, cut, out
        self.due = 0
        self.last_of: dict[tuple[int, int], tuple[int, str]] = {}  # (region, matter) → (case id, number)
        self.salt = rng.getrandbits(40)
        chans = list(CHANNEL_WEIGHTS)
        self.channels, self.channel_cum = chans, _cumulative(CHANNEL_WEIGHTS[c] for c in chans)
        weights = [MATTER_WEIGHTS.get(m.code, 1.0) for m in world.matters]
        self.matter_cum = _cumulative(weights)
        self.grid_matter_cum = _cumulative(w * GRID_CHANNEL_BOOST[m.tier] for w, m in zip(weights, world.matters, strict=True))
        self.hour_cum = _cumulative(HOUR_WEIGHTS)
        self.evaluation_days = _evaluation_workdays()

    def creation_times(self, count: int) -> list[float]:
        r, cal, now = self.rng.random, self.w.calendar, self.now
        times = []
        for _ in range(count):
            midnight = cal.local_midnight(int(r() * DAYS), now)
            t = midnight + bisect.bisect(self.hour_cum, r() * self.hour_cum[-1]) * HOUR_S + int(r() * HOUR_S)
            if t > now - 60:
                t = now - 60 - int(r() * 6 * HOUR_S)
            times.append(float(t))
        times.sort()
        return times

    # -- helpers --

    def _pick(self, cum: list[float]) -> int:
        return bisect.bisect(cum, self.rng.random() * cum[-1])

    def _between(self, a: float, b: float) -> float:
        return a + self.rng.random() * (b - a)

    def case(self, pk: int, index: int, created: float) -> None:
        w, r = self.w, self.rng.random
        channel = self.channels[self._pick(self.channel_cum)]
        m = self._pick(self.grid_matter_cum if channel == Channel.GRID else self.matter_cum)
        matter = w.matters[m]
        place = w.places[int(r() * len(w.places))]
        located = not (channel in (Channel.HOTLINE, Channel.LETTER, Channel.POLICE110) and r() < 0.25)
        region = place.grid if located else place.community
        lon, lat = w.points(place)[int(r() * 64)] if located else (None, None)
        text = matter.texts[int(r() * len(matter.texts))]
        row = {
            "id": pk, "number": f"SJ{w.calendar.ymd(created)}{index + 1:07d}",
            "tracking_code": f"{((index * 0x9E3779B97F) % (1 << 40)) ^ self.salt:010X}",
            "channel": channel, "title": text[:30], "description": text, "matter_id": matter.id,
            "matter_code": matter.code, "matter_name": matter.name, "tier": matter.tier, "priority": matter.priority,
            "response_hours": matter.hours, "resolve_workdays": matter.workdays, "lon": lon, "lat": lat,
            "grid_id": place.grid.id if located else None, "region_id": region.id, "region_path": region.path,
            "created_at": created, "address": f"{place.community.name}{int(r() * 30) + 1}号楼" if r() < 0.7 else "",
        }
        self._reporter(row, channel, place)
        life = _Life(self, pk, row, m, place, region, created)
        life.play(channel)
        st = life.finish()
        if st.nxt is not None and st.nxt <= self.now:
            self.due += 1
        if st.state not in (State.MERGED, State.REJECTED):
            self.last_of[(region.id, m)] = (pk, row["number"])

    def _reporter(self, row: dict, channel: str, place: _Place) -> None:
        r, w = self.rng.random, self.w
        reporter, name, phone, anonymous = None, "", "", False
        if channel == Channel.APP and w.residents:
            reporter = w.residents[int(r() * len(w.residents))]
            name, phone = reporter.display_name, privacy.plain_of(reporter.phone)
        elif channel in (Channel.HOTLINE, Channel.POLICE110, Channel.LETTER):
            anonymous = r() < (0.3 if channel == Channel.LETTER else 0.08)
            if not anonymous:
                name = names.person_name(self.rng)
                phone = names.phone_number(self.rng) if channel != Channel.LETTER or r() < 0.5 else ""
        elif r() < 0.5:  # a grid worker or community visit often notes who raised it
            name = names.person_name(self.rng)
        creators = {
            Channel.HOTLINE: f"dp{place.city.code}", Channel.GRID: f"gw{place.grid.code}",
            Channel.VISIT: f"cs{place.community.code}", Channel.LETTER: f"dp{place.street.code}",
            Channel.POLICE110: f"dp{place.district.code}",
        }
        creator = reporter if channel == Channel.APP else w.user(creators[channel])
        row.update(reporter_id=reporter.id if reporter else None, reporter_name=name, reporter_phone=phone,
                   anonymous=anonymous, created_by_id=creator.id if creator else None)
        row["_creator"] = creator


class _Life:
    """Plays one case from intake to now: user actions in time order, and between them the
    worker's steps at each next_due_at (only up to the moment the worker stopped)."""

    def __init__(self, sim: _Simulation, pk: int, row: dict, m: int, place: _Place, region: Region, created: float):
        self.sim, self.pk, self.row, self.place, self.region = sim, pk, row, place, region
        self.m, self.matter = m, sim.w.matters[m]
        self.created = created
        self.st = _State()
        self.out = sim.out
        self.over = False  # an action fell after now: the rest of the life has not happened yet

    # -- the worker --

    def advance(self, until: float) -> None:
        st, limit = self.st, min(until, self.sim.cut)
        while st.nxt is not None and st.nxt <= limit:
            t = st.nxt
            if st.state == State.RESOLVED:
                self._close_unevaluated(t)
                continue
            alert, nxt = st.clocks(t)
            if alert == Alert.RED:
                if st.alert != Alert.RED or st.level < MAX_LEVEL:
                    self._escalate(t)
            elif alert == Alert.YELLOW and st.alert == Alert.GREEN:
                clock, due = st.turned(t, Alert.YELLOW)  # the reminder, kept on the clock row
                st.reminders.append({"at": _iso(math.ceil(t)), "clock": clock, "due": _iso(math.ceil(due))})
            st.alert, st.nxt, st.updated = alert, nxt, t

    def _escalate(self, t: float) -> None:
        st, place = self.st, self.place
        clock, _ = st.turned(t, Alert.RED)
        st.level += 1
        tier = (place.street, place.district, place.city)[min(st.level, MAX_LEVEL)]
        if clock == "respond":
            what = f"超过响应时限（{self.matter.hours} 小时）未联系反映人"
        else:
            what = f"超过办结时限（{self.matter.workdays} 个工作日）未办结"
        reason = f"{what}，自动升级至{tier.name}督办（第 {st.level} 级）"
        self.out.supervisions.append((self.pk, self.out.stamp(t), None, st.level, tier.id, reason, None))

    def _close_unevaluated(self, t: float) -> None:
        st = self.st
        self.transition(t, None, "close", State.CLOSED, "回访期内未评价，自动结案", closed=t, worker=True)
        self.out.evaluations.append((self.pk, self.out.stamp(t), None, Evaluation.Source.TIMEOUT, None, None, "",
                                     _id(st.lead_region), _id(st.lead_department)))

    # -- the people --

    def event(self, t: float, actor, action: str, note: str = "", data: dict | None = None, *,
              before: str | None = None) -> None:
        state, out = self.st.state, self.out
        out.events.append((self.pk, out.stamp(t), actor.id if actor else None, actor.display_name if actor else "系统",
                           action, state if before is None else before, state, note, out.json(data)))

    def transition(self, t: float, actor, action: str, to_state: str | None = None, note: str = "",
                   data: dict | None = None, *, worker: bool = False, **changes) -> bool:
        """services._transition: refresh the clocks, bump the version, log the event. False
        (and nothing done) when T is after now."""
        if t > self.sim.now:
            self.over = True
            return False
        if not worker:
            self.advance(t)
        st = self.st
        before = st.state
        for key, value in changes.items():
            setattr(st, key, value)
        if to_state:
            st.state = to_state
        st.version += 1
        st.alert, st.nxt = st.clocks(t)
        st.updated = t
        self.event(t, actor, action, note, data, before=before)
        return True

    def start_clocks(self, t: float) -> None:
        st, cal = self.st, self.sim.w.calendar
        st.acc = st.acc or t
        st.rdue = t + self.matter.hours * HOUR_S
        st.sdue = cal.add(t, self.matter.workdays)

    def play(self, channel: str) -> None:
        sim, st, w, place = self.sim, self.st, self.sim.w, self.place
        r, between = sim.rng.random, sim._between
        t = self.created
        creator = self.row.pop("_creator")
        street_dp = w.user(f"dp{place.street.code}")
        staff = channel != Channel.APP
        self.event(t, creator, "report", f"通过{Channel(channel).label}反映", before="")
        if staff:
            st.state = State.ACCEPTED
            self.start_clocks(t)
            st.alert, st.nxt = st.clocks(t)
            self.event(t, creator, "accept", "登记即受理", before=State.SUBMITTED)
        st.updated = t

        fate = r()
        if fate < 0.02:  # 无效
            at = between(t + 0.3 * HOUR_S, t + 10 * HOUR_S)
            self.transition(at, street_dp, "reject", State.REJECTED, "重复来电，无实际诉求", closed=at)
            return
        master = sim.last_of.get((self.region.id, self.m)) if fate < 0.05 else None
        if master is not None:
            at = between(t + 0.2 * HOUR_S, t + 6 * HOUR_S)
            if self.transition(at, street_dp, "merge", State.MERGED, f"与 {master[1]} 重复，合并办理",
                               {"into": master[1]}, merged_into=master[0]):
                self.out.events.append((master[0], self.out.stamp(at), _id(street_dp),
                                        street_dp.display_name if street_dp else "系统", "absorb", "", "",
                                        f"合并了重复事件 {self.row['number']}", self.out.json({"merged": self.row["number"]})))
            return

        if channel == Channel.GRID and self.matter.tier == Tier.GRID and r() < 0.7:  # 就地处置
            at = between(t + 300, t + HOUR_S)
            result = RESULTS[int(r() * len(RESULTS))]
            if self.transition(at, creator, "resolve_on_spot", State.RESOLVED, result, lead_region=place.grid,
                               result=result, resolved=at, resp=at, dispatched=at,
                               edue=w.calendar.add(at, sim.evaluation_days)):
                self.evaluate_or_wait(channel)
            return

        lead_region, lead_department, lead_name, assists = w.route(self.region, place, self.m)
        # Urgent matters (response within an hour or two) are dispatched within minutes.
        pace = min(self.matter.hours, 24) * HOUR_S
        at = between(t + 120, t + 0.15 * pace) if staff else between(t + 300, t + 0.4 * pace)
        if not staff and at <= sim.now:
            self.start_clocks(at)
        if not self.transition(at, street_dp, "dispatch", State.DISPATCHED, "",
                               {"lead": lead_name, "assists": [d.name for d in assists]},
                               lead_region=lead_region, lead_department=lead_department, dispatched=at):
            return
        for department in assists:
            self.out.units.append((self.pk, None, department.id, self.out.stamp(at)))
        self.handle(channel, at)

    def member(self):
        """Someone of the lead unit, to sign, answer and resolve."""
        st, w = self.st, self.sim.w
        if st.lead_department is not None:
            return w.user(f"hd{st.lead_department.district.code}{st.lead_department.code}")
        region = st.lead_region
        prefix = {Level.GRID: "gw", Level.COMMUNITY: "cs"}.get(region.level, "dp")
        return w.user(f"{prefix}{region.code}")

    def handle(self, channel: str, dispatched: float) -> None:
        """From dispatch to resolution: maybe a return, signing, contacting the reporter, the result."""
        sim, st, w, place = self.sim, self.st, self.sim.w, self.place
        r, between = sim.rng.random, sim._between
        street_dp = w.user(f"dp{place.street.code}")
        t = dispatched
        if r() < 0.04:  # 退单
            t = between(t + HOUR_S, t + 20 * HOUR_S)
            unit = st.lead_department.name if st.lead_department else st.lead_region.name
            if not self.transition(t, self.member(), "return", State.RETURNED, "不属于本单位职责，请重新派遣", {"unit": unit}):
                return
            t = between(t + 0.5 * HOUR_S, t + 8 * HOUR_S)
            if r() < 0.6:
                if not self.transition(t, street_dp, "arbitrate", None, "退单成立，改派属地街道", {"ruling": "uphold"}):
                    return
                if not self.transition(t, street_dp, "dispatch", State.DISPATCHED, "退单成立，改派",
                                       {"lead": place.street.name, "assists": []}, lead_region=place.street,
                                       lead_department=None, dispatched=t):
                    return
            elif not self.transition(t, street_dp, "arbitrate", State.DISPATCHED, "属于本单位职责，请继续办理",
                                     {"ruling": "refuse", "unit": unit}):
                return
        member = self.member()
        pace = min(self.matter.hours, 24) * HOUR_S
        if r() < 0.75:
            t = between(t + 60, t + 0.3 * pace)
            if not self.transition(t, member, "start", State.IN_PROGRESS, "已签收，开始处置"):
                return
        hours = self.matter.hours * HOUR_S
        late = r() < 0.03
        responded = st.acc + hours * (between(1.05, 3.0) if late else between(0.1, 0.9))
        window = st.sdue - st.acc
        finished = st.acc + window * (between(1.02, 1.8) if r() < 0.05 else between(0.15, 0.95))
        responded = max(responded, t + 60)
        finished = max(finished, responded + 600)
        if not self.transition(responded, member, "respond", None, "已电话联系反映人，说明办理安排", resp=responded):
            return
        result = RESULTS[int(r() * len(RESULTS))]
        if self.transition(finished, member, "resolve", State.RESOLVED, result, result=result, resolved=finished,
                           resp=st.resp or finished, edue=w.calendar.add(finished, sim.evaluation_days)):
            self.evaluate_or_wait(channel)

    def evaluate_or_wait(self, channel: str) -> None:
        """The reporter (or a callback) answers within the window, or the worker closes it at the end."""
        sim, st, w = self.sim, self.st, self.sim.w
        r, between = sim.rng.random, sim._between
        if r() >= 0.62:
            return  # no answer: the worker closes it when the window has passed (advance)
        t = between(st.resolved + 0.05 * (st.edue - st.resolved), st.resolved + 0.95 * (st.edue - st.resolved))
        by_reporter = channel == Channel.APP and self.row["reporter_id"] is not None
        actor = w.user(f"dp{self.place.street.code}") if not by_reporter else next(
            (u for u in w.residents if u.id == self.row["reporter_id"]), None)
        source = Evaluation.Source.REPORTER if by_reporter else Evaluation.Source.CALLBACK
        solved = r() < 0.88
        satisfied = r() < (0.93 if solved else 0.3) or st.reopen_count > 0
        data = {"solved": solved, "satisfied": satisfied, "source": source}
        lead = (_id(st.lead_region), _id(st.lead_department))
        if satisfied:
            if self.transition(t, actor, "evaluate", State.CLOSED, "满意，结案", data, closed=t):
                self.out.evaluations.append((self.pk, self.out.stamp(t), _id(actor), source, solved, satisfied, "", *lead))
            return
        if not self.transition(t, actor, "evaluate", State.IN_PROGRESS, "不满意，退回主办单位重办", data, reopen_count=1,
                               resolved=None, resp=None, edue=None, acc=t, rdue=t + self.matter.hours * HOUR_S,
                               sdue=w.calendar.add(t, self.matter.workdays)):
            return
        self.out.evaluations.append((self.pk, self.out.stamp(t), _id(actor), source, solved, satisfied, "", *lead))
        self.handle_again(channel)

    def handle_again(self, channel: str) -> None:
        sim, st = self.sim, self.st
        between = sim._between
        member = self.member()
        window = st.sdue - st.acc
        finished = st.acc + window * between(0.2, 0.9)
        responded = st.acc + self.matter.hours * HOUR_S * between(0.1, 0.8)
        if not self.transition(responded, member, "respond", None, "再次联系反映人，说明重办安排", resp=responded):
            return
        result = "重办：" + RESULTS[int(sim.rng.random() * len(RESULTS))]
        if self.transition(max(finished, responded + 600), member, "resolve", State.RESOLVED, result, result=result,
                           resolved=max(finished, responded + 600),
                           edue=sim.w.calendar.add(max(finished, responded + 600), sim.evaluation_days)):
            self.evaluate_or_wait(channel)

    def finish(self) -> _State:
        """The worker's steps up to when it stopped, then the row as it stands now (CASE_FIELDS)."""
        self.advance(self.sim.now)
        st, row, s = self.st, self.row, self.out.stamp
        self.out.cases.append((
            self.pk, row["number"], row["tracking_code"], row["channel"], row["title"], row["description"], st.state,
            row["matter_id"], row["matter_code"], row["matter_name"], row["tier"], row["priority"],
            row["response_hours"], row["resolve_workdays"], row["reporter_id"], row["reporter_name"],
            *_sealed_phone(row["reporter_phone"]), row["anonymous"], row["created_by_id"], row["lon"], row["lat"], row["address"],
            row["grid_id"], row["region_id"], row["region_path"], _id(st.lead_region), _id(st.lead_department),
            s(self.created), s(st.acc), s(st.dispatched), s(st.resp), s(st.resolved), s(st.closed), s(st.rdue),
            s(st.sdue), s(st.edue), *map(s, st.thresholds()), st.result, st.reopen_count, st.merged_into,
            st.version, s(st.updated or self.created),
        ))
        self.out.clocks.append((self.pk, s(st.nxt), st.alert, st.level,
                                json.dumps(st.reminders) if st.reminders else "[]"))
        return st


def _evaluation_workdays() -> int:
    from django.conf import settings

    return settings.CASE_EVALUATION_WORKDAYS


def _cumulative(weights) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _sealed_phone(phone: str) -> tuple[str, str]:
    """The reporter's phone as the case row stores it (lib.privacy): the token and its digest."""
    return (privacy.seal(phone), privacy.digest("phone", phone)) if phone else ("", "")


def _id(obj) -> int | None:
    return obj.id if obj is not None else None


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None


# --- writing --------------------------------------------------------------------------------------


CASE_FIELDS = (
    "id", "number", "tracking_code", "channel", "title", "description", "state", "matter", "matter_code",
    "matter_name", "tier", "priority", "response_hours", "resolve_workdays", "reporter", "reporter_name",
    "reporter_phone", "reporter_phone_digest", "anonymous", "created_by", "lon", "lat", "address", "grid", "region", "region_path",
    "lead_region", "lead_department", "created_at", "accepted_at", "dispatched_at", "responded_at", "resolved_at",
    "closed_at", "respond_due_at", "resolve_due_at", "evaluate_due_at", "yellow_at", "red_at", "result", "reopen_count",
    "merged_into", "version", "updated_at",
)
CLOCK_FIELDS = ("case", "next_due_at", "alert", "escalation_level", "reminders")
EVENT_FIELDS = ("case", "at", "actor", "actor_name", "action", "from_state", "to_state", "note", "data")
SUPERVISION_FIELDS = ("case", "opened_at", "opened_by", "level", "to_region", "reason", "closed_at")
EVALUATION_FIELDS = ("case", "at", "by", "source", "solved", "satisfied", "comment", "lead_region", "lead_department")
UNIT_FIELDS = ("case", "region", "department", "assigned_at")


class _Rows:
    """What one batch writes, already as the tuples of each table's columns."""

    def __init__(self, stamp, json_text):
        self.stamp, self.json = stamp, json_text
        self.cases: list[tuple] = []
        self.clocks: list[tuple] = []
        self.events: list[tuple] = []
        self.supervisions: list[tuple] = []
        self.evaluations: list[tuple] = []
        self.units: list[tuple] = []


class _Writer:
    """Rows as tuples, straight to the database: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.events = self.supervisions = self.evaluations = 0
        self.seconds = 0.0
        # Times as text: UTC with an offset for PostgreSQL; naive UTC for SQLite, as Django stores them.
        self.stamp, self.json = _Stamps("+00" if self.postgres else ""), _Json()

    def new_rows(self) -> "_Rows":
        return _Rows(self.stamp, self.json)

    def write(self, rows: "_Rows") -> None:
        started = time.perf_counter()
        for model, fields, batch in (
            (Case, CASE_FIELDS, rows.cases), (CaseClock, CLOCK_FIELDS, rows.clocks), (CaseEvent, EVENT_FIELDS, rows.events),
            (Supervision, SUPERVISION_FIELDS, rows.supervisions), (Evaluation, EVALUATION_FIELDS, rows.evaluations),
            (CaseUnit, UNIT_FIELDS, rows.units),
        ):
            self.insert(model, fields, batch)
        self.events += len(rows.events)
        self.supervisions += len(rows.supervisions)
        self.evaluations += len(rows.evaluations)
        self.seconds += time.perf_counter() - started

    def insert(self, model, fields: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        check_columns(model, fields)
        q = connection.ops.quote_name
        table = q(model._meta.db_table)
        cols = ", ".join(q(model._meta.get_field(f).column) for f in fields)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(fields))})", rows)

    def finish(self) -> None:
        """Cases were given their ids here: move PostgreSQL's sequence past them."""
        if self.postgres:
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [Case]):
                    cursor.execute(sql)


class _Stamps:
    """Seconds since the epoch → 'YYYY-MM-DD HH:MM:SS' in UTC (str(datetime), what Django
    writes), rounded up to the whole second (a due time is never stored early): a dict lookup
    for the day and one for the time of day instead of a datetime per value."""

    def __init__(self, suffix: str):
        self.days: dict[int, str] = {}
        self.clock = [f" {h:02d}:{m:02d}:{s:02d}{suffix}" for h in range(24) for m in range(60) for s in range(60)]

    def __call__(self, t: float | None) -> str | None:
        if t is None:
            return None
        day, second = divmod(math.ceil(t), 86400)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        return date + self.clock[second]


class _Json:
    """JSON text of an event's data; most are empty, the rest repeat (the same lead unit, the
    same answers), so each distinct value is encoded once."""

    def __init__(self):
        self.encode = json.JSONEncoder(ensure_ascii=False).encode
        self.seen: dict[tuple, str] = {}

    def __call__(self, value: dict) -> str:
        if not value:
            return "{}"
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in value.items())
        text = self.seen.get(key)
        if text is None:
            text = self.seen[key] = self.encode(value)
        return text
