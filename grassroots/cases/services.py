"""Writes to cases: intake from every channel and every transition of the lifecycle.

Every transition goes through `_transition`, which
  1. checks the version the actor saw (lib.workflow: a stale one is a Conflict, 409, with what
     changed — never a refusal), then asks cases.policy whether the actor may do it from the
     current state,
  2. writes the new fields with lib.workflow's compare-and-set on that version —
     if someone else changed the case first, nothing is written and the actor is told,
  3. appends a CaseEvent (the timeline, carrying the version it wrote), all in one transaction.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import audit_denial
from grassroots.accounts.roles import Action, Role
from grassroots.cases import catalog, deadlines, policy
from grassroots.cases.models import (
    Attachment,
    Case,
    CaseClock,
    CaseEvent,
    CaseUnit,
    Channel,
    ClassificationFeedback,
    Evaluation,
    Extension,
    Matter,
    State,
    Supervision,
    Tier,
)
from grassroots.cases.notify import notify, unit_members
from grassroots.cases.routing import Route, suggest_route
from grassroots.lib import privacy, workflow
from grassroots.territory import directory, geo
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region


class CaseError(Exception):
    """A request that cannot be carried out; the message is for the user, in Chinese."""

    status = 400

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(CaseError):
    status = 403


class Conflict(CaseError, workflow.Conflict):
    """Someone changed the case first (a stale version); `details()` says what changed."""

    status = 409


CONFLICT = "该事件刚被他人处理，您的操作没有生效，请刷新后查看最新状态"
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
MAX_TEXT = 2000

# Which channels each role may enter a case through.
CHANNELS_BY_ROLE = {
    Role.RESIDENT: {Channel.APP},
    Role.GRID_WORKER: {Channel.GRID, Channel.VISIT},
    Role.COMMUNITY_STAFF: {Channel.VISIT, Channel.APP, Channel.LETTER},
    Role.DISPATCHER: {Channel.HOTLINE, Channel.LETTER, Channel.POLICE110, Channel.VISIT, Channel.APP},
}


@dataclass
class Report:
    """What an intake form or API request carries."""

    channel: str
    description: str
    title: str = ""
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    region_code: str = ""  # where, when there is no map point (a phone call, a letter)
    reporter_name: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    matter_code: str = ""
    files: list = field(default_factory=list)  # UploadedFile-like: name, size, content_type, read/chunks


class Intake:
    """What intake gives back: the case, the classifier's suggestions, the suggested route and,
    when first asked for, the likely duplicates the actor may see (a query of its own, made only
    for the pages and API answers that show them)."""

    def __init__(self, case: Case, suggestions: list, route: Route, *, viewer: User | None = None):
        self.case = case
        self.suggestions = suggestions  # classifier suggestions (code, name, score)
        self.route = route
        self.viewer = viewer

    @cached_property
    def duplicates(self) -> list:
        from grassroots.cases.queries import likely_duplicates

        return likely_duplicates(self.case, viewer=self.viewer)


@cache
def _insert_statement(model) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields
                   if not f.db_returning and not f.generated)  # an auto id comes back; a given one is written
    q = connection.ops.quote_name
    sql = (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {q(model._meta.pk.column)}")
    return sql, fields


def insert(instance) -> None:
    """INSERT a new row for INSTANCE as Model.save(force_insert=True) would — every field's
    pre_save (auto_now_add stamps) and database preparation — with one statement built once per
    model. Intake writes its rows this way: the ORM's per-save machinery cost more than the
    INSERTs themselves (bench/cases.py). Cases and their events have no save signals to skip."""
    sql, fields = _insert_statement(type(instance))
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


def _now() -> datetime:
    return timezone.now()


def _actor_name(user: User | None) -> str:
    return user.display_name if user is not None else "系统"


def _event(case: Case, actor: User | None, action: str, before: str, note: str = "", *, to_state: str = "",
           at_version: int | None = None, **data) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, actor=actor, actor_name=_actor_name(actor), action=action, from_state=before,
        to_state=to_state or case.state, note=note, data=data, version=at_version,
    )


def _action_label(action: str) -> str:
    rule = policy.RULES.get(action)
    return rule.label if rule else {"close": "自动结案", "report": "反映"}.get(action, action)


FLOW = workflow.Flow(
    model=Case, state_field="state", event_model=CaseEvent, event_fk="case", event_from="from_state",
    event_to="to_state", labels=dict(State.choices), action_label=_action_label, message=CONFLICT, conflict=Conflict,
)


def _check_report(actor: User, report: Report) -> None:
    if report.channel not in Channel.values:
        raise CaseError("来源渠道不正确", "channel")
    allowed = CHANNELS_BY_ROLE.get(actor.role, set())
    if report.channel == Channel.API:
        allowed = allowed | {Channel.API}
    if not actor.is_superuser and report.channel not in allowed:
        raise NotAllowed(f"您的角色不能通过“{Channel(report.channel).label}”登记事件", "channel")
    text = (report.description or "").strip()
    if not text:
        raise CaseError("请填写问题描述", "description")
    if len(text) > MAX_TEXT:
        raise CaseError(f"问题描述不能超过 {MAX_TEXT} 字", "description")
    if len(report.title) > 100:
        raise CaseError("标题不能超过 100 字", "title")
    if len(report.address) > 200:
        raise CaseError("地址不能超过 200 字", "address")
    if (report.lon is None) != (report.lat is None):
        raise CaseError("经度和纬度需同时填写", "lon")
    if report.lon is not None and not (-180 <= report.lon <= 180 and -90 <= report.lat <= 90):
        raise CaseError("经纬度超出范围", "lon")
    if report.lon is None and not report.region_code:
        raise CaseError("请在地图上选择位置，或选择所在社区/网格", "region_code")
    if not report.anonymous and report.reporter_phone and not PHONE.match(report.reporter_phone):
        raise CaseError("联系电话应为 11 位手机号或区号-座机号", "reporter_phone")
    if len(report.reporter_name) > 50:
        raise CaseError("反映人姓名不能超过 50 字", "reporter_name")
    for f in report.files:
        if f.size > settings.CASE_UPLOAD_MAX_BYTES:
            raise CaseError(f"附件“{f.name}”超过 {settings.CASE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB", "files")
        if (f.content_type or "") not in settings.CASE_UPLOAD_TYPES:
            raise CaseError(f"附件“{f.name}”的类型不支持，只能上传照片（JPG/PNG/WebP）或 PDF", "files")
        head = f.read(16)
        f.seek(0)
        if not _magic_matches(f.content_type, head):
            raise CaseError(f"附件“{f.name}”的内容与文件类型不符", "files")
    if len(report.files) > 9:
        raise CaseError("附件最多 9 个", "files")


def _magic_matches(content_type: str, head: bytes) -> bool:
    signatures = {
        "image/jpeg": (b"\xff\xd8\xff",),
        "image/png": (b"\x89PNG\r\n\x1a\n",),
        "image/webp": (b"RIFF",),
        "application/pdf": (b"%PDF",),
    }
    return any(head.startswith(sig) for sig in signatures.get(content_type, ()))


def _locate(actor: User, report: Report) -> tuple[Region | None, Region]:
    """(grid, region) for the report: the grid containing the point, or the chosen unit."""
    from grassroots.accounts.permissions import region_in_scope

    if report.lon is not None:
        hit = geo.locate(report.lon, report.lat)
        if hit is None:
            raise CaseError("该位置不在本平台的任何网格内，请检查位置", "lon")
        grid = directory.grid_of(hit)
        return grid, grid
    region = directory.region_by_code(report.region_code)
    if region is None or (actor.role != Role.RESIDENT and not region_in_scope(actor, region)):
        raise CaseError("所选社区/网格不存在或不在您的辖区内", "region_code")
    if region.level not in (Level.GRID, Level.COMMUNITY, Level.STREET):
        raise CaseError("请选择到社区或网格", "region_code")
    return (region if region.level == Level.GRID else None), region


def _matter(code: str) -> Matter:
    matter = catalog.active_matter(code)
    if matter is None:
        raise CaseError(f"事项“{code}”不存在或已停用", "matter_code")
    return matter


def _snapshot(case: Case, matter: Matter | None) -> None:
    case.matter = matter
    if matter is None:
        return
    case.matter_code, case.matter_name = matter.code, matter.name
    case.tier, case.priority = matter.tier, matter.priority
    case.response_hours, case.resolve_workdays = matter.response_hours, matter.resolve_workdays


def _unique_codes() -> tuple[str, str]:
    now = timezone.localtime()
    return f"SJ{now:%Y%m%d}{secrets.randbelow(10**7):07d}", secrets.token_hex(5).upper()


def classify(text: str) -> list:
    from grassroots.cases import classifier

    try:
        return classifier.suggest(text, k=3, allowed_codes=catalog.active_codes())
    except ValueError:  # nothing to read (only punctuation or emoji): no suggestion, a person classifies
        return []


def intake(actor: User, report: Report, *, now: datetime | None = None) -> Intake:
    """Take in a report from any channel.

    1. check every field and file (nothing is written if anything is wrong);
    2. find the grid from the map point (or the chosen unit);
    3. classify the text (unless the reporter or dispatcher chose the matter);
    4. keep the matter's limits on the case and suggest the route;
    5. write the case and its first event; staff entries are accepted at once and their
       clocks start; a resident's report waits for a dispatcher to accept it.
    """
    from grassroots.accounts.permissions import can

    if not can(actor, Action.REPORT_CASE) and not can(actor, Action.ENTER_CASE):
        raise NotAllowed("您的角色不能登记事件")
    _check_report(actor, report)
    grid, region = _locate(actor, report)
    text = report.description.strip()
    suggestions = classify(text)
    matter = _matter(report.matter_code) if report.matter_code else (
        catalog.active_matter(suggestions[0].code) if suggestions else None
    )
    now = now or _now()
    case = Case(
        channel=report.channel,
        title=(report.title or text[:30]).strip(),
        description=text,
        reporter=actor if actor.role == Role.RESIDENT else None,
        reporter_name="" if report.anonymous else report.reporter_name.strip() or (
            actor.display_name if actor.role == Role.RESIDENT else ""),
        reporter_phone="" if report.anonymous else report.reporter_phone.strip() or (
            privacy.plain_of(actor.phone) if actor.role == Role.RESIDENT else ""),
        anonymous=report.anonymous,
        created_by=actor,
        lon=report.lon,
        lat=report.lat,
        address=report.address.strip(),
        grid=grid,
        region=region,
        region_path=region.path,
    )
    _snapshot(case, matter)
    staff_entry = actor.role != Role.RESIDENT
    clock = CaseClock()
    if staff_entry:
        case.state = State.ACCEPTED
        deadlines.start_clocks(case, now)
        clock.alert, clock.next_due_at = deadlines.refresh(case, now)
    suggested = [{"code": s.code, "name": s.name, "score": round(s.score, 3)} for s in suggestions]
    for attempt in range(5):
        # Numbers are random, so two reports may draw the same one: the unique index refuses
        # the second, which draws again. Everything of one report is one transaction.
        case.number, case.tracking_code = _unique_codes()
        try:
            with transaction.atomic():
                insert(case)
                clock.case_id = case.pk
                insert(clock)
                _write_intake_rows(case, actor, report, text, suggestions, suggested, staff_entry)
            break
        except IntegrityError:
            case.pk = None
            clash = Case.objects.filter(Q(number=case.number) | Q(tracking_code=case.tracking_code)).exists()
            if not clash or attempt == 4:
                raise
    return Intake(case, suggestions, suggest_route(matter, region), viewer=actor)


def _write_intake_rows(case: Case, actor: User, report: Report, text: str, suggestions: list, suggested: list,
                       staff_entry: bool) -> None:
    """The case's first events, its files, and the dispatcher's correction."""
    name = _actor_name(actor)
    events = [CaseEvent(case=case, actor=actor, actor_name=name, action="report", from_state="",
                        to_state=State.SUBMITTED, note=f"通过{case.get_channel_display()}反映",
                        data={"suggested": suggested})]
    if staff_entry:
        events.append(CaseEvent(case=case, actor=actor, actor_name=name, action="accept", from_state=State.SUBMITTED,
                                to_state=case.state, note="登记即受理", data={}))
    for event in events:
        insert(event)
    for f in report.files:
        Attachment.objects.create(
            case=case, file=f, name=f.name[:200], content_type=f.content_type, size=f.size, uploaded_by=actor
        )
    if report.matter_code and suggestions and report.matter_code != suggestions[0].code:
        ClassificationFeedback.objects.create(
            case=case, text=text, suggested=suggested, chosen_code=report.matter_code, by=actor
        )


# --- transitions ------------------------------------------------------------------------------


def _transition(case: Case, actor: User | None, action: str, version: int, *, to_state: str | None = None,
                note: str = "", data: dict | None = None, changes: dict | None = None, check: bool = True) -> Case:
    if check:
        _may(case, actor, action, version)
    else:
        workflow.check_version(FLOW, case, version)
    before = case.state
    changes = dict(changes or {})
    if to_state:
        changes["state"] = to_state
    for key, value in changes.items():
        setattr(case, key, value)
    now = _now()
    alert, next_due = deadlines.refresh(case, now)
    changes.update(yellow_at=case.yellow_at, red_at=case.red_at, updated_at=now)
    with transaction.atomic():
        # The clock row first, then the case row: the order the worker's sweep locks them in.
        CaseClock.objects.filter(case_id=case.pk).update(alert=alert, next_due_at=next_due)
        workflow.compare_and_set(FLOW, case, version, changes)
        _event(case, actor, action, before, note, at_version=case.version, **(data or {}))
    return case


def _may(case: Case, actor: User, action: str, version: int | None) -> None:
    """Refuse before anything is written (a matter correction, for one): first a stale version
    (Conflict with what changed), then an action the actor may not take in the current state."""
    workflow.check_version(FLOW, case, version)
    problem = policy.refusal(actor, case, action)
    if problem:
        raise NotAllowed(problem)


def check(case: Case, actor: User, action: str, version: int | None) -> None:
    """What pages and the API ask before running ACTION (the order of lib.workflow)."""
    _may(case, actor, action, version)


def accept(case: Case, actor: User, version: int, *, matter_code: str = "", note: str = "") -> Case:
    _may(case, actor, "accept", version)
    now = _now()
    if matter_code and matter_code != case.matter_code:
        _correct_matter(case, actor, matter_code)
    deadlines.start_clocks(case, now)
    return _transition(case, actor, "accept", version, to_state=State.ACCEPTED, note=note, changes=_matter_changes(case) | {
        "accepted_at": case.accepted_at, "respond_due_at": case.respond_due_at, "resolve_due_at": case.resolve_due_at})


def _correct_matter(case: Case, actor: User, matter_code: str) -> None:
    matter = _matter(matter_code)
    suggested = case.events.filter(action="report").values_list("data", flat=True).first() or {}
    ClassificationFeedback.objects.create(
        case=case, text=case.description, suggested=suggested.get("suggested", []), chosen_code=matter.code, by=actor
    )
    _snapshot(case, matter)


def _matter_changes(case: Case) -> dict:
    return {k: getattr(case, k) for k in ("matter", "matter_code", "matter_name", "tier", "priority",
                                          "response_hours", "resolve_workdays")}


def dispatch(case: Case, actor: User, version: int, *, lead_region: Region | None = None,
             lead_department: Department | None = None, assists: list[Department] | None = None,
             matter_code: str = "", note: str = "") -> Case:
    """Send the case to one lead unit (and optional assisting departments)."""
    _may(case, actor, "dispatch", version)
    if (lead_region is None) == (lead_department is None):
        raise CaseError("请指定一个主办单位（属地或部门）", "lead")
    if lead_region is not None and not policy.in_territory(actor, lead_region.path):
        raise CaseError("主办单位不在您的调度范围内", "lead")
    if lead_department is not None and not case.region_path.startswith(lead_department.district.path):
        raise CaseError("主办部门应为事件所在区的部门", "lead")
    if matter_code and matter_code != case.matter_code:
        _correct_matter(case, actor, matter_code)
    if case.matter is None:
        raise CaseError("请先确定事项分类", "matter_code")
    now = _now()
    if case.accepted_at is None:
        deadlines.start_clocks(case, now)
    changes = _matter_changes(case) | {
        "lead_region": lead_region, "lead_department": lead_department, "dispatched_at": now,
        "accepted_at": case.accepted_at, "respond_due_at": case.respond_due_at, "resolve_due_at": case.resolve_due_at,
    }
    assists = [d for d in (assists or []) if d != lead_department]
    lead = lead_department.name if lead_department else lead_region.name
    with transaction.atomic():
        _transition(case, actor, "dispatch", version, to_state=State.DISPATCHED, note=note, changes=changes,
                    data={"lead": lead, "assists": [d.name for d in assists]})
        CaseUnit.objects.filter(case=case).delete()
        CaseUnit.objects.bulk_create([CaseUnit(case=case, department=d) for d in assists])
    notify(unit_members(case), case, "dispatched", f"新派遣事件 {case.number}：{case.title}")
    return case


def start(case: Case, actor: User, version: int) -> Case:
    return _transition(case, actor, "start", version, to_state=State.IN_PROGRESS, note="已签收，开始处置")


def respond(case: Case, actor: User, version: int, note: str) -> Case:
    if not note.strip():
        raise CaseError("请填写与反映人联系的情况", "note")
    return _transition(case, actor, "respond", version, note=note.strip(),
                       changes={"responded_at": case.responded_at or _now()})


def resolve(case: Case, actor: User, version: int, result: str) -> Case:
    result = result.strip()
    if not result:
        raise CaseError("请填写办理结果", "result")
    now = _now()
    case = _transition(case, actor, "resolve", version, to_state=State.RESOLVED, note=result, changes={
        "result": result, "resolved_at": now, "responded_at": case.responded_at or now,
        "evaluate_due_at": deadlines.evaluation_due(now)})
    _share_outcome(case)
    if case.reporter_id:
        notify([case.reporter], case, "resolved", f"您反映的问题（{case.number}）已办结，请评价")
    return case


def resolve_on_spot(case: Case, actor: User, version: int, result: str) -> Case:
    """A grid worker closes a grid-tier matter on the spot (就地处置)."""
    if case.tier != Tier.GRID:
        raise CaseError("只有网格级事项可以就地处置，请上报派遣", "matter_code")
    result = result.strip()
    if not result:
        raise CaseError("请填写处置结果", "result")
    now = _now()
    if case.accepted_at is None:
        deadlines.start_clocks(case, now)
    case = _transition(case, actor, "resolve_on_spot", version, to_state=State.RESOLVED, note=result, changes={
        "result": result, "resolved_at": now, "responded_at": case.responded_at or now, "lead_region": case.grid,
        "accepted_at": case.accepted_at, "respond_due_at": case.respond_due_at, "resolve_due_at": case.resolve_due_at,
        "dispatched_at": now, "evaluate_due_at": deadlines.evaluation_due(now)})
    _share_outcome(case)
    return case


def return_case(case: Case, actor: User, version: int, reason: str) -> Case:
    reason = reason.strip()
    if len(reason) < 4:
        raise CaseError("请写明退单理由（至少 4 个字）", "reason")
    case = _transition(case, actor, "return", version, to_state=State.RETURNED, note=reason,
                       data={"unit": case.lead_name})
    notify(dispatchers_for(case), case, "returned", f"事件 {case.number} 被{case.lead_name}退单：{reason}")
    return case


def arbitrate(case: Case, actor: User, version: int, *, uphold: bool, note: str,
              lead_region: Region | None = None, lead_department: Department | None = None,
              assists: list[Department] | None = None) -> Case:
    """Rule on a return: uphold it and re-route to another unit, or refuse it and send it back."""
    note = note.strip()
    if not note:
        raise CaseError("请填写裁定意见", "note")
    if uphold:
        if lead_region is None and lead_department is None:
            raise CaseError("支持退单时请指定新的主办单位", "lead")
        with transaction.atomic():  # the ruling and the re-dispatch stand or fall together
            _transition(case, actor, "arbitrate", version, note=note, data={"ruling": "uphold"})
            return dispatch(case, actor, case.version, lead_region=lead_region, lead_department=lead_department,
                            assists=assists, note="退单成立，改派")
    case = _transition(case, actor, "arbitrate", version, to_state=State.DISPATCHED, note=note,
                       data={"ruling": "refuse", "unit": case.lead_name})
    notify(unit_members(case), case, "return_refused", f"事件 {case.number} 退单未获支持，请继续办理：{note}")
    return case


def request_extension(case: Case, actor: User, version: int, workdays: int, reason: str) -> Extension:
    if not isinstance(workdays, int) or not 1 <= workdays <= 30:
        raise CaseError("延期天数应为 1 到 30 个工作日", "workdays")
    if not reason.strip():
        raise CaseError("请填写延期理由", "reason")
    if case.extensions.filter(decision=Extension.Decision.PENDING).exists():
        raise CaseError("已有待审批的延期申请", "workdays")
    with transaction.atomic():
        _transition(case, actor, "request_extension", version, note=reason.strip(), data={"workdays": workdays})
        ext = Extension.objects.create(case=case, requested_by=actor, workdays=workdays, reason=reason.strip())
    notify(dispatchers_for(case), case, "extension", f"事件 {case.number} 申请延期 {workdays} 个工作日")
    return ext


def decide_extension(extension: Extension, actor: User, version: int, *, approve: bool, note: str = "") -> Case:
    case = extension.case
    if extension.decision != Extension.Decision.PENDING:
        raise Conflict("该延期申请已审批")
    changes = {}
    if approve:
        deadlines.extend(case, extension.workdays)
        changes["resolve_due_at"] = case.resolve_due_at
    with transaction.atomic():
        updated = Extension.objects.filter(pk=extension.pk, decision=Extension.Decision.PENDING).update(
            decision=Extension.Decision.APPROVED if approve else Extension.Decision.REFUSED,
            decided_by=actor, decided_at=_now())
        if not updated:
            raise Conflict("该延期申请已审批")
        _transition(case, actor, "decide_extension", version, note=note,
                    data={"approved": approve, "workdays": extension.workdays}, changes=changes)
    return case


def evaluate(case: Case, actor: User, version: int, *, solved: bool, satisfied: bool, comment: str = "") -> Case:
    """Record 是否解决 and 是否满意. Unsatisfied: back to the lead unit once, then to the dispatcher."""
    rel = policy.relations(actor, case)
    source = Evaluation.Source.REPORTER if "reporter" in rel else Evaluation.Source.CALLBACK
    if len(comment) > 500:
        raise CaseError("评价内容不能超过 500 字", "comment")
    now = _now()
    if satisfied:
        to, changes, note = State.CLOSED, {"closed_at": now}, "满意，结案"
    elif case.reopen_count == 0:
        to, note = State.IN_PROGRESS, "不满意，退回主办单位重办"
        changes = {"reopen_count": 1, "resolved_at": None, "accepted_at": now, "responded_at": None}
        case.accepted_at = now
        deadlines.start_clocks(case, now)
        changes |= {"respond_due_at": case.respond_due_at, "resolve_due_at": case.resolve_due_at}
    else:
        to, note = State.REOPENED, "再次不满意，交派单员裁定"
        changes = {"reopen_count": case.reopen_count + 1}
    with transaction.atomic():
        Evaluation.objects.create(case=case, by=actor, source=source, solved=solved, satisfied=satisfied,
                                  comment=comment, lead_region=case.lead_region, lead_department=case.lead_department)
        _transition(case, actor, "evaluate", version, to_state=to, note=comment or note, changes=changes,
                    data={"solved": solved, "satisfied": satisfied, "source": source})
    if to == State.IN_PROGRESS:
        notify(unit_members(case), case, "reopened", f"事件 {case.number} 反映人不满意，请重办")
    elif to == State.REOPENED:
        notify(dispatchers_for(case), case, "reopened", f"事件 {case.number} 再次不满意，请裁定")
    return case


def close_unevaluated(case: Case, version: int) -> Case:
    """The evaluation window passed with no answer (run by the worker)."""
    with transaction.atomic():
        case = _transition(case, None, "close", version, to_state=State.CLOSED, note="回访期内未评价，自动结案",
                           changes={"closed_at": _now()}, check=False)
        Evaluation.objects.create(case=case, source=Evaluation.Source.TIMEOUT, lead_region=case.lead_region,
                                  lead_department=case.lead_department)
    return case


def reopen(case: Case, actor: User, version: int, reason: str) -> Case:
    if not reason.strip():
        raise CaseError("请填写重办理由", "reason")
    return _transition(case, actor, "reopen", version, to_state=State.REOPENED, note=reason.strip(),
                       changes={"reopen_count": case.reopen_count + 1, "closed_at": None})


def merge(case: Case, actor: User, version: int, into: Case) -> Case:
    if into.pk == case.pk:
        raise CaseError("不能与自身合并", "into")
    if into.state in (State.MERGED, State.REJECTED):
        raise CaseError("目标事件已合并或作废，不能合并进去", "into")
    if not policy.can_see(actor, into):
        raise CaseError("目标事件不存在", "into")
    case = _transition(case, actor, "merge", version, to_state=State.MERGED, note=f"与 {into.number} 重复，合并办理",
                       changes={"merged_into": into}, data={"into": into.number})
    _event(into, actor, "absorb", into.state, f"合并了重复事件 {case.number}", merged=case.number)
    if into.state in (State.RESOLVED, State.CLOSED):
        _share_outcome(into)
    return case


def _share_outcome(master: Case) -> None:
    """Every merged duplicate gets the master's outcome, and its reporter is told."""
    for dup in Case.objects.filter(merged_into=master).select_related("reporter"):
        Case.objects.filter(pk=dup.pk).update(result=master.result, resolved_at=master.resolved_at)
        _event(dup, None, "outcome", dup.state, master.result, master=master.number)
        if dup.reporter_id:
            notify([dup.reporter], dup, "resolved", f"您反映的问题（{dup.number}）已随 {master.number} 办结：{master.result[:80]}")


def reject(case: Case, actor: User, version: int, reason: str) -> Case:
    if len(reason.strip()) < 4:
        raise CaseError("请写明作废理由（至少 4 个字）", "reason")
    return _transition(case, actor, "reject", version, to_state=State.REJECTED, note=reason.strip(),
                       changes={"closed_at": _now()})


def supervise(case: Case, actor: User | None, reason: str, *, level: int = 1, to_region: Region | None = None,
              check: bool = True) -> Supervision:
    if check:
        problem = policy.refusal(actor, case, "supervise")
        if problem:
            raise NotAllowed(problem)
    if not reason.strip():
        raise CaseError("请填写督办事由", "reason")
    # The Supervision row is the record (the timeline shows it: queries.timeline), as for the
    # worker's escalations; a supervision is not a transition of the case.
    sup = Supervision.objects.create(case=case, opened_by=actor, reason=reason.strip(), level=level, to_region=to_region)
    notify(unit_members(case), case, "supervised", f"事件 {case.number} 被督办：{reason.strip()}")
    return sup


def dispatchers_for(case: Case, *, level_up: int = 0) -> list[User]:
    """Dispatchers whose scope holds the case, nearest tier first; LEVEL_UP skips that many tiers."""
    codes = case.region_path.strip("/").split("/")
    tiers = [c for c in reversed(codes)]
    users = list(User.objects.filter(role=Role.DISPATCHER, is_active=True, region__code__in=tiers).select_related("region"))
    by_tier: dict[str, list[User]] = {}
    for u in users:
        by_tier.setdefault(u.region.code, []).append(u)
    found = [by_tier[c] for c in tiers if c in by_tier]
    if not found:
        return []
    return found[min(level_up, len(found) - 1)]


# --- the reporter's phone (个人信息保护法) ----------------------------------------------------
#
# Everyone sees the phone masked (138****5678) on pages, in the API and in exports; the
# reporter sees their own. Whoever has to call the reporter may reveal the whole number on
# one case at a time, giving a reason, and each reveal is written to the audit log (who,
# which case, when, why, from where) through lib.privacy.reveal — never the number itself.

REVEAL_REASONS = {
    "contact": "联系反映人（响应、核实情况）",
    "callback": "回访评价",
    "other": "其他",
}


def reveal_phone_for(user, case: Case, request, reason: str, note: str = "", *, channel: str = "page") -> str:
    """Check that USER may see CASE's whole phone, write the audit event, return the number.

    Refusals are CaseError (400: no number, bad reason) or NotAllowed (403, audited as a denial)."""
    if not case.reporter_phone or case.anonymous:
        raise CaseError("该事件没有留联系电话", "reporter_phone")
    if not policy.may_reveal_phone(user, case):
        audit_denial(user, request, f"case {case.number} reporter phone")
        raise NotAllowed("您无需联系反映人，不能查看完整号码")
    if reason not in REVEAL_REASONS:
        raise CaseError("请选择查看完整号码的事由", "reason")
    note = " ".join((note or "").split())[:100]
    if reason == "other" and len(note) < 2:
        raise CaseError("选择“其他”时请简要说明事由", "note")
    why = REVEAL_REASONS[reason] + (f"：{note}" if note else "")
    full = privacy.reveal(user, case, "reporter_phone", reason=why, request=request, channel=channel,
                          label=f"事件 {case.number}")
    return full["reporter_phone"]
