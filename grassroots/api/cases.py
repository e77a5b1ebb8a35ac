"""Case endpoints (事件): intake, lists, the timeline, worklists and every lifecycle action.

Thin on purpose: cases.services writes (and decides through cases.policy), cases.queries
reads and scopes. A case outside the caller's scope is answered exactly as one that does
not exist (404, audited). The services' refusals keep their Chinese message and the field
it concerns: CaseError → 400, NotAllowed → 403, Conflict (a stale `version`) → 409, each
as {"detail": …, "field": …}.
"""

from collections.abc import Callable
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from grassroots.accounts.models import User
from grassroots.accounts.permissions import audit_denial, require
from grassroots.accounts.roles import Action
from grassroots.api.case_schemas import (
    CASE_ERRORS,
    AcceptIn,
    ArbitrateIn,
    CaseDetailOut,
    CaseFilter,
    CaseIn,
    CasePageOut,
    DecideExtensionIn,
    DispatchIn,
    EvaluateIn,
    EventOut,
    ExtensionIn,
    IntakeOut,
    LeadIn,
    MatterOut,
    MergeIn,
    NoteIn,
    PhoneOut,
    PhoneRevealIn,
    RatesIn,
    RatesOut,
    ReasonIn,
    ResultIn,
    SuggestionOut,
    SuperviseIn,
    VersionIn,
    WorklistOut,
)
from grassroots.api.errors import Invalid
from grassroots.api.once import IdempotencyKeyHeader, once
from grassroots.api.params import PageIn, page_of
from grassroots.api.schemas import ERRORS, conflict_body
from grassroots.cases import policy, queries, services
from grassroots.cases.models import Case, Channel, Extension, Matter
from grassroots.cases.routing import ancestor_at
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region

router = Router(tags=["事件"])

CASE_NOT_FOUND = "事件不存在"
WORKLIST_NOT_FOUND = "工作清单不存在"
RELATED = ("matter", "grid", "region", "lead_region", "lead_department__district", "merged_into")

# Timeline actions that are not in policy.RULES (written by intake, merges and the worker).
EVENT_LABELS = {
    "report": "反映",
    "absorb": "合并重复事件",
    "outcome": "随主事件办结",
    "close": "自动结案",
    "escalate": "超期升级",
}


# --- helpers ----------------------------------------------------------------------------


def _refusal(request: HttpRequest, exc: services.CaseError) -> Status:
    if isinstance(exc, services.Conflict):  # a lost race: what changed, and no audit entry
        return Status(409, conflict_body(exc))
    if isinstance(exc, services.NotAllowed):
        audit_denial(request.user, request, f"case refused: {exc.message}")
    return Status(exc.status, {"detail": exc.message, "field": exc.field})


def _case_or_404(request: HttpRequest, number: str) -> Case:
    case = queries.get_case(request.user, number)
    if case is None:
        if Case.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"case {number}")
        raise Http404(CASE_NOT_FOUND)
    return case


def _labelled(code: str, label: str) -> dict:
    return {"code": code, "label": label}


def _region_ref(region: Region | None) -> dict | None:
    if region is None:
        return None
    return {"code": region.code, "name": region.name, "level": region.level, "level_label": region.level_label}


def _region_unit(region: Region) -> dict:
    return {"kind": "region", "code": region.code, "name": region.name, "department_id": None, "district_code": None}


def _department_unit(department: Department) -> dict:
    return {
        "kind": "department",
        "code": department.code,
        "name": department.name,
        "department_id": department.id,
        "district_code": department.district.code,
    }


def _row(user: User, case: Case) -> dict:
    lead = None
    if case.lead_department_id:
        lead = _department_unit(case.lead_department)
    elif case.lead_region_id:
        lead = _region_unit(case.lead_region)
    phone = queries.shown_phone(user, case)  # masked for everyone but the reporter: see POST …/reporter-phone
    return {
        "number": case.number,
        "tracking_code": case.tracking_code,
        "title": case.title,
        "description": case.description,
        "channel": _labelled(case.channel, case.get_channel_display()),
        "state": _labelled(case.state, case.get_state_display()),
        "matter": {"code": case.matter_code, "name": case.matter_name} if case.matter_code else None,
        "tier": case.tier,
        "priority": _labelled(case.priority, case.get_priority_display()),
        "reporter_name": case.reporter_name,
        "reporter_phone": phone,
        "anonymous": case.anonymous,
        "lon": case.lon,
        "lat": case.lat,
        "address": case.address,
        "grid": _region_ref(case.grid),
        "region": _region_ref(case.region),
        "lead": lead,
        "alert": _labelled(case.alert, case.get_alert_display()),
        "created_at": case.created_at,
        "respond_due_at": case.respond_due_at,
        "resolve_due_at": case.resolve_due_at,
        "updated_at": case.updated_at,
        "version": case.version,
    }


def _detail(user: User, case: Case) -> dict:
    assists = []
    for unit in case.assists.select_related("region", "department__district"):
        assists.append(_department_unit(unit.department) if unit.department_id else _region_unit(unit.region))
    return {
        **_row(user, case),
        "assists": assists,
        "accepted_at": case.accepted_at,
        "dispatched_at": case.dispatched_at,
        "responded_at": case.responded_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "evaluate_due_at": case.evaluate_due_at,
        "escalation_level": case.escalation_level,
        "result": case.result,
        "reopen_count": case.reopen_count,
        "merged_into": case.merged_into.number if case.merged_into_id else None,
        "extensions": [
            {
                "id": e.id,
                "workdays": e.workdays,
                "reason": e.reason,
                "decision": _labelled(e.decision, e.get_decision_display()),
                "requested_at": e.requested_at,
                "decided_at": e.decided_at,
            }
            for e in case.extensions.all()
        ],
        "supervisions": [
            {"opened_at": s.opened_at, "level": s.level, "reason": s.reason, "closed_at": s.closed_at}
            for s in case.supervisions.all()
        ],
        "allowed_actions": [_labelled(a, policy.RULES[a].label) for a in policy.allowed_actions(user, case)],
    }


def _fresh(case: Case) -> Case:
    return Case.objects.select_related(*RELATED).get(pk=case.pk)


def _page(user: User, qs: QuerySet[Case], page: PageIn) -> dict:
    qs = qs.select_related(*RELATED)
    return {"count": qs.count(), "items": [_row(user, c) for c in page_of(qs, page)]}


# --- intake -----------------------------------------------------------------------------


def _default_channel(user: User) -> str:
    """A role with one channel uses it (residents: app); any other caller is a system integration (api)."""
    allowed = services.CHANNELS_BY_ROLE.get(user.role, set())
    return next(iter(allowed)) if len(allowed) == 1 else Channel.API


@router.post("/cases", response={201: IntakeOut, **CASE_ERRORS}, summary="登记事件（接诉）")
@once("cases.create", IntakeOut)
def create_case(request: HttpRequest, payload: CaseIn, idempotency_key: IdempotencyKeyHeader = None):
    """登记一件事件，返回事件、自动分类的前 3 个事项（含置信度）、建议的派遣去向和疑似重复事件。

    来源渠道按角色限定：居民只能为 app（默认）；网格员 grid、visit；社区工作人员 visit、app、letter；
    派单员 hotline、letter、police110、visit、app；任何可登记的角色都可用 api（工作人员不填时的默认值）。
    工作人员登记即受理、开始计时；居民的反映等待派单员受理。有坐标时按坐标确定网格；没有坐标时（来电、来信）
    须提供 `region_code`（社区或网格）。不符合要求时返回 400，`field` 指出哪个字段，且不写入任何数据。
    """
    user = request.user
    report = services.Report(
        channel=payload.channel or _default_channel(user),
        description=payload.description,
        title=payload.title,
        lon=payload.lon,
        lat=payload.lat,
        address=payload.address,
        region_code=payload.region_code,
        reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone,
        anonymous=payload.anonymous,
        matter_code=payload.matter_code,
    )
    try:
        taken = services.intake(user, report)
    except services.CaseError as exc:
        return _refusal(request, exc)
    route = taken.route
    lead = None
    if route.lead_department is not None:
        lead = _department_unit(route.lead_department)
    elif route.lead_region is not None:
        lead = _region_unit(route.lead_region)
    # Duplicates are other people's reports: list only those the caller may see anyway.
    visible = set(
        queries.visible_cases(user).filter(pk__in=[c.pk for c, _ in taken.duplicates]).values_list("pk", flat=True)
    )
    return Status(
        201,
        {
            "case": _detail(user, _fresh(taken.case)),
            "suggestions": [{"code": s.code, "name": s.name, "score": round(s.score, 3)} for s in taken.suggestions],
            "route": {
                "lead": lead,
                "assists": [_department_unit(d) for d in route.assists],
                "explanation": route.explanation,
            },
            "duplicates": [
                {
                    "number": c.number,
                    "title": c.title,
                    "state": _labelled(c.state, c.get_state_display()),
                    "created_at": c.created_at,
                    "similarity": score,
                }
                for c, score in taken.duplicates
                if c.pk in visible
            ],
        },
    )


@router.get("/cases/suggest", response={200: list[SuggestionOut], **ERRORS}, summary="按描述推荐事项")
def suggest(
    request: HttpRequest,
    text: str = Query(..., min_length=1, max_length=2000, description="问题描述"),
):
    """自动分类：按问题描述给出最可能的 3 个在用事项及置信度（0–1）。不写入任何数据。

    描述中没有可读的文字（只有标点或表情）时返回空列表，由人工分类。"""
    if not text.strip():
        raise Invalid("text", "参数 text 不能为空")
    return [{"code": s.code, "name": s.name, "score": round(s.score, 3)} for s in services.classify(text.strip())]


# --- reading ----------------------------------------------------------------------------


@router.get("/cases", response={200: CasePageOut, **ERRORS}, summary="列出事件")
def list_cases(request: HttpRequest, filters: Query[CaseFilter], page: Query[PageIn]):
    """调用者可见的事件：辖区范围内的、本部门主办或协办的、本人反映的。按上报时间倒序，分页。

    联系电话一律脱敏（反映人本人除外）；需要回访的人通过 POST /api/cases/{number}/reporter-phone 查看完整号码。
    """
    qs = queries.apply_filters(
        queries.visible_cases(request.user),
        queries.Filters(
            matter=filters.matter or "",
            region=filters.region or "",
            state=filters.state or "",
            channel=filters.channel or "",
            since=filters.since,
            until=filters.until,
            q=(filters.q or "").strip(),
        ),
    )
    return _page(request.user, qs, page)


@router.get("/cases/{number}", response={200: CaseDetailOut, **ERRORS}, summary="事件详情")
def case_detail(request: HttpRequest, number: str):
    """一件事件的全部信息、延期与督办记录，以及调用者现在可以执行的操作。不在范围内时返回 404。"""
    return _detail(request.user, _case_or_404(request, number))


@router.post("/cases/{number}/reporter-phone", response={200: PhoneOut, **CASE_ERRORS}, summary="查看反映人完整电话")
def reporter_phone(request: HttpRequest, number: str, payload: PhoneRevealIn):
    """需要联系反映人的人查看一件事件的完整联系电话：事件所在辖区的派单员（任何状态），以及主办单位的人员
    （已派遣、处置中时）。须说明事由（reason：contact 联系反映人、callback 回访评价、other 其他并在 note 中说明）。
    每次查看都记入审计日志（查看人、事件、时间、事由）。其他角色返回 403；范围之外的事件返回 404；
    匿名或未留电话的事件返回 400。"""
    case = _case_or_404(request, number)
    try:
        phone = services.reveal_phone_for(request.user, case, request, payload.reason, payload.note, channel="api")
    except services.CaseError as exc:
        if isinstance(exc, services.NotAllowed):  # reveal_phone_for has audited the denial
            return Status(exc.status, {"detail": exc.message, "field": exc.field})
        return _refusal(request, exc)
    return {"number": case.number, "reporter_name": case.reporter_name, "reporter_phone": phone,
            "reason": services.REVEAL_REASONS[payload.reason]}


@router.get("/cases/{number}/events", response={200: list[EventOut], **ERRORS}, summary="事件的办理过程")
def case_events(request: HttpRequest, number: str):
    """事件的时间线：每一次状态变化，谁、何时、为什么（只追加，不修改），以及督办（supervise 人工督办、escalate 超期自动升级）和临期提醒（warn）。"""
    case = _case_or_404(request, number)
    rows = []
    for e in queries.timeline(case):
        label = policy.RULES[e.action].label if e.action in policy.RULES else EVENT_LABELS.get(e.action, e.action)
        rows.append({
            "at": e.at,
            "actor_name": e.actor_name,
            "action": _labelled(e.action, label),
            "from_state": e.from_state,
            "to_state": e.to_state,
            "note": e.note,
            "data": e.data or {},
        })
    return rows


@router.get("/worklists", response={200: list[WorklistOut], **ERRORS}, summary="我的工作清单")
def worklists(request: HttpRequest):
    """调用者的各个工作清单及其中的事件数。"""
    return [
        {"code": code, "label": label, "count": queries.worklist(request.user, code).count()}
        for code, label in queries.WORKLISTS.items()
    ]


@router.get("/worklists/{name}", response={200: CasePageOut, **ERRORS}, summary="工作清单中的事件")
def worklist(request: HttpRequest, name: str, page: Query[PageIn]):
    """pending 待我处理 · due_soon 临期 · overdue 超期 · returned 退回给我 · all 全部。

    派单员的“待我处理”是辖区内待受理、待派遣、被退单和重办待派的事件；承办单位的是本单位主办、
    已派遣或处置中的事件；居民的是已办结、等待本人评价的事件。
    """
    if name not in queries.WORKLISTS:
        raise Http404(WORKLIST_NOT_FOUND)
    return _page(request.user, queries.worklist(request.user, name), page)


@router.get("/catalog", response={200: list[MatterOut], **ERRORS}, summary="事项清单")
def catalog(
    request: HttpRequest,
    include_inactive: bool = Query(False, description="是否包括已停用的事项"),
    category: str | None = Query(None, max_length=50, description="只列出该大类"),
):
    """事项清单：每个事项的编码、分类、主责部门、处置层级和两个时限。"""
    qs = Matter.objects.all() if include_inactive else Matter.objects.filter(active=True)
    if category:
        qs = qs.filter(category=category)
    return [
        {
            "code": m.code,
            "category": m.category,
            "subcategory": m.subcategory,
            "name": m.name,
            "department_code": m.department_code,
            "tier": _labelled(m.tier, m.get_tier_display()),
            "priority": _labelled(m.priority, m.get_priority_display()),
            "response_hours": m.response_hours,
            "resolve_workdays": m.resolve_workdays,
            "description": m.description,
            "active": m.active,
        }
        for m in qs.order_by("code")
    ]


@router.get("/rates", response={200: RatesOut, **ERRORS}, summary="三率")
def rates(request: HttpRequest, period: Query[RatesIn]):
    """响应率、解决率、满意率，按主办单位统计，最后一行为合计；只统计调用者可见的事件。

    日期按本地时间计，含首尾两天；默认本月 1 日至今天。期间不能超过 366 天。
    """
    require(request.user, Action.VIEW_RATES, request)
    today = timezone.localdate()
    start = period.start or today.replace(day=1)
    end = period.end or today
    if end < start:
        raise Invalid("end", "参数 end 不能早于 start")
    if (end - start).days > 366:
        raise Invalid("end", "统计期间不能超过 366 天")
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start, time.min), tz)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz)
    user = request.user
    table = queries.rates_in_scope(user, since, until)
    rows = [
        {
            "unit": r.unit,
            "within": r.within,
            "due": r.due,
            "responded_in_time": r.responded_in_time,
            "evaluated": r.evaluated,
            "solved": r.solved,
            "satisfied": r.satisfied,
            "response_rate": r.response_rate,
            "resolution_rate": r.resolution_rate,
            "satisfaction_rate": r.satisfaction_rate,
        }
        for r in table
    ]
    return {"start": start, "end": end, "rows": rows}


# --- actions ----------------------------------------------------------------------------


def _act(request: HttpRequest, number: str, action: str, version: int | None, do: Callable[[Case, User], object]):
    """Run one lifecycle action, checked in lib.workflow's order before anything is written:
    scope (404), then the version (409 with what changed), then the permission in the current
    state (403, audited). A refused request leaves no trace but its audit entry."""
    case = _case_or_404(request, number)
    user = request.user
    try:
        services.check(case, user, action, version)
        do(case, user)
    except services.CaseError as exc:
        return _refusal(request, exc)
    return _detail(user, _fresh(case))


def _units(case: Case, body: LeadIn) -> tuple[Region | None, Department | None, list[Department]]:
    """The lead unit and assisting departments named in BODY; departments come from the case's district."""
    district = ancestor_at(case.region, Level.DISTRICT)
    departments = Department.objects.filter(district=district).select_related("district")
    lead_region = None
    if body.lead_region_code:
        lead_region = Region.objects.filter(code=body.lead_region_code).first()
        if lead_region is None:
            raise services.CaseError("主办单位不存在", "lead_region_code")
    lead_department = None
    if body.lead_department_id is not None or body.lead_department_code:
        if body.lead_department_id is not None:
            lead_department = departments.filter(pk=body.lead_department_id).first()
        else:
            lead_department = departments.filter(code=body.lead_department_code).first()
        if lead_department is None:
            field = "lead_department_id" if body.lead_department_id is not None else "lead_department_code"
            raise services.CaseError("主办部门不存在，或不是事件所在区/县的部门", field)
    assists: dict[int, Department] = {}
    for field, lookup, values in (("assist_department_ids", "pk", body.assist_department_ids),
                                  ("assist_department_codes", "code", body.assist_department_codes)):
        for value in dict.fromkeys(values):
            department = departments.filter(**{lookup: value}).first()
            if department is None:
                raise services.CaseError(f"协办部门“{value}”不存在，或不是事件所在区/县的部门", field)
            assists[department.pk] = department
    return lead_region, lead_department, list(assists.values())


ACTION_RESPONSES = {200: CaseDetailOut, **CASE_ERRORS}


def _doc(action: str) -> str:
    return policy.RULES[action].label


@router.post("/cases/{number}/actions/accept", response=ACTION_RESPONSES, summary=_doc("accept"))
def act_accept(request: HttpRequest, number: str, payload: AcceptIn):
    """派单员受理居民反映的事件，开始计时；可同时改正事项分类（改正记入分类纠正，用于训练）。"""
    return _act(request, number, "accept", payload.version, lambda case, user: services.accept(
        case, user, payload.version, matter_code=payload.matter_code, note=payload.note))


@router.post("/cases/{number}/actions/dispatch", response=ACTION_RESPONSES, summary=_doc("dispatch"))
def act_dispatch(request: HttpRequest, number: str, payload: DispatchIn):
    """派单员把事件派给一个主办单位：属地（lead_region_code）或事件所在区/县的部门
    （lead_department_id 或 lead_department_code），可加协办部门。"""

    def do(case: Case, user: User):
        lead_region, lead_department, assists = _units(case, payload)
        return services.dispatch(case, user, payload.version, lead_region=lead_region, lead_department=lead_department,
                                 assists=assists, matter_code=payload.matter_code, note=payload.note)

    return _act(request, number, "dispatch", payload.version, do)


@router.post("/cases/{number}/actions/start", response=ACTION_RESPONSES, summary=_doc("start"))
def act_start(request: HttpRequest, number: str, payload: VersionIn):
    """主办单位签收，开始处置。"""
    return _act(request, number, "start", payload.version,
                lambda case, user: services.start(case, user, payload.version))


@router.post("/cases/{number}/actions/respond", response=ACTION_RESPONSES, summary=_doc("respond"))
def act_respond(request: HttpRequest, number: str, payload: NoteIn):
    """记录与反映人联系的情况（响应时限以此为准）。"""
    return _act(request, number, "respond", payload.version,
                lambda case, user: services.respond(case, user, payload.version, payload.note))


@router.post("/cases/{number}/actions/resolve", response=ACTION_RESPONSES, summary=_doc("resolve"))
def act_resolve(request: HttpRequest, number: str, payload: ResultIn):
    """主办单位办结，填写办理结果；反映人收到评价提醒，合并进来的重复事件一并办结。"""
    return _act(request, number, "resolve", payload.version,
                lambda case, user: services.resolve(case, user, payload.version, payload.result))


@router.post("/cases/{number}/actions/resolve_on_spot", response=ACTION_RESPONSES, summary=_doc("resolve_on_spot"))
def act_resolve_on_spot(request: HttpRequest, number: str, payload: ResultIn):
    """本网格的网格员就地处置网格级事项（小事一格解决）。"""
    return _act(request, number, "resolve_on_spot", payload.version,
                lambda case, user: services.resolve_on_spot(case, user, payload.version, payload.result))


@router.post("/cases/{number}/actions/return", response=ACTION_RESPONSES, summary=_doc("return"))
def act_return(request: HttpRequest, number: str, payload: ReasonIn):
    """主办单位退单（理由至少 4 个字），交派单员裁定。"""
    return _act(request, number, "return", payload.version,
                lambda case, user: services.return_case(case, user, payload.version, payload.reason))


@router.post("/cases/{number}/actions/arbitrate", response=ACTION_RESPONSES, summary=_doc("arbitrate"))
def act_arbitrate(request: HttpRequest, number: str, payload: ArbitrateIn):
    """派单员裁定退单：uphold=true 支持退单并改派给新的主办单位；false 驳回，原单位继续办理。"""

    def do(case: Case, user: User):
        lead_region, lead_department, assists = _units(case, payload)
        # Upholding writes the ruling, then re-dispatches: one transaction, so a re-dispatch
        # that is refused (say, a unit outside the dispatcher's territory) leaves no half ruling.
        with transaction.atomic():
            return services.arbitrate(case, user, payload.version, uphold=payload.uphold, note=payload.note,
                                      lead_region=lead_region, lead_department=lead_department, assists=assists)

    return _act(request, number, "arbitrate", payload.version, do)


@router.post("/cases/{number}/actions/request_extension", response=ACTION_RESPONSES,
             summary=_doc("request_extension"))
def act_request_extension(request: HttpRequest, number: str, payload: ExtensionIn):
    """主办单位申请延期（1–30 个工作日），由派单员审批；申请编号见返回的 extensions。"""
    return _act(request, number, "request_extension", payload.version, lambda case, user: services.request_extension(
        case, user, payload.version, payload.workdays, payload.reason))


@router.post("/cases/{number}/actions/decide_extension", response=ACTION_RESPONSES,
             summary=_doc("decide_extension"))
def act_decide_extension(request: HttpRequest, number: str, payload: DecideExtensionIn):
    """派单员批准或驳回延期申请；批准后办结时限按工作日顺延。"""

    def do(case: Case, user: User):
        extension = Extension.objects.filter(pk=payload.extension_id, case=case).first()
        if extension is None:
            raise services.CaseError("延期申请不存在", "extension_id")
        extension.case = case
        return services.decide_extension(extension, user, payload.version, approve=payload.approve, note=payload.note)

    return _act(request, number, "decide_extension", payload.version, do)


@router.post("/cases/{number}/actions/evaluate", response=ACTION_RESPONSES, summary=_doc("evaluate"))
def act_evaluate(request: HttpRequest, number: str, payload: EvaluateIn):
    """反映人评价或派单员电话回访：是否解决、是否满意分别记录。满意则结案；不满意退回主办单位重办一次，
    再次不满意交派单员裁定。"""
    return _act(request, number, "evaluate", payload.version, lambda case, user: services.evaluate(
        case, user, payload.version, solved=payload.solved, satisfied=payload.satisfied, comment=payload.comment))


@router.post("/cases/{number}/actions/reopen", response=ACTION_RESPONSES, summary=_doc("reopen"))
def act_reopen(request: HttpRequest, number: str, payload: ReasonIn):
    """派单员对已办结或已关闭的事件发起重办（如核查不合格）。"""
    return _act(request, number, "reopen", payload.version,
                lambda case, user: services.reopen(case, user, payload.version, payload.reason))


@router.post("/cases/{number}/actions/merge", response=ACTION_RESPONSES, summary=_doc("merge"))
def act_merge(request: HttpRequest, number: str, payload: MergeIn):
    """派单员把本事件作为重复件并入主事件（into_number）；主事件办结时本事件的反映人一并收到结果。"""

    def do(case: Case, user: User):
        into = queries.get_case(user, payload.into_number.strip())
        if into is None:
            raise services.CaseError("目标事件不存在", "into_number")
        return services.merge(case, user, payload.version, into)

    return _act(request, number, "merge", payload.version, do)


@router.post("/cases/{number}/actions/reject", response=ACTION_RESPONSES, summary=_doc("reject"))
def act_reject(request: HttpRequest, number: str, payload: ReasonIn):
    """派单员作废无效事件（理由至少 4 个字）。"""
    return _act(request, number, "reject", payload.version,
                lambda case, user: services.reject(case, user, payload.version, payload.reason))


@router.post("/cases/{number}/actions/supervise", response=ACTION_RESPONSES, summary=_doc("supervise"))
def act_supervise(request: HttpRequest, number: str, payload: SuperviseIn):
    """派单员或领导督办，通知主办单位。督办不改变事件状态，version 可不填。"""
    return _act(request, number, "supervise", payload.version,
                lambda case, user: services.supervise(case, user, payload.reason))


@router.post("/cases/{number}/actions/{action}", response={404: CASE_ERRORS[404]}, include_in_schema=False)
def act_unknown(request: HttpRequest, number: str, action: str):
    _case_or_404(request, number)
    raise Http404(f"没有“{action[:30]}”这个操作")
