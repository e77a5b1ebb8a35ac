"""Reads of the ledgers: scoped lists, the record pages, search, counts and overdue visits.

Scope is always accounts.permissions.regions_q on `region_path`: a record outside the
caller's scope is never listed, counted or exported, and asking for it by URL is a 404
(audited). Every role sees ID numbers and phones masked (lib.privacy: a sealed column reads as
its mask) and the age, never the birth date, beside a masked ID number; full values come one
person at a time through services.full_record, audited.
"""

import re
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.permissions import audit_denial, regions_q, require
from grassroots.accounts.roles import Action
from grassroots.ledger.models import (
    Address,
    Building,
    CareTag,
    CareType,
    House,
    Household,
    Organisation,
    Person,
    ResidenceStatus,
    Visit,
)
from grassroots.lib import privacy
from grassroots.territory.levels import Level
from grassroots.territory.models import Region

SEARCH_LIMIT = 20
AGE_BANDS = [(0, 17, "0–17 岁"), (18, 34, "18–34 岁"), (35, 59, "35–59 岁"), (60, 79, "60–79 岁"), (80, 200, "80 岁及以上")]
HIGHEST = "\U0010ffff"  # sorts after every character (UTF-8 byte order, as the name column compares)


# --- scope and masking ------------------------------------------------------------------------


def scope_q(user: User) -> Q:
    return regions_q(user, "region_path")


def persons(user: User) -> QuerySet[Person]:
    require(user, Action.VIEW_LEDGER)
    return Person.objects.filter(scope_q(user))


def _get_or_404(user: User, qs: QuerySet, lookup: dict, what: str, request=None):
    require(user, Action.VIEW_LEDGER, request)
    obj = qs.filter(**lookup).filter(scope_q(user)).first()
    if obj is None:
        if qs.model.objects.filter(**lookup).exists():
            audit_denial(user, request, f"ledger {qs.model.__name__.lower()} {lookup} outside scope")
        raise Http404(f"{what}不存在")
    return obj


def get_person(user: User, pk: int, request=None) -> Person:
    qs = Person.objects.select_related("grid", "household", "house__address", "house__building")
    return _get_or_404(user, qs, {"pk": pk}, "人员", request)


def get_household(user: User, number: str, request=None) -> Household:
    qs = Household.objects.select_related("grid", "house__address", "head", "split_from")
    return _get_or_404(user, qs, {"number": number}, "户", request)


def get_house(user: User, pk: int, request=None) -> House:
    qs = House.objects.select_related("grid", "address", "building", "owner")
    return _get_or_404(user, qs, {"pk": pk}, "房屋", request)


def get_building(user: User, code: str, request=None) -> Building:
    return _get_or_404(user, Building.objects.select_related("grid"), {"code": code}, "楼栋", request)


# --- search ---------------------------------------------------------------------------------------

ID_FULL = re.compile(r"^\d{17}[\dX]$")
PHONE = re.compile(r"^1[3-9]\d{9}$")
TAIL6 = re.compile(r"^\d{5}[\dX]$")
TAIL4 = re.compile(r"^\d{3}[\dX]$")
LETTERS = re.compile(r"^[a-z]{1,20}$")
CJK = re.compile(r"^[\u3400-\u9fff·]{1,20}$")

KIND_LABELS = {
    "id": "身份证号", "phone": "手机号", "id6": "身份证号后 6 位", "tail4": "身份证号/手机号后 4 位",
    "initials": "拼音首字母", "name": "姓名", "address": "地址",
}


def search_kind(text: str) -> str:
    s = "".join(text.split()).upper()
    if ID_FULL.match(s):
        return "id"
    if PHONE.match(s):
        return "phone"
    if TAIL6.match(s):
        return "id6"
    if TAIL4.match(s):
        return "tail4"
    if LETTERS.match(s.lower()):
        return "initials"
    if CJK.match(s):
        return "name"
    return "address"


@dataclass
class SearchResult:
    kind: str
    persons: list[Person]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


def search(user: User, text: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
    """One box: full ID number or its last 6/4, phone or its last 4, name (characters or pinyin
    initials), or an address fragment. Each kind is one index range (see models.Person.Meta)
    intersected with the caller's scope; results ranked exact-first, then by name."""
    require(user, Action.VIEW_LEDGER)
    raw = "".join((text or "").split())
    kind = search_kind(raw)
    s = raw.upper()
    base = Person.objects.filter(scope_q(user)).select_related("grid", "household", "house__address")
    if kind == "id":
        qs = base.filter(id_hash__in=privacy.digests("id", s))
    elif kind == "phone":
        qs = base.filter(phone_hash__in=privacy.digests("phone", s))
    elif kind == "id6":
        qs = base.filter(id_tail6__in=privacy.digests("id6", s)).order_by("name")
    elif kind == "tail4":
        q = Q(id_tail4__in=privacy.digests("id4", s))
        if s.isdigit():
            q |= Q(phone_tail4__in=privacy.digests("phone4", s))
        qs = base.filter(q).order_by("name")
    elif kind == "initials":
        s = s.lower()
        qs = base.filter(initials__gte=s, initials__lt=s + HIGHEST).order_by("initials", "region_path")
    elif kind == "name":
        found = list(base.filter(name__gte=s, name__lt=s + HIGHEST).order_by("name", "region_path")[:limit])
        if len(found) < limit and len(s) >= 3:  # a trigram index needs three characters
            seen = {p.pk for p in found}
            found += [p for p in _by_address(user, base, s, limit - len(found)) if p.pk not in seen]
        return SearchResult(kind, found)
    else:
        return SearchResult(kind, _by_address(user, base, raw, limit))
    return SearchResult(kind, list(qs[:limit]))


def _by_address(user: User, base: QuerySet, fragment: str, limit: int) -> list[Person]:
    ids = address_ids(user, fragment, limit=limit * 3)
    if not ids:
        return []
    houses = list(House.objects.filter(address_id__in=ids).values_list("id", flat=True))
    return list(base.filter(house_id__in=houses).order_by("house_id", "name")[:limit])


def address_ids(user: User, fragment: str, *, limit: int = 60) -> list[int]:
    """Addresses whose text contains FRAGMENT, inside the caller's scope.

    A small scope (a community or a grid: a few thousand addresses) is read through its
    region_path range and filtered. (For a street the trigram path measured faster: bench/README.md.) A larger one needs the trigram index:
    PostgreSQL: a GIN index on (region_path, text) — btree_gin and pg_trgm — answers the path
    range and LIKE '%…%' together;
    SQLite: the FTS5 trigram table ledger_address_fts (kept by triggers), read in rowid order
    and joined to the address for the scope, so LIMIT stops the scan early.
    Fragments under three characters cannot use a trigram index and are read like a small scope."""
    from grassroots.accounts.permissions import scope_root, sees_everything

    fragment = fragment.strip()[:60]
    if not fragment:
        return []
    scoped = Address.objects.filter(scope_q(user))
    root = None if sees_everything(user) else scope_root(user)
    small = root is not None and root.level in (Level.COMMUNITY, Level.GRID)
    if small or len(fragment) < 3 or connection.vendor not in ("sqlite", "postgresql"):
        return list(scoped.filter(text__contains=fragment).order_by().values_list("id", flat=True)[:limit])
    if connection.vendor == "postgresql":
        # One GIN index over (region_path, text) answers the scope range and the trigram match
        # together (migration 0002, btree_gin + pg_trgm). Plain SQL, so the statement is exactly
        # the indexed columns (the ORM adds a ::text cast to LIKE).
        like = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql, params = "SELECT id FROM ledger_address WHERE text LIKE %s", [like]
        if root is not None:
            sql += " AND region_path >= %s AND region_path < %s"
            params += [root.path, root.path[:-1] + "0"]
        with connection.cursor() as cursor:
            cursor.execute(sql + " LIMIT %s", [*params, limit])
            return [row[0] for row in cursor.fetchall()]
    phrase = '"' + fragment.replace('"', '""') + '"'
    sql = ("SELECT a.id FROM ledger_address_fts f JOIN ledger_address a ON a.id = f.rowid "
           "WHERE ledger_address_fts MATCH %s")
    params: list = [phrase]
    if root is not None:
        sql += " AND a.region_path >= %s AND a.region_path < %s"
        params += [root.path, root.path[:-1] + "0"]
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT %s", [*params, limit])
        return [row[0] for row in cursor.fetchall()]


# --- the grid page ---------------------------------------------------------------------------


def grid_page(user: User, grid: Region, *, today: date | None = None, person_limit: int = 200) -> dict:
    """Everything the grid page shows, in a fixed number of queries whatever the grid's size:
    buildings (with house counts), households (with member counts), the first people,
    care groups by type, overdue visits, and the population counts."""
    require(user, Action.VIEW_LEDGER)
    today = today or timezone.localdate()
    buildings = list(Building.objects.filter(grid=grid).annotate(house_count=Count("houses")).order_by("code"))
    live_households = Household.objects.filter(grid=grid, dissolved_at__isnull=True)
    households = list(
        live_households.select_related("house__address", "head")
        .annotate(member_count=Count("members"))
        .order_by("number")[:person_limit]
    )
    people = list(
        Person.objects.filter(grid=grid, moved_out_at__isnull=True)
        .select_related("household").order_by("name")[:person_limit]
    )
    care = care_counts(Q(grid=grid))
    overdue = CareTag.objects.filter(grid=grid, next_visit_due__lt=today)
    overdue_tags = list(overdue.select_related("person").order_by("next_visit_due")[:100])
    organisations = list(Organisation.objects.filter(grid=grid).order_by("kind", "name")[:200])
    return {
        "buildings": buildings,
        "organisations": organisations,
        "households": households,
        "people": people,
        "care": care,
        "overdue": overdue_tags,
        # The lists above stop at their first rows; the totals are counted (two queries, always).
        "household_count": live_households.count(),
        "overdue_count": overdue.count(),
        "counts": population_counts(Q(grid=grid), today=today),
    }


# --- counts -----------------------------------------------------------------------------------


def region_q(region: Region) -> Q:
    if region.level == Level.GRID:
        return Q(grid=region)
    from grassroots.territory.queries import path_prefix_q

    return path_prefix_q("region_path", region.path)


def population_counts(where: Q, *, today: date | None = None) -> dict:
    """Population of a territory by residence status and by age band (two grouped queries)."""
    today = today or timezone.localdate()
    live = Person.objects.filter(where, moved_out_at__isnull=True)
    by_status = dict(live.values_list("status").annotate(n=Count("id")).order_by())
    aggregates = {}
    for i, (lo, hi, _label) in enumerate(AGE_BANDS):
        youngest = _years_before(today, lo)
        oldest = _years_before(today, hi + 1)
        aggregates[f"band{i}"] = Count("id", filter=Q(birth_date__lte=youngest, birth_date__gt=oldest))
    got = live.aggregate(total=Count("id"), **aggregates)
    bands = [{"label": label, "count": got[f"band{i}"]} for i, (_lo, _hi, label) in enumerate(AGE_BANDS)]
    return {
        "total": got["total"],
        "by_status": [{"code": c, "label": lbl, "count": by_status.get(c, 0)} for c, lbl in ResidenceStatus.choices],
        "age_bands": bands,
    }


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def care_counts(where: Q) -> list[dict]:
    rows = dict(CareTag.objects.filter(where, next_visit_due__isnull=False).values_list("type")
                .annotate(n=Count("id")).order_by())
    return [{"code": c, "label": lbl, "count": rows.get(c, 0)} for c, lbl in CareType.choices]


def region_counts(user: User, region: Region, *, today: date | None = None) -> dict:
    """Counts for a grid, community or street page (the region must already be in scope)."""
    require(user, Action.VIEW_LEDGER)
    where = region_q(region)
    return {
        "population": population_counts(where, today=today),
        "care": care_counts(where),
        "households": Household.objects.filter(where, dissolved_at__isnull=True).count(),
        "houses": House.objects.filter(where).count(),
        "buildings": Building.objects.filter(where).count(),
        "overdue": CareTag.objects.filter(where, next_visit_due__lt=today or timezone.localdate()).count(),
    }


def children_counts(user: User, region: Region, *, today: date | None = None) -> list[tuple[Region, dict]]:
    """The counts of region_counts for every child of REGION, in a fixed number of grouped
    queries (by grid, then summed up to the child the grid lies in)."""
    require(user, Action.VIEW_LEDGER)
    today = today or timezone.localdate()
    children = list(Region.objects.filter(parent=region).order_by("code"))
    if not children:
        return []
    depth = children[0].depth
    where = region_q(region)
    child_of = {}  # grid id → child code
    grids = Region.objects.filter(level=Level.GRID, path__gte=region.path, path__lt=region.path[:-1] + "0")
    for pk, path in grids.values_list("id", "path"):
        child_of[pk] = path.strip("/").split("/")[depth]
    blank = {"population": 0, "status": dict.fromkeys(ResidenceStatus.values, 0), "old": 0,
             "care": dict.fromkeys(CareType.values, 0), "households": 0, "houses": 0, "buildings": 0, "overdue": 0}
    acc = {c.code: {k: (dict(v) if isinstance(v, dict) else v) for k, v in blank.items()} for c in children}

    def add(grid_id, key, n, sub=None):
        code = child_of.get(grid_id)
        if code in acc:
            if sub is None:
                acc[code][key] += n
            else:
                acc[code][key][sub] += n

    sixty = _years_before(today, 60)
    live = Person.objects.filter(where, moved_out_at__isnull=True)
    for grid_id, status, n, old in (live.values_list("grid", "status").order_by()
                                    .annotate(n=Count("id"), old=Count("id", filter=Q(birth_date__lte=sixty)))):
        add(grid_id, "population", n)
        add(grid_id, "status", n, status)
        add(grid_id, "old", old)
    for grid_id, kind, n in (CareTag.objects.filter(where, next_visit_due__isnull=False)
                             .values_list("grid", "type").order_by().annotate(n=Count("id"))):
        add(grid_id, "care", n, kind)
    for model, key, extra in ((Household, "households", Q(dissolved_at__isnull=True)), (House, "houses", Q()),
                              (Building, "buildings", Q()),
                              (CareTag, "overdue", Q(next_visit_due__lt=today))):
        for grid_id, n in model.objects.filter(where).filter(extra).values_list("grid").order_by().annotate(n=Count("id")):
            add(grid_id, key, n)
    out = []
    for c in children:
        a = acc[c.code]
        out.append((c, {
            "population": a["population"], "old": a["old"],
            "by_status": [{"code": k, "label": lbl, "count": a["status"][k]} for k, lbl in ResidenceStatus.choices],
            "care": [{"code": k, "label": lbl, "count": a["care"][k]} for k, lbl in CareType.choices],
            "households": a["households"], "houses": a["houses"], "buildings": a["buildings"], "overdue": a["overdue"],
        }))
    return out


# --- overdue visits ---------------------------------------------------------------------------


def overdue(user: User, *, today: date | None = None) -> QuerySet[CareTag]:
    """Care tags in the caller's scope whose next visit is past due (next_visit_due < today)."""
    today = today or timezone.localdate()
    return (CareTag.objects.filter(scope_q(user), next_visit_due__lt=today)
            .select_related("person", "grid").order_by("next_visit_due", "id"))


def overdue_by_community(user: User, *, today: date | None = None) -> list[dict]:
    """Overdue visits rolled up per community of the caller's scope (grouped by grid, then summed)."""
    today = today or timezone.localdate()
    per_grid = dict(CareTag.objects.filter(scope_q(user), next_visit_due__lt=today)
                    .values_list("grid").annotate(n=Count("id")).order_by())
    if not per_grid:
        return []
    grids = Region.objects.filter(pk__in=per_grid).select_related("parent")
    rows: dict[int, dict] = {}
    for g in grids:
        c = g.parent
        row = rows.setdefault(c.pk, {"code": c.code, "name": c.name, "count": 0, "grids": 0})
        row["count"] += per_grid[g.pk]
        row["grids"] += 1
    return sorted(rows.values(), key=lambda r: (-r["count"], r["code"]))


def visits_of(person: Person, limit: int = 50) -> list[Visit]:
    return list(Visit.objects.filter(person=person).select_related("case").order_by("-visited_at", "-id")[:limit])


def full_views(user: User) -> QuerySet[AuditEvent]:
    """The access log (查看完整信息记录) of the ledger's persons in the admin's scope."""
    require(user, Action.VIEW_AUDIT)
    return (AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA, subject="ledger.person")
            .filter(scope_q(user)).order_by("-at", "-id"))


def person_list(user: User, *, region: Region | None = None, status: str = "", care: str = "",
                name: str = "") -> QuerySet[Person]:
    """The persons of a filtered list or export, inside the caller's scope (and REGION, already checked)."""
    qs = persons(user).filter(moved_out_at__isnull=True)
    if region is not None:
        qs = qs.filter(region_q(region))
    if status:
        qs = qs.filter(status=status)
    if care:
        qs = qs.filter(pk__in=CareTag.objects.filter(type=care, next_visit_due__isnull=False).values("person_id"))
    if name:
        qs = qs.filter(name__gte=name, name__lt=name + HIGHEST)
    return qs.order_by("region_path", "name", "id")


def organisations(user: User, *, region: Region | None = None, kind: str = "", risky: bool = False):
    """实有单位 and places of the caller's scope (and REGION), optionally only those with risk flags."""
    qs = Organisation.objects.filter(scope_q(user)).select_related("grid")
    require(user, Action.VIEW_LEDGER)
    if region is not None:
        qs = qs.filter(region_q(region))
    if kind:
        qs = qs.filter(kind=kind)
    if risky:
        qs = qs.exclude(risk_flags=[])
    return qs.order_by("region_path", "name", "id")
