"""Demo city: buildings, houses, households, persons, care groups and visits in every grid.

`scale.persons_count` persons (S 3,000; M 50,000; the bench asks for up to a million) are
spread over the grids. Per grid: residential buildings (a point inside the grid), each with
units and rooms (standard addresses and houses), households of one to five people living in
them (some houses vacant or rented), and the people: names from generator.names, ID numbers
that pass the GB 11643 check digit and agree with their birth date and a real county code
(the district for 户籍, other counties for 流动), phones of the demo form 139 0000 xxxx. Older
people living alone become 独居老人, elderly couples 空巢老人, and a few others join the other
groups; the grid worker has visited most of them, some are overdue.

Written as plain rows (no model instances: a million Person objects would cost more than the
INSERTs), with COPY on PostgreSQL and executemany on SQLite, and ids assigned here (the tables
are empty, and everything happens in generate_city's transaction, so foreign keys are checked at
commit); grid by grid in chunks so a million persons never sit in memory at once. PostgreSQL
sequences are reset at the end.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone
from shapely.geometry import Point, shape

from grassroots.accounts.roles import Role
from grassroots.generator import names
from grassroots.generator.city import CityContext, city_step
from grassroots.ledger.db import BULK_CACHE_KIB
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import (
    VISIT_EVERY_DAYS,
    Address,
    Building,
    CareTag,
    CareType,
    House,
    Household,
    HouseUse,
    Occupancy,
    Organisation,
    OrgKind,
    Person,
    Relation,
    ResidenceStatus,
    Visit,
)
from grassroots.ledger.pinyin import initials
from grassroots.lib import privacy
from grassroots.lib.sqlite import bulk_page_cache
from grassroots.territory.levels import Level

GRIDS_PER_CHUNK = 40
ESTATE_WORDS = ("金宝", "阳光", "和平", "翠微", "幸福", "丽景", "华府", "育新", "新华", "春晖", "嘉园", "锦绣", "祥和", "盛世")
ESTATE_KINDS = ("花园", "小区", "家园", "公寓", "里", "苑")
OTHER_COUNTIES = ("130102", "410105", "370102", "320102", "420106", "230103", "610113")  # valid from 1983
BEIJING_COUNTIES = ("110101", "110102", "110105", "110106", "110108")
ETHNICITIES = ("汉族",) * 95 + ("满族", "回族", "蒙古族", "朝鲜族", "壮族")
ROOMS_PER_FLOOR = 2
UNITS = (1, 2, 3)


class _Ids:
    """Next primary key per model (the tables are empty when the city is generated), and the
    ID numbers already given (two people never share one)."""

    def __init__(self):
        self.next = {}
        self.numbers: set[str] = set()

    def id_number(self, county: str, birth: date, order: int) -> str:
        for step in range(0, 1000, 2):  # same sex parity, next free order code
            number = make_id(county, birth, (order + step) % 1000)
            if number not in self.numbers:
                self.numbers.add(number)
                return number
        raise RuntimeError("no free ID number for this county and birth date")

    def __call__(self, model) -> int:
        if model not in self.next:
            self.next[model] = (model.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        value = self.next[model]
        self.next[model] = value + 1
        return value


class _Rows:
    """Plain rows of one model, column by column as FIELDS lists them (every concrete field)."""

    def __init__(self, model, fields: str):
        self.model = model
        self.fields = fields.split()
        concrete = {f.attname for f in model._meta.concrete_fields}
        assert set(self.fields) == concrete, (model, concrete ^ set(self.fields))
        self.rows: list[tuple] = []

    def add(self, **values) -> None:
        self.rows.append(tuple(values[f] for f in self.fields))

    def insert(self) -> int:
        if not self.rows:
            return 0
        meta = self.model._meta
        columns = [meta.get_field(f).column for f in self.fields]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                sql = f"COPY {meta.db_table} ({', '.join(columns)}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                adapt = [connection.ops.adapt_datetimefield_value if meta.get_field(f).get_internal_type() ==
                         "DateTimeField" else None for f in self.fields]
                rows = [tuple(a(v) if a and v is not None else v for a, v in zip(adapt, row, strict=True))
                        for row in self.rows] if any(adapt) else self.rows
                placeholders = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {meta.db_table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
        n = len(self.rows)
        self.rows = []
        return n


def _tables() -> dict:
    return {
        Building: _Rows(Building, "id code name estate number floors lon lat grid_id region_path"),
        Address: _Rows(Address, "id code grid_id region_path building_id estate building_no unit room text"),
        House: _Rows(House, "id address_id building_id grid_id region_path use area_m2 owner_id owner_name occupancy "
                            "updated_at"),
        Person: _Rows(Person, "id name initials sex birth_date ethnicity status id_number id_hash id_tail6 id_tail4 "
                              "phone phone_hash phone_tail4 household_id relation "
                              "house_id moved_in_at moved_out_at updated_at grid_id region_path"),
        Household: _Rows(Household, "id number house_id head_id split_from_id created_at dissolved_at grid_id "
                                    "region_path"),
        CareTag: _Rows(CareTag, "id person_id type reason start_date end_date assigned_by_id assigned_at "
                                "last_visit_at next_visit_due grid_id region_path"),
        Visit: _Rows(Visit, "id person_id household_id care_tag_id visitor_id visitor_name visited_at place findings "
                            "case_id dispute_ref grid_id region_path"),
        Organisation: _Rows(Organisation, "id name kind credit_code address_id address_text contact_name risk_flags "
                                          "grid_id region_path"),
    }


@city_step(order=500, label="人口与房屋")
def residents_step(ctx: CityContext) -> None:
    target = ctx.scale.persons_count
    grids = ctx.regions.get(Level.GRID, [])
    if not target or not grids:
        return
    rng = ctx.rng("ledger")
    today = timezone.localdate()
    now = timezone.now()
    workers = {u.region_id: u for u in ctx.users if u.role == Role.GRID_WORKER and u.region_id}
    ids = _Ids()
    tables = _tables()
    with bulk_page_cache(BULK_CACHE_KIB):
        per_grid = target / len(grids)
        labels = {Building: "楼栋", House: "房屋", Household: "户", Person: "人口", CareTag: "关爱/重点人群",
                  Visit: "走访记录", Organisation: "单位与场所"}
        made = dict.fromkeys(labels.values(), 0)
        carry = 0.0
        for start in range(0, len(grids), GRIDS_PER_CHUNK):
            for grid in grids[start:start + GRIDS_PER_CHUNK]:
                carry += per_grid * rng.uniform(0.8, 1.2)
                n = int(carry)
                carry -= n
                _grid(rng, grid, n, today, now, workers.get(grid.pk), ids, tables)
            for model, table in tables.items():
                count = table.insert()
                if model in labels:
                    made[labels[model]] += count
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), list(tables)):
                    cursor.execute(sql)
        for label, n in made.items():
            ctx.count(label, n)


def _point_in(rng: random.Random, grid) -> tuple[float | None, float | None]:
    if not grid.boundary:
        return grid.center_lon, grid.center_lat
    poly = shape(grid.boundary)
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(12):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if poly.contains(Point(x, y)):
            return round(x, 6), round(y, 6)
    return grid.center_lon, grid.center_lat


def _grid(rng, grid, n: int, today: date, now, worker, ids: _Ids, t: dict) -> None:
    """Buildings, houses, households and N persons for one grid."""
    district = grid.code[:6]
    prefix = _prefix_of(grid)
    estate = rng.choice(ESTATE_WORDS) + rng.choice(ESTATE_KINDS)
    made = 0
    building_no = 0
    path, gid = grid.path, grid.pk
    for _ in range(rng.randint(0, 3) if n else 0):
        kind, word = rng.choice(PLACES)
        flags = [f for f in RISKS if rng.random() < 0.12] if kind == OrgKind.SMALL_PLACE else []
        t[Organisation].add(id=ids(Organisation), name=f"{rng.choice(ESTATE_WORDS)}{word}", kind=kind, credit_code="",
                            address_id=None, address_text=f"{prefix}{estate}底商", contact_name=names.person_name(rng),
                            risk_flags=_json(flags), grid_id=gid, region_path=path)
    while made < n:
        building_no += 1
        floors = rng.randint(5, 18)
        lon, lat = _point_in(rng, grid)
        b = ids(Building)
        t[Building].add(id=b, code=f"{grid.code}/{estate}/{building_no}", name=f"{estate}{building_no}号楼",
                        estate=estate, number=str(building_no), floors=floors, grid_id=gid, region_path=path,
                        lon=lon, lat=lat)
        for unit in UNITS:
            for floor in range(1, floors + 1):
                for r in range(1, ROOMS_PER_FLOOR + 1):
                    if made >= n:
                        return
                    room = f"{floor}{r:02d}"
                    a = ids(Address)
                    t[Address].add(id=a, code=f"{grid.code}{building_no:03d}{unit}{floor:02d}{r:02d}", grid_id=gid,
                                   region_path=path, building_id=b, estate=estate, building_no=str(building_no),
                                   unit=str(unit), room=room, text=f"{prefix}{estate}{building_no}号楼{unit}单元{room}室")
                    roll = rng.random()
                    occupancy = (Occupancy.VACANT if roll < 0.06 else Occupancy.RENTED if roll < 0.24
                                 else Occupancy.GROUP if roll < 0.25 else Occupancy.OWNER)
                    house = {"id": ids(House), "address_id": a, "building_id": b, "grid_id": gid, "region_path": path,
                             "use": HouseUse.RESIDENTIAL, "occupancy": occupancy, "owner_id": None, "owner_name": "",
                             "area_m2": Decimal(rng.randrange(3500, 14000)) / 100, "updated_at": now}
                    if occupancy != Occupancy.VACANT:
                        size = min(n - made, 6 if occupancy == Occupancy.GROUP
                                   else rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5)))
                        made += _household(rng, grid, house, size, today, now, worker, ids, t, district, occupancy)
                    t[House].add(**house)


PLACES = ((OrgKind.SHOP, "便利店"), (OrgKind.SHOP, "理发店"), (OrgKind.SMALL_PLACE, "小餐馆"),
          (OrgKind.SMALL_PLACE, "小旅馆"), (OrgKind.SMALL_PLACE, "网吧"), (OrgKind.UNIT, "物业服务中心"),
          (OrgKind.UNIT, "幼儿园"))
RISKS = ("消防隐患", "燃气", "电动车违规充电", "疏散通道堵塞")


def _json(value):
    """A JSON column value for the raw insert (psycopg needs a Jsonb wrapper; SQLite stores text)."""
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    import json

    return json.dumps(value, ensure_ascii=False)


def _prefix_of(grid) -> str:
    """District + street + community names of a grid (the grid objects carry their parents)."""
    chain = []
    node = grid.parent if hasattr(grid, "parent") else None
    while node is not None and node.level != Level.CITY:
        chain.append(node.name)
        node = node.parent if node.parent_id else None
    return "".join(reversed(chain))


def _birth(rng, low: int, high: int, today: date) -> date:
    age_days = rng.randrange(low * 365, high * 365 + 364)
    return today - timedelta(days=age_days)


def _household(rng, grid, house: dict, size: int, today, now, worker, ids, t, district, occupancy) -> int:
    hh_id = ids(Household)
    rented = occupancy in (Occupancy.RENTED, Occupancy.GROUP)
    elderly = size <= 2 and not rented and rng.random() < 0.45
    members = []
    for i in range(size):
        if rented:
            relation = Relation.HEAD if i == 0 else Relation.TENANT if occupancy == Occupancy.GROUP else Relation.SPOUSE
            birth = _birth(rng, 20, 55, today)
        elif elderly:
            relation = Relation.HEAD if i == 0 else Relation.SPOUSE
            birth = _birth(rng, 65, 95, today)
        elif i == 0:
            relation, birth = Relation.HEAD, _birth(rng, 30, 70, today)
        elif i == 1:
            relation, birth = Relation.SPOUSE, _birth(rng, 28, 70, today)
        elif i == 2 or rng.random() < 0.6:
            relation, birth = Relation.CHILD, _birth(rng, 0, 30, today)
        else:
            relation, birth = Relation.PARENT, _birth(rng, 60, 92, today)
        if rented:
            status = ResidenceStatus.FLOATING
        else:
            roll = rng.random()
            status = (ResidenceStatus.REGISTERED if roll < 0.7 else ResidenceStatus.RESIDENT if roll < 0.92
                      else ResidenceStatus.SEPARATED)
        if status == ResidenceStatus.FLOATING:
            county = rng.choice(OTHER_COUNTIES) if birth.year >= 1983 else rng.choice(BEIJING_COUNTIES[3:])
        elif status == ResidenceStatus.REGISTERED:
            county = district
        else:
            county = rng.choice(BEIJING_COUNTIES)
        sex_male = (i == 0) if relation in (Relation.HEAD, Relation.SPOUSE) and size > 1 else rng.random() < 0.5
        order = rng.randrange(0, 500) * 2 + (1 if sex_male else 0)
        members.append(_person(rng, grid, hh_id, house["id"], relation, status, birth,
                               ids.id_number(county, birth, order), ids, today, now))
    t[Household].add(id=hh_id, number=f"{grid.code}-{hh_id:07d}", house_id=house["id"], head_id=members[0]["id"],
                     split_from_id=None, created_at=now, dissolved_at=None, grid_id=grid.pk, region_path=grid.path)
    if not rented:
        house["owner_id"], house["owner_name"] = members[0]["id"], members[0]["name"]
    for m in members:
        t[Person].add(**m)
    _care(rng, members, size, today, now, worker, ids, t)
    return size


def _person(rng, grid, household_id, house_id, relation, status, birth, number, ids, today, now) -> dict:
    name = names.person_name(rng)
    adult = (today - birth).days >= 16 * 365
    phone = names.phone_number(rng) if adult and rng.random() < 0.9 else ""
    return {
        "id": ids(Person), "name": name, "initials": initials(name), "sex": "M" if int(number[16]) % 2 else "F",
        "birth_date": birth, "ethnicity": rng.choice(ETHNICITIES), "status": status,
        **privacy.columns(Person, {"id_number": number, "phone": phone}),
        "household_id": household_id, "relation": relation, "house_id": house_id,
        "moved_in_at": max(birth, today - timedelta(days=rng.randrange(30, 20 * 365))), "moved_out_at": None,
        "updated_at": now, "grid_id": grid.pk, "region_path": grid.path,
    }


def _care(rng, members, size, today, now, worker, ids, t) -> None:
    """Care groups of a household: who lives alone or as an elderly couple, and a few others."""
    for p in members:
        age = (today - p["birth_date"]).days // 365
        types = []
        if age >= 70 and size == 1:
            types.append(CareType.LIVING_ALONE)
        elif age >= 65 and size == 2 and all((today - m["birth_date"]).days // 365 >= 60 for m in members):
            types.append(CareType.EMPTY_NEST)
        roll = rng.random()
        if roll < 0.015:
            types.append(CareType.DISABLED)
        elif roll < 0.025 and age >= 18:
            types.append(CareType.LOW_INCOME)
        elif roll < 0.028 and age >= 18:
            types.append(CareType.KEY_PERSON)
        elif roll < 0.0285 and age >= 18:
            types.append(CareType.CORRECTION)
        elif roll < 0.04 and age < 16:
            types.append(CareType.LEFT_BEHIND)
        for kind in types:
            every = VISIT_EVERY_DAYS[kind]
            start = today - timedelta(days=rng.randrange(20, 720))
            last = None
            if rng.random() < 0.85:  # visited: mostly on time, some late
                days_ago = rng.randrange(0, int(every * (1.5 if rng.random() < 0.15 else 0.95)) + 1)
                last_day = max(start, today - timedelta(days=days_ago))
                last = timezone.make_aware(datetime.combine(last_day, time(10, rng.randrange(0, 60))))
            due = (timezone.localdate(last) if last else start) + timedelta(days=every)
            tag = ids(CareTag)
            t[CareTag].add(id=tag, person_id=p["id"], type=kind, reason=_reason(kind), start_date=start, end_date=None,
                           assigned_by_id=worker.pk if worker else None, assigned_at=now, last_visit_at=last,
                           next_visit_due=due, grid_id=p["grid_id"], region_path=p["region_path"])
            if last is not None and worker is not None:
                t[Visit].add(id=ids(Visit), person_id=p["id"], household_id=p["household_id"], care_tag_id=tag,
                             visitor_id=worker.pk, visitor_name=worker.display_name, visited_at=last, place="入户走访",
                             findings=rng.choice(_FINDINGS[kind]), case_id=None, dispute_ref="",
                             grid_id=p["grid_id"], region_path=p["region_path"])


def _reason(t: str) -> str:
    return {
        CareType.LIVING_ALONE: "年满 70 周岁，独自居住",
        CareType.EMPTY_NEST: "老年夫妇同住，子女不在身边",
        CareType.DISABLED: "持有残疾人证",
        CareType.LOW_INCOME: "享受城市最低生活保障",
        CareType.LEFT_BEHIND: "父母均在外地务工",
        CareType.KEY_PERSON: "按规定列为重点关注",
        CareType.CORRECTION: "社区矫正期间",
    }[t]


_FINDINGS = {
    CareType.LIVING_ALONE: ("身体状况良好，生活能自理", "血压偏高，已提醒按时服药", "家中燃气灶使用正常，已检查", "需要帮助购买生活用品"),
    CareType.EMPTY_NEST: ("老两口身体尚可", "子女每周视频联系", "反映楼道照明不足"),
    CareType.DISABLED: ("辅助器具使用正常", "了解康复补贴申领情况"),
    CareType.LOW_INCOME: ("家庭收入无变化", "已告知低保年审时间"),
    CareType.LEFT_BEHIND: ("学习生活正常，由祖辈照料", "已联系学校了解情况"),
    CareType.KEY_PERSON: ("情绪稳定，无异常", "已开展谈心谈话"),
    CareType.CORRECTION: ("按时报到，表现良好",),
}
