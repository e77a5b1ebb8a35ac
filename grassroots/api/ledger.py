"""Ledger endpoints (一标三实): search, persons, households, houses, buildings, territory counts,
overdue visits, the audited full view, visits and care groups, the access log, a resident's own record.

Thin: ledger.queries reads and scopes, ledger.services writes. Scoped and masked exactly like
the pages: out of scope is 404 (audited); ID numbers and phones are always masked, with the age
(never the birth date) beside them; the full values come from POST …/full with a reason, audited.
Refusals of the services: 400 (with `field`), 403.
"""

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from grassroots.accounts.permissions import audit_denial, get_region_or_404, require
from grassroots.accounts.roles import Action
from grassroots.api.once import IdempotencyKeyHeader, once
from grassroots.api.params import Day, Moment, PageIn, RecordId, id_path, page_of
from grassroots.api.schemas import ERRORS, ErrorOut
from grassroots.ledger import queries, services
from grassroots.ledger.models import CareType, OrgKind, Person, ResidenceStatus
from grassroots.territory.levels import Level

router = Router(tags=["台账"])

class LedgerErrorOut(ErrorOut):
    """A refusal of the ledger services: ErrorOut, with `field` (id_number, reason…) when one is at fault."""


LEDGER_ERRORS = {**ERRORS, 400: LedgerErrorOut, 403: LedgerErrorOut}


# --- schemas ------------------------------------------------------------------------------------


class PersonOut(Schema):
    id: int
    name: str = Field(description="姓名")
    sex: str = Field(description="性别：M 男，F 女")
    age: int = Field(description="年龄（周岁）。出生日期只随完整身份证号返回：与脱敏号码并列会还原出完整号码")
    id_number: str = Field(description="公民身份号码（脱敏，如 110101********1234）")
    phone: str = Field(description="联系电话（脱敏，如 138****1234；完整号码经 POST …/full 说明事由后查看）")
    ethnicity: str
    status: str = Field(description="居住类型：registered 户籍 / resident 常住 / floating 流动 / separated 人户分离")
    status_label: str
    household: str | None = Field(description="户号")
    relation: str = Field(description="与户主关系")
    address: str | None = Field(description="住址（标准地址）")
    grid_code: str
    grid_name: str
    moved_out_at: date | None


class CareTagOut(Schema):
    id: int
    type: str
    type_label: str
    reason: str
    start_date: date
    end_date: date | None
    visit_every_days: int
    last_visit_at: datetime | None
    next_visit_due: date | None = Field(description="下次走访截止日期；早于今天即为逾期；已结束为 null")


class VisitOut(Schema):
    id: int
    visited_at: datetime
    visitor_name: str
    place: str
    findings: str
    case_number: str | None = Field(description="由本次走访登记的事件编号")
    dispute_ref: str


class HistoryOut(Schema):
    at: datetime
    actor_name: str
    action: str
    note: str
    data: dict


class PersonDetailOut(PersonOut):
    care_tags: list[CareTagOut]
    visits: list[VisitOut]
    history: list[HistoryOut]


class SearchOut(Schema):
    kind: str = Field(description="识别出的查找方式：id/phone/id6/tail4/initials/name/address")
    kind_label: str
    items: list[PersonOut]


class PersonPageOut(Schema):
    items: list[PersonOut]
    count: int


class FullIn(Schema):
    reason: str = Field(..., min_length=4, max_length=300, description="查看完整信息的事由（将被记录）")


class FullOut(Schema):
    id_number: str | None = Field(None, description="完整公民身份号码（仅社区工作人员等有权角色）")
    birth_date: date | None = Field(None, description="出生日期（随完整身份证号返回）")
    phone: str = Field(description="完整联系电话")


class VisitIn(Schema):
    findings: str = Field(..., min_length=1, max_length=2000, description="走访情况")
    visited_at: Moment | None = Field(None, description="走访时间，默认现在")
    place: str = Field("", max_length=200)
    open_case: bool = Field(False, description="同时登记一件事件（渠道：走访）")
    case_description: str = Field("", max_length=2000)
    open_dispute: bool = Field(False, description="同时登记矛盾纠纷（矛盾纠纷模块启用后可用）")
    dispute_party: str = Field("", max_length=100, description="纠纷另一方的姓名/名称（登记矛盾纠纷时必填）")
    dispute_kind: str = Field("neighbour", max_length=20, description="纠纷类型代码，默认 neighbour 邻里纠纷")


class CareIn(Schema):
    type: CareType
    reason: str = Field(..., min_length=1, max_length=300)
    start_date: Day | None = None
    end_date: Day | None = None


class CountOut(Schema):
    code: str
    label: str
    count: int


class AgeBandOut(Schema):
    label: str
    count: int


class RegionCountsOut(Schema):
    code: str
    name: str
    level: str
    population: int
    by_status: list[CountOut]
    age_bands: list[AgeBandOut]
    care: list[CountOut]
    households: int
    houses: int
    buildings: int
    overdue: int


class BuildingOut(Schema):
    code: str
    name: str
    lon: float | None
    lat: float | None
    house_count: int | None = None


class HouseholdRefOut(Schema):
    number: str
    head: str | None
    member_count: int | None = None
    address: str | None


class GridOut(Schema):
    counts: RegionCountsOut
    buildings: list[BuildingOut]
    households: list[HouseholdRefOut]
    overdue: list[CareTagOut]


class HouseholdOut(Schema):
    number: str
    address: str | None
    house_id: int | None
    head: str | None
    split_from: str | None
    members: list[PersonOut]
    history: list[HistoryOut]


class HouseOut(Schema):
    id: int
    address_code: str
    address: str
    building_code: str | None
    use: str
    area_m2: float | None = Field(description="专有部分面积（平方米）")
    owner: str
    occupancy: str
    households: list[str]
    history: list[HistoryOut]


class OverdueOut(Schema):
    person_id: int
    person_name: str
    grid_code: str
    type: str
    type_label: str
    next_visit_due: date


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str = Field(description="unit 单位 / shop 商铺 / small_place 三小场所")
    kind_label: str
    address: str
    contact_name: str
    risk_flags: list[str] = Field(description="风险标识，如 消防隐患、燃气")
    grid_code: str


class AccessOut(Schema):
    at: datetime
    username: str
    person_id: int
    person_name: str
    fields: list[str] = Field(description="查看的字段：id_number、phone")
    reason: str
    channel: str = Field(description="途径：page 页面 / api 接口 / export 导出")
    ip: str | None


# --- helpers -----------------------------------------------------------------------------------


def _refusal(request, exc: services.LedgerError) -> Status:
    if isinstance(exc, services.NotAllowed):
        audit_denial(request.user, request, f"ledger refused: {exc.message}")
    return Status(exc.status, {"detail": exc.message, "field": exc.field})


def _person(user, p: Person) -> dict:
    return {
        "id": p.pk, "name": p.name, "sex": p.sex, "age": p.age, "id_number": p.id_number,
        "phone": p.phone, "ethnicity": p.ethnicity, "status": p.status,
        "status_label": p.get_status_display(), "household": p.household.number if p.household_id else None,
        "relation": p.relation, "address": p.house.address.text if p.house_id else None,
        "grid_code": p.grid.code, "grid_name": p.grid.name, "moved_out_at": p.moved_out_at,
    }


def _tag(t) -> dict:
    return {"id": t.pk, "type": t.type, "type_label": t.get_type_display(), "reason": t.reason,
            "start_date": t.start_date, "end_date": t.end_date, "visit_every_days": t.visit_every_days,
            "last_visit_at": t.last_visit_at, "next_visit_due": t.next_visit_due}


def _visit(v) -> dict:
    return {"id": v.pk, "visited_at": v.visited_at, "visitor_name": v.visitor_name, "place": v.place,
            "findings": v.findings, "case_number": v.case.number if v.case_id else None, "dispute_ref": v.dispute_ref}


def _history(events) -> list[dict]:
    return [{"at": e.at, "actor_name": e.actor_name, "action": e.action, "note": e.note, "data": e.data}
            for e in events]


def _counts(region, stats: dict) -> dict:
    return {"code": region.code, "name": region.name, "level": region.level,
            "population": stats["population"]["total"], "by_status": stats["population"]["by_status"],
            "age_bands": stats["population"]["age_bands"], "care": stats["care"], "households": stats["households"],
            "houses": stats["houses"], "buildings": stats["buildings"], "overdue": stats["overdue"]}


# --- endpoints ---------------------------------------------------------------------------------


@router.get("/ledger/search", response={200: SearchOut, **ERRORS}, summary="查找人员（一个搜索框）")
def search(request: HttpRequest, q: str = Query(..., min_length=1, max_length=60, description="搜索内容")):
    """按姓名（汉字或拼音首字母）、完整身份证号或后 6 位、手机号或后 4 位、地址片段查找，只在调用者辖区内，
    最多 20 人，精确匹配在前。"""
    result = queries.search(request.user, q)
    return {"kind": result.kind, "kind_label": result.kind_label,
            "items": [_person(request.user, p) for p in result.persons]}


class PersonFilter(Schema):
    region: str = Field("", max_length=20, description="辖区或网格代码（须在调用者辖区内）")
    status: ResidenceStatus | None = None
    care: CareType | None = None
    name: str = Field("", max_length=50, description="姓名前缀")


@router.get("/ledger/persons", response={200: PersonPageOut, **ERRORS}, summary="人口列表")
def list_persons(request: HttpRequest, filters: Query[PersonFilter], page: Query[PageIn]):
    region = get_region_or_404(request.user, filters.region, request) if filters.region else None
    qs = queries.person_list(request.user, region=region, status=filters.status or "", care=filters.care or "",
                             name=filters.name).select_related("grid", "household", "house__address")
    items = list(page_of(qs, page))
    return {"items": [_person(request.user, p) for p in items], "count": qs.count()}


@router.get("/ledger/persons/{pk}", response={200: PersonDetailOut, **ERRORS}, summary="人员详情")
def person_detail(request: HttpRequest, pk: int = id_path("人员编号")):
    p = queries.get_person(request.user, pk, request)
    out = _person(request.user, p)
    out["care_tags"] = [_tag(t) for t in p.care_tags.all()]
    out["visits"] = [_visit(v) for v in queries.visits_of(p)]
    out["history"] = _history(services.history("person", p.pk))
    return out


@router.post("/ledger/persons/{pk}/full", response={200: FullOut, **LEDGER_ERRORS}, summary="查看完整个人信息")
def person_full(request: HttpRequest, payload: FullIn, pk: int = id_path("人员编号")):
    """返回完整的公民身份号码（及出生日期）和电话；网格员只返回完整电话（走访联系）。须说明事由；每次查看都
    记录（查看人、对象、字段、时间、事由、途径），管理员可查阅，本人也可在“我的信息”中看到。无此权限的角色返回 403。"""
    if not services.full_fields(request.user):
        require(request.user, Action.VIEW_FULL_PERSON, request)  # refused and audited
    p = queries.get_person(request.user, pk, request)
    try:
        return services.full_record(request.user, p, payload.reason, request=request, channel="api")
    except services.LedgerError as exc:
        return _refusal(request, exc)


@router.post("/ledger/persons/{pk}/visits", response={201: VisitOut, **LEDGER_ERRORS}, summary="登记走访")
@once("ledger.visit", VisitOut)
def record_visit(request: HttpRequest, payload: VisitIn, pk: int = id_path("人员编号"),
                 idempotency_key: IdempotencyKeyHeader = None):
    require(request.user, Action.RECORD_VISIT, request)
    p = queries.get_person(request.user, pk, request)
    try:
        v = services.record_visit(request.user, p, services.VisitData(
            findings=payload.findings, visited_at=payload.visited_at, place=payload.place,
            open_case=payload.open_case, case_description=payload.case_description,
            open_dispute=payload.open_dispute, dispute_party=payload.dispute_party,
            dispute_kind=payload.dispute_kind))
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return Status(201, _visit(v))


@router.post("/ledger/persons/{pk}/care", response={201: CareTagOut, **LEDGER_ERRORS}, summary="认定关爱/重点人群")
@once("ledger.care", CareTagOut)
def assign_care(request: HttpRequest, payload: CareIn, pk: int = id_path("人员编号"),
                idempotency_key: IdempotencyKeyHeader = None):
    require(request.user, Action.ASSIGN_CARE, request)
    p = queries.get_person(request.user, pk, request)
    try:
        tag = services.assign_care(request.user, p, payload.type, payload.reason, start=payload.start_date,
                                   end=payload.end_date)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return Status(201, _tag(tag))


@router.get("/ledger/households/{number}", response={200: HouseholdOut, **ERRORS}, summary="户详情")
def household_detail(request: HttpRequest, number: str):
    h = queries.get_household(request.user, number, request)
    members = h.members.select_related("grid", "house__address").order_by("relation", "birth_date")
    return {"number": h.number, "address": h.house.address.text if h.house_id else None, "house_id": h.house_id,
            "head": h.head.name if h.head_id else None, "split_from": h.split_from.number if h.split_from_id else None,
            "members": [_person(request.user, m) for m in members],
            "history": _history(services.history("household", h.pk))}


@router.get("/ledger/houses/{pk}", response={200: HouseOut, **ERRORS}, summary="房屋详情")
def house_detail(request: HttpRequest, pk: int = id_path("房屋编号")):
    h = queries.get_house(request.user, pk, request)
    return {"id": h.pk, "address_code": h.address.code, "address": h.address.text,
            "building_code": h.building.code if h.building_id else None, "use": h.use,
            "area_m2": float(h.area_m2) if h.area_m2 is not None else None, "owner": h.owner_name,
            "occupancy": h.occupancy, "households": [x.number for x in h.households.all()],
            "history": _history(services.history("house", h.pk))}


@router.get("/ledger/buildings/{code}", response={200: BuildingOut, **ERRORS}, summary="楼栋详情")
def building_detail(request: HttpRequest, code: str):
    b = queries.get_building(request.user, code, request)
    return {"code": b.code, "name": b.name, "lon": b.lon, "lat": b.lat, "house_count": b.houses.count()}


@router.get("/ledger/regions/{code}", response={200: RegionCountsOut, **ERRORS}, summary="辖区人口统计")
def region_counts(request: HttpRequest, code: str):
    """网格、社区、街道等的人口（按居住类型、年龄段）、户、房屋、楼栋、关爱/重点人群和逾期未走访数。"""
    require(request.user, Action.VIEW_LEDGER, request)
    region = get_region_or_404(request.user, code, request)
    return _counts(region, queries.region_counts(request.user, region))


@router.get("/ledger/grids/{code}", response={200: GridOut, **ERRORS}, summary="网格台账")
def grid_ledger(request: HttpRequest, code: str):
    require(request.user, Action.VIEW_LEDGER, request)
    grid = get_region_or_404(request.user, code, request)
    if grid.level != Level.GRID:
        return Status(404, {"detail": "网格不存在"})
    data = queries.grid_page(request.user, grid)
    stats = {"population": data["counts"], "care": data["care"], "households": data["household_count"],
             "houses": sum(b.house_count for b in data["buildings"]), "buildings": len(data["buildings"]),
             "overdue": data["overdue_count"]}
    return {"counts": _counts(grid, stats),
            "buildings": [{"code": b.code, "name": b.name, "lon": b.lon, "lat": b.lat, "house_count": b.house_count}
                          for b in data["buildings"]],
            "households": [{"number": h.number, "head": h.head.name if h.head_id else None,
                            "member_count": h.member_count, "address": h.house.address.text if h.house_id else None}
                           for h in data["households"]],
            "overdue": [_tag(t) for t in data["overdue"]]}


@router.get("/ledger/overdue", response={200: list[OverdueOut], **ERRORS}, summary="逾期未走访")
def overdue(request: HttpRequest, page: Query[PageIn]):
    require(request.user, Action.VIEW_LEDGER, request)
    tags = page_of(queries.overdue(request.user), page)
    return [{"person_id": t.person_id, "person_name": t.person.name, "grid_code": t.grid.code, "type": t.type,
             "type_label": t.get_type_display(), "next_visit_due": t.next_visit_due} for t in tags]


@router.get("/ledger/access-log", response={200: list[AccessOut], **ERRORS}, summary="完整个人信息查看记录")
def access_log(request: HttpRequest, page: Query[PageIn]):
    """谁在何时、为何查看了谁的完整信息（仅管理员，限其辖区）。"""
    views = page_of(queries.full_views(request.user), page)
    return [{"at": v.at, "username": v.username, "person_id": v.subject_id, "person_name": v.subject_label,
             "fields": [f for f in v.fields.split(",") if f], "reason": v.reason, "channel": v.channel, "ip": v.ip}
            for v in views]


@router.get("/ledger/me", response={200: list[PersonOut], **ERRORS}, summary="平台保存的我的信息")
def me(request: HttpRequest):
    """居民本人在台账中的记录（按账户手机号的密钥哈希匹配），脱敏显示。"""
    persons = services.persons_of_resident(request.user).select_related("grid", "household", "house__address")
    return [_person(request.user, p) for p in persons]


class OrganisationFilter(Schema):
    region: str = Field("", max_length=20, description="辖区或网格代码")
    kind: OrgKind | None = Field(None, description="类别")
    risky: bool = Field(False, description="只列有风险标识的")


@router.get("/ledger/organisations", response={200: list[OrganisationOut], **ERRORS}, summary="单位与场所")
def list_organisations(request: HttpRequest, filters: Query[OrganisationFilter], page: Query[PageIn]):
    """实有单位、商铺和三小场所及其风险标识，限调用者辖区。"""
    area = get_region_or_404(request.user, filters.region, request) if filters.region else None
    qs = queries.organisations(request.user, region=area, kind=filters.kind or "", risky=filters.risky)
    return [{"id": o.pk, "name": o.name, "kind": o.kind, "kind_label": o.get_kind_display(),
             "address": o.address_text, "contact_name": o.contact_name, "risk_flags": list(o.risk_flags),
             "grid_code": o.grid.code} for o in page_of(qs, page)]


# --- writes: registration, moves, splits, owners ---------------------------------------------


class PersonIn(Schema):
    id_number: str = Field(..., max_length=18, description="公民身份号码（18 位，校验码按 GB 11643 检查）")
    name: str = Field(..., min_length=1, max_length=50)
    status: ResidenceStatus
    phone: str = Field("", max_length=20)
    ethnicity: str = Field("", max_length=20)
    household: str = Field("", max_length=40, description="户号（与 grid 二选一）")
    relation: str = Field("", max_length=12, description="与户主关系：head/spouse/child/parent/grandchild/sibling/tenant/other")
    grid: str = Field("", max_length=20, description="不在户中时所在网格代码")


class MoveIn(Schema):
    household: str = Field(..., max_length=40, description="迁入的户号")
    relation: str = Field("other", max_length=12)
    on: Day | None = None
    note: str = Field("", max_length=300)


class MoveOutIn(Schema):
    on: Day | None = None
    note: str = Field("", max_length=300)


class SplitIn(Schema):
    number: str = Field(..., min_length=1, max_length=40, description="新户号")
    members: list[RecordId] = Field(..., max_length=100, description="分出的成员（人员 id）")
    head: RecordId | None = Field(None, description="新户户主（须为分出的成员之一），默认第一人")
    house: RecordId | None = Field(None, description="新户所住房屋 id，默认与原户相同")
    note: str = Field("", max_length=300)


class OwnerIn(Schema):
    owner: RecordId | None = Field(None, description="新产权人（人员 id），或只填 owner_name")
    owner_name: str = Field("", max_length=50)
    note: str = Field("", max_length=300)


@router.post("/ledger/persons", response={201: PersonOut, **LEDGER_ERRORS}, summary="人口登记")
@once("ledger.person", PersonOut)
def register_person(request: HttpRequest, payload: PersonIn, idempotency_key: IdempotencyKeyHeader = None):
    """登记一人：在某户中（随户确定房屋和网格），或只在某网格中。性别和出生日期由身份证号得出。"""
    require(request.user, Action.EDIT_LEDGER, request)
    household = queries.get_household(request.user, payload.household, request) if payload.household else None
    grid = get_region_or_404(request.user, payload.grid, request) if payload.grid and household is None else None
    try:
        p = services.register_person(request.user, services.PersonData(
            id_number=payload.id_number, name=payload.name, status=payload.status, phone=payload.phone,
            ethnicity=payload.ethnicity, household=household, relation=payload.relation), grid=grid)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    p = queries.get_person(request.user, p.pk, request)
    return Status(201, _person(request.user, p))


@router.post("/ledger/persons/{pk}/move", response={200: PersonOut, **LEDGER_ERRORS}, summary="迁移（换户/换房）")
def move_person(request: HttpRequest, payload: MoveIn, pk: int = id_path("人员编号")):
    require(request.user, Action.EDIT_LEDGER, request)
    p = queries.get_person(request.user, pk, request)
    household = queries.get_household(request.user, payload.household, request)
    try:
        services.move_person(request.user, p, household, relation=payload.relation, on=payload.on, note=payload.note)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return _person(request.user, queries.get_person(request.user, pk, request))


@router.post("/ledger/persons/{pk}/move-out", response={200: PersonOut, **LEDGER_ERRORS}, summary="迁出")
def move_out(request: HttpRequest, payload: MoveOutIn, pk: int = id_path("人员编号")):
    require(request.user, Action.EDIT_LEDGER, request)
    p = queries.get_person(request.user, pk, request)
    try:
        services.move_out(request.user, p, on=payload.on, note=payload.note)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return _person(request.user, queries.get_person(request.user, pk, request))


@router.post("/ledger/households/{number}/split", response={201: HouseholdOut, **LEDGER_ERRORS}, summary="分户")
@once("ledger.split", HouseholdOut)
def split_household(request: HttpRequest, number: str, payload: SplitIn, idempotency_key: IdempotencyKeyHeader = None):
    require(request.user, Action.EDIT_LEDGER, request)
    h = queries.get_household(request.user, number, request)
    members = list(Person.objects.filter(pk__in=payload.members, household=h))
    if len(members) != len(set(payload.members)):
        return Status(400, {"detail": "分出的成员须为本户成员", "field": "members"})
    head = next((m for m in members if m.pk == payload.head), None) if payload.head else None
    if payload.head and head is None:
        return Status(400, {"detail": "新户户主须为分出的成员之一", "field": "head"})
    house = queries.get_house(request.user, payload.house, request) if payload.house else None
    try:
        new = services.split_household(request.user, h, members, number=payload.number, house=house, head=head,
                                       note=payload.note)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return Status(201, household_detail(request, new.number))


@router.post("/ledger/houses/{pk}/owner", response={200: HouseOut, **LEDGER_ERRORS}, summary="产权变更")
def change_owner(request: HttpRequest, payload: OwnerIn, pk: int = id_path("房屋编号")):
    require(request.user, Action.EDIT_LEDGER, request)
    house = queries.get_house(request.user, pk, request)
    owner = queries.get_person(request.user, payload.owner, request) if payload.owner else None
    try:
        services.change_owner(request.user, house, owner=owner, owner_name=payload.owner_name, note=payload.note)
    except services.LedgerError as exc:
        return _refusal(request, exc)
    return house_detail(request, pk)
