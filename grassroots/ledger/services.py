"""Writes to the ledgers: persons and their moves, households and their splits, houses and
their owners, care groups, visits, and the audited full view of a person.

Every function takes the acting user, checks the role (accounts.permissions.can) and the
scope of every record it touches, writes inside one transaction, and appends a
LedgerEvent, so "where did this person live before?" always has an answer. A refusal is a
LedgerError with a Chinese message (and the field it concerns); nothing is written then.
Workbook imports, which write in bulk, live in imports.py and follow the same rules.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, path_in_scope, region_in_scope
from grassroots.accounts.roles import Action
from grassroots.ledger import identity
from grassroots.ledger.models import (
    VISIT_EVERY_DAYS,
    CareTag,
    CareType,
    House,
    Household,
    LedgerEvent,
    Person,
    Relation,
    ResidenceStatus,
    Visit,
)
from grassroots.ledger.pinyin import initials
from grassroots.lib import privacy
from grassroots.territory.levels import Level
from grassroots.territory.models import Region

MAX_FINDINGS = 2000


class LedgerError(Exception):
    status = 400

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(LedgerError):
    status = 403


def _require(actor: User, action: str) -> None:
    if not can(actor, action):
        raise NotAllowed("您的角色无权执行此操作")


def _check_scope(actor: User, path: str, what: str = "记录") -> None:
    if not path_in_scope(actor, path):
        raise LedgerError(f"该{what}不存在或不在您的辖区内")


def event(subject: str, subject_id: int, actor: User | None, action: str, note: str = "", **data) -> LedgerEvent:
    return LedgerEvent.objects.create(
        subject=subject, subject_id=subject_id, actor=actor if actor and actor.is_authenticated else None,
        actor_name=actor.display_name if actor and actor.is_authenticated else "系统", action=action,
        note=note[:300], data=data,
    )


# --- persons ---------------------------------------------------------------------------------


@dataclass
class PersonData:
    id_number: str
    name: str
    status: str
    phone: str = ""
    ethnicity: str = ""
    household: Household | None = None
    relation: str = ""
    moved_in_at: date | None = None


def _check_person(data: PersonData) -> tuple[identity.IdNumber, str]:
    try:
        number = identity.parse_id(data.id_number)
    except identity.InvalidIdentity as exc:
        raise LedgerError(str(exc), "id_number") from exc
    name = (data.name or "").strip()
    if not name:
        raise LedgerError("请填写姓名", "name")
    if len(name) > 50:
        raise LedgerError("姓名不能超过 50 字", "name")
    if data.status not in ResidenceStatus.values:
        raise LedgerError("居住类型应为 户籍、常住、流动 或 人户分离", "status")
    if data.relation and data.relation not in Relation.values:
        raise LedgerError("与户主关系不正确", "relation")
    try:
        phone = identity.parse_phone(data.phone)
    except identity.InvalidIdentity as exc:
        raise LedgerError(str(exc), "phone") from exc
    return number, phone


def register_person(actor: User, data: PersonData, *, grid: Region | None = None) -> Person:
    """Add a person to the ledger (人口登记): in a household (and so its house and grid), or in a grid."""
    _require(actor, Action.EDIT_LEDGER)
    number, phone = _check_person(data)
    household = data.household
    if household is not None:
        _check_scope(actor, household.region_path, "户")
        grid = household.grid
    if grid is None or grid.level != Level.GRID:
        raise LedgerError("请选择所在户或网格", "household")
    if not region_in_scope(actor, grid):
        raise LedgerError("所选网格不在您的辖区内", "grid")
    if Person.objects.filter(id_hash__in=privacy.digests("id", number.number)).exists():
        raise LedgerError("该公民身份号码已登记，请在其人口页面修改", "id_number")
    person = Person(
        name=data.name.strip(), initials=initials(data.name.strip()), status=data.status, ethnicity=data.ethnicity,
        grid=grid, region_path=grid.path, household=household, relation=data.relation if household else "",
        house=household.house if household else None, moved_in_at=data.moved_in_at or timezone.localdate(),
        id_number=number.number, birth_date=number.birth_date, sex=number.sex, phone=phone,
    )
    with transaction.atomic():
        person.save()
        if household is not None and data.relation == Relation.HEAD:
            Household.objects.filter(pk=household.pk).update(head=person)
        event("person", person.pk, actor, "register", "登记", household=household.number if household else "",
              grid=grid.code)
    return person


def update_contact(actor: User, person: Person, *, phone: str | None = None, status: str | None = None,
                   ethnicity: str | None = None) -> Person:
    _require(actor, Action.EDIT_LEDGER)
    _check_scope(actor, person.region_path, "人员")
    changes: dict = {}
    if phone is not None:
        try:
            phone = identity.parse_phone(phone)
        except identity.InvalidIdentity as exc:
            raise LedgerError(str(exc), "phone") from exc
        changed = not person.phone.matches(phone) if phone else bool(person.phone)
        if changed:
            changes["phone"] = phone
    if status is not None and status != person.status:
        if status not in ResidenceStatus.values:
            raise LedgerError("居住类型应为 户籍、常住、流动 或 人户分离", "status")
        changes["status"] = status
    if ethnicity is not None and ethnicity != person.ethnicity:
        changes["ethnicity"] = ethnicity[:20]
    if not changes:
        return person
    with transaction.atomic():
        before = {"status": person.status, "phone": str(person.phone)}
        for k, v in changes.items():
            setattr(person, k, v)
        person.save()
        event("person", person.pk, actor, "update", "修改信息", before=before,
              after={"status": person.status, "phone": str(person.phone)})
    return person


def move_person(actor: User, person: Person, household: Household, *, relation: str = Relation.OTHER,
                on: date | None = None, note: str = "") -> Person:
    """A person moves into another household (and so its house and grid); the old place stays in history."""
    _require(actor, Action.EDIT_LEDGER)
    _check_scope(actor, person.region_path, "人员")
    _check_scope(actor, household.region_path, "户")
    if relation not in Relation.values:
        raise LedgerError("与户主关系不正确", "relation")
    if household.dissolved_at is not None:
        raise LedgerError("该户已注销，不能迁入", "household")
    if person.household_id == household.pk:
        raise LedgerError("此人已在该户中", "household")
    on = on or timezone.localdate()
    with transaction.atomic():
        old = person.household
        before = {"household": old.number if old else "", "house": person.house_id, "grid": person.grid_id}
        person.household, person.relation, person.house = household, relation, household.house
        person.grid_id, person.region_path = household.grid_id, household.region_path
        person.moved_in_at, person.moved_out_at = on, None
        person.save()
        if old is not None:
            Household.objects.filter(pk=old.pk, head=person).update(head=None)
        if relation == Relation.HEAD:
            Household.objects.filter(pk=household.pk).update(head=person)
        CareTag.objects.filter(person=person).update(grid_id=household.grid_id, region_path=household.region_path)
        event("person", person.pk, actor, "move", note or "迁移", on=on.isoformat(), before=before,
              after={"household": household.number, "house": household.house_id, "grid": household.grid_id})
    return person


def move_out(actor: User, person: Person, *, on: date | None = None, note: str = "") -> Person:
    """A person leaves the territory (迁出): kept in the ledger with the date, no longer in a household."""
    _require(actor, Action.EDIT_LEDGER)
    _check_scope(actor, person.region_path, "人员")
    if person.moved_out_at is not None:
        raise LedgerError("此人已迁出")
    on = on or timezone.localdate()
    with transaction.atomic():
        old = person.household
        if old is not None:
            Household.objects.filter(pk=old.pk, head=person).update(head=None)
        before = {"household": old.number if old else "", "house": person.house_id}
        person.household, person.house, person.relation, person.moved_out_at = None, None, "", on
        person.save()
        CareTag.objects.filter(person=person, next_visit_due__isnull=False).update(next_visit_due=None, end_date=on)
        event("person", person.pk, actor, "move_out", note or "迁出", on=on.isoformat(), before=before)
    return person


def split_household(actor: User, household: Household, members: list[Person], *, number: str,
                    house: House | None = None, head: Person | None = None, note: str = "") -> Household:
    """分户: MEMBERS leave HOUSEHOLD for a new household NUMBER (in HOUSE, or the same house)."""
    _require(actor, Action.EDIT_LEDGER)
    _check_scope(actor, household.region_path, "户")
    number = (number or "").strip()
    if not number:
        raise LedgerError("请填写新户号", "number")
    if Household.objects.filter(number=number).exists():
        raise LedgerError(f"户号“{number}”已存在", "number")
    if not members:
        raise LedgerError("请选择分出的成员", "members")
    if any(m.household_id != household.pk for m in members):
        raise LedgerError("分出的成员须为本户成员", "members")
    if len(members) >= household.members.count():
        raise LedgerError("分户后原户至少应保留一人", "members")
    house = house or household.house
    if house is not None:
        _check_scope(actor, house.region_path, "房屋")
    head = head or members[0]
    if head not in members:
        raise LedgerError("新户户主须为分出的成员之一", "head")
    with transaction.atomic():
        new = Household.objects.create(number=number, house=house, grid_id=(house or household).grid_id,
                                       region_path=(house or household).region_path, split_from=household)
        for m in members:
            m.household, m.house = new, house
            m.relation = Relation.HEAD if m.pk == head.pk else (m.relation if m.relation != Relation.HEAD else Relation.OTHER)
            m.grid_id, m.region_path = new.grid_id, new.region_path
            m.save()
            event("person", m.pk, actor, "move", f"分户至 {number}", before={"household": household.number},
                  after={"household": number})
        new.head = head
        new.save(update_fields=["head"])
        Household.objects.filter(pk=household.pk, head__in=members).update(head=None)
        event("household", household.pk, actor, "split", note or f"分出新户 {number}", new=number,
              members=[m.pk for m in members])
        event("household", new.pk, actor, "create", f"由 {household.number} 分户", split_from=household.number)
    return new


def change_owner(actor: User, house: House, *, owner: Person | None = None, owner_name: str = "",
                 note: str = "") -> House:
    """A house changes hands (产权变更); the former owner stays in the history."""
    _require(actor, Action.EDIT_LEDGER)
    _check_scope(actor, house.region_path, "房屋")
    if owner is not None:
        if owner.moved_out_at is None:
            _check_scope(actor, owner.region_path, "人员")
        owner_name = owner.name
    owner_name = (owner_name or "").strip()
    if not owner_name:
        raise LedgerError("请填写新产权人", "owner")
    with transaction.atomic():
        before = {"owner": house.owner_name, "owner_id": house.owner_id}
        house.owner, house.owner_name = owner, owner_name[:50]
        house.save()
        event("house", house.pk, actor, "owner", note or "产权变更", before=before,
              after={"owner": house.owner_name, "owner_id": house.owner_id})
    return house


def history(subject: str, subject_id: int) -> list[LedgerEvent]:
    return list(LedgerEvent.objects.filter(subject=subject, subject_id=subject_id).order_by("at", "id"))


# --- privacy: the audited full view --------------------------------------------------------


def may_view_full(actor: User) -> bool:
    return can(actor, Action.VIEW_FULL_PERSON)


def full_fields(actor: User) -> list[str]:
    """What ACTOR may read in full on a person of their scope: community staff (and above) the ID
    number and the phone; a grid worker, who calls and visits the grid's households, the phone."""
    if can(actor, Action.VIEW_FULL_PERSON):
        return ["id_number", "phone"]
    if can(actor, Action.CALL_PERSON):
        return ["phone"]
    return []


def full_record(actor: User, person: Person, reason: str, *, request=None, channel: str = "page") -> dict:
    """The unmasked ID number and/or phone (full_fields), for a stated reason, audited.

    1. the role must allow it and the person must be in scope;
    2. the reason must say why (at least 4 characters);
    3. the read is written to the audit log before anything is decrypted (lib.privacy.reveal);
    4. the birth date comes with the full ID number (it is in it), never with the mask.
    """
    fields = full_fields(actor)
    if not fields:
        raise NotAllowed("您的角色无权查看完整个人信息")
    _check_scope(actor, person.region_path, "人员")
    try:
        full = privacy.reveal(actor, person, fields, reason=reason, request=request, channel=channel,
                              label=person.name, minimum=4)
    except privacy.RevealRefused as exc:
        raise LedgerError(exc.message, "reason") from exc
    if "id_number" in full:
        full["birth_date"] = person.birth_date
    return full


def persons_of_resident(user: User):
    """The ledger records of a resident: matched by the keyed digest of the phone on their account.

    A resident's account carries a phone (verified at registration with a one-time code);
    matching on its digest finds their record without the phone in clear anywhere."""
    if not user.phone:
        return Person.objects.none()
    return Person.objects.filter(phone_hash__in=privacy.digests("phone", privacy.plain_of(user.phone)))


# --- care groups and visits -----------------------------------------------------------------


def _next_due(start: date, last_visit: datetime | None, care_type: str) -> date:
    base = timezone.localdate(last_visit) if last_visit else start
    return base + timedelta(days=VISIT_EVERY_DAYS[care_type])


def assign_care(actor: User, person: Person, care_type: str, reason: str, *, start: date | None = None,
                end: date | None = None) -> CareTag:
    _require(actor, Action.ASSIGN_CARE)
    _check_scope(actor, person.region_path, "人员")
    if care_type not in CareType.values:
        raise LedgerError("关爱/重点人群类别不正确", "type")
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError("请填写认定理由", "reason")
    if len(reason) > 300:
        raise LedgerError("认定理由不能超过 300 字", "reason")
    if person.moved_out_at is not None:
        raise LedgerError("此人已迁出，不能认定")
    start = start or timezone.localdate()
    if end is not None and end < start:
        raise LedgerError("结束日期不能早于开始日期", "end_date")
    if CareTag.objects.filter(person=person, type=care_type, next_visit_due__isnull=False).exists():
        raise LedgerError(f"此人已在“{CareType(care_type).label}”中", "type")
    with transaction.atomic():
        tag = CareTag.objects.create(person=person, type=care_type, reason=reason, start_date=start, end_date=end,
                                     assigned_by=actor, grid_id=person.grid_id, region_path=person.region_path,
                                     next_visit_due=_next_due(start, None, care_type))
        event("care", tag.pk, actor, "assign", f"认定为{tag.get_type_display()}", person=person.pk, reason=reason)
    return tag


def end_care(actor: User, tag: CareTag, *, on: date | None = None, note: str = "") -> CareTag:
    _require(actor, Action.ASSIGN_CARE)
    _check_scope(actor, tag.region_path, "关爱对象")
    if tag.next_visit_due is None:
        raise LedgerError("该认定已结束")
    with transaction.atomic():
        tag.end_date, tag.next_visit_due = on or timezone.localdate(), None
        tag.save()
        event("care", tag.pk, actor, "end", note or "结束认定")
    return tag


@dataclass
class VisitData:
    findings: str
    visited_at: datetime | None = None
    place: str = ""
    open_case: bool = False
    case_description: str = ""
    open_dispute: bool = False
    dispute_kind: str = "neighbour"  # disputes.models.Kind
    dispute_party: str = ""  # the other party (the visited person is the first)


def record_visit(actor: User, person: Person, data: VisitData) -> Visit:
    """走访: record the visit, restart the visit clock of every active care tag of the person,
    and, when asked, open a case (channel 走访) or a dispute from it — all or nothing."""
    _require(actor, Action.RECORD_VISIT)
    _check_scope(actor, person.region_path, "人员")
    findings = (data.findings or "").strip()
    if not findings:
        raise LedgerError("请填写走访情况", "findings")
    if len(findings) > MAX_FINDINGS:
        raise LedgerError(f"走访情况不能超过 {MAX_FINDINGS} 字", "findings")
    if len(data.place) > 200:
        raise LedgerError("地点不能超过 200 字", "place")
    now = timezone.now()
    at = data.visited_at or now
    if at > now + timedelta(minutes=5):
        raise LedgerError("走访时间不能晚于现在", "visited_at")
    if data.open_dispute and not dispute_hook_available():
        raise LedgerError(DISPUTES_OFF, "open_dispute")
    place = data.place.strip() or (person.house.address.text if person.house_id else "")
    with transaction.atomic():
        tags = list(CareTag.objects.select_for_update().filter(person=person, next_visit_due__isnull=False))
        visit = Visit.objects.create(person=person, household=person.household, care_tag=tags[0] if tags else None,
                                     visitor=actor, visitor_name=actor.display_name, visited_at=at, place=place[:200],
                                     findings=findings, grid_id=person.grid_id, region_path=person.region_path)
        for tag in tags:
            if tag.last_visit_at is None or at > tag.last_visit_at:
                tag.last_visit_at = at
                tag.next_visit_due = _next_due(tag.start_date, at, tag.type)
                tag.save(update_fields=["last_visit_at", "next_visit_due"])
        if data.open_case:
            visit.case = _open_case(actor, person, visit, data.case_description or findings)
            visit.save(update_fields=["case"])
        if data.open_dispute:
            visit.dispute_ref = open_dispute_from_visit(actor, visit, kind=data.dispute_kind,
                                                        other_party=data.dispute_party)
            visit.save(update_fields=["dispute_ref"])
    return visit


def _open_case(actor: User, person: Person, visit: Visit, description: str):
    from grassroots.cases import services as cases
    from grassroots.cases.models import Channel

    building = person.house.building if person.house_id else None
    report = cases.Report(
        channel=Channel.VISIT, description=description, address=visit.place,
        lon=building.lon if building and building.lon is not None else None,
        lat=building.lat if building and building.lon is not None else None,
        region_code="" if building and building.lon is not None else person.grid.code,
        reporter_name=person.name,
    )
    try:
        return cases.intake(actor, report).case
    except cases.CaseError as exc:
        raise LedgerError(f"走访已填写，但事件未能登记：{exc.message}", "open_case") from exc


DISPUTES_OFF = "矛盾纠纷模块尚未启用，无法从走访直接登记矛盾纠纷"


def dispute_hook_available() -> bool:
    try:
        from grassroots.disputes import services as disputes
    except ImportError:
        return False
    return callable(getattr(disputes, "register_from_visit", None))


def open_dispute_from_visit(actor: User, visit: Visit, *, kind: str = "neighbour", other_party: str = "") -> str:
    """Hand a visit to the disputes part: disputes.services.register_from_visit(actor, grid=…,
    description=…, parties=…, kind=…) (looked up with getattr, so neither app imports the other
    at load time). Parties: the visited person, side 1, and OTHER_PARTY, side 2. Returns the
    dispute's number. Until the disputes part provides the function, refuse clearly."""
    if not dispute_hook_available():
        raise LedgerError(DISPUTES_OFF, "open_dispute")
    from grassroots.disputes import services as disputes

    parties = [{"name": visit.person.name, "side": 1, "address": visit.place}] if visit.person_id else []
    if other_party.strip():
        parties.append({"name": other_party.strip()[:100], "side": 2})
    try:
        dispute = disputes.register_from_visit(actor, grid=visit.grid, description=visit.findings, parties=parties,
                                               kind=kind, place=visit.place)
    except Exception as exc:  # the disputes part's refusal (DisputeError / NotAllowed), in Chinese
        message = getattr(exc, "message", None)
        if message is None:
            raise
        raise LedgerError(f"走访已填写，但矛盾纠纷未能登记：{message}", "open_dispute") from exc
    return str(getattr(dispute, "number", dispute) or "")[:40]
