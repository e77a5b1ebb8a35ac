"""Dispute and petition endpoints (矛盾纠纷、信访): ledger, every mediation step, the agreement,
screening rounds, monthly statistics, law search, petitions with their clocks.

Thin on purpose: disputes.services / petitions / screening write (and decide through
disputes.policy), disputes.queries reads and scopes. A record outside the caller's scope is
answered exactly as one that does not exist (404, audited). Refusals keep their Chinese
message and the field concerned: 400 bad input, 403 not allowed, 409 stale `version`.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from grassroots.accounts.permissions import audit_denial, can, require
from grassroots.accounts.roles import Action
from grassroots.api.errors import Invalid
from grassroots.api.once import IdempotencyKeyHeader, once
from grassroots.api.params import MAX_INT, Day, Moment, PageIn, RecordId, id_path, page_of
from grassroots.api.schemas import ERRORS, ConflictOut, ErrorOut, conflict_body
from grassroots.disputes import laws, petitions, policy, queries, screening, services
from grassroots.disputes.documents import agreement_docx
from grassroots.disputes.models import Agreement, Dispute, Petition
from grassroots.lib import workflow

router = Router(tags=["矛盾纠纷与信访"])

MAX_AMOUNT = Decimal("999999999999.99")  # Dispute.amount: 14 digits, 2 after the point


class DisputeErrorOut(ErrorOut):
    """A refusal of the disputes services: ErrorOut, with `field` naming the field when one is at fault."""


D_ERRORS = {**ERRORS, 400: DisputeErrorOut, 403: DisputeErrorOut, 409: ConflictOut}


def _refusal(request: HttpRequest, exc: services.DisputeError) -> Status:
    if isinstance(exc, services.Conflict):  # a lost race: what changed, and no audit entry
        return Status(409, conflict_body(exc))
    if isinstance(exc, services.NotAllowed):
        audit_denial(request.user, request, f"dispute api refused: {exc.message}")
    return Status(exc.status, {"detail": exc.message, "field": exc.field})


def _dispute_or_404(request: HttpRequest, number: str) -> Dispute:
    require(request.user, Action.VIEW_DISPUTES, request)
    d = queries.get_dispute(request.user, number)
    if d is None:
        if Dispute.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"dispute {number}")
        raise Http404("矛盾纠纷不存在")
    return d


def _petition_or_404(request: HttpRequest, number: str) -> Petition:
    p = queries.get_petition(request.user, number)
    if p is None:
        if Petition.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"petition {number}")
        raise Http404("信访件不存在")
    return p


def _ref(region) -> dict | None:
    return None if region is None else {"code": region.code, "name": region.name, "level": region.level}


# --- schemas ------------------------------------------------------------------------------------


class PartyIn(Schema):
    name: str = Field(max_length=100, description="姓名或单位名称")
    kind: str = Field("person", description="person 自然人 / organisation 法人或其他组织")
    id_number: str = Field("", max_length=30, description="身份证号或统一社会信用代码（可选）")
    phone: str = Field("", max_length=20, description="联系电话（可选）")
    address: str = Field("", max_length=200, description="住址（可选）")
    representative: str = Field("", max_length=50, description="法定代表人/负责人（单位，可选）")
    side: int = Field(0, ge=0, le=3, description="1 申请方、2 对方、3 第三人；不填按顺序第一个为申请方")


class DisputeIn(Schema):
    kind: str = Field(description="纠纷类型：neighbour 邻里、family 婚姻家庭、support 赡养抚养继承、land 土地宅基地、"
                                  "labour 劳资、property 物业、demolition 征地拆迁、consumer 消费、medical 医疗、"
                                  "traffic 交通事故、other 其他")
    description: str = Field(max_length=2000, description="纠纷简要情况")
    region_code: str = Field(description="发生地的社区或网格代码")
    parties: list[PartyIn] = Field(description="当事人（至少两方）")
    source: str = Field("resident", description="来源：screening 排查、resident 群众反映、grid 网格员走访、police110 110分流、petition 信访转入")
    title: str = Field("", max_length=100)
    place: str = Field("", max_length=200)
    people_involved: int = Field(2, ge=1, le=100000, description="涉及人数")
    amount: Decimal | None = Field(None, ge=0, le=MAX_AMOUNT, decimal_places=2, description="涉及金额（元）")
    risk: str = Field("normal", description="风险等级：normal 一般、major 较大、serious 重大")
    risk_reasons: str = Field("", max_length=500, description="风险研判理由（较大、重大时必填）")


class PartyOut(Schema):
    id: int
    name: str
    kind: str
    side: int
    id_number: str = Field(description="身份证号/统一社会信用代码，已脱敏；调解员经 POST …/parties/{id}/reveal 说明事由后查看完整信息")
    phone: str
    consented: bool | None


class DisputeEventOut(Schema):
    at: datetime
    action: str
    actor: str
    from_state: str
    to_state: str
    note: str
    data: dict


class DisputeOut(Schema):
    number: str
    title: str
    kind: str
    kind_label: str
    source: str
    stage: str
    stage_label: str
    risk: str
    people_involved: int
    amount: Decimal | None
    region: dict
    grid: dict | None
    tier: str
    handling_unit: dict
    created_at: datetime
    mediation_due_at: datetime | None
    confirmation: str
    confirm_due_at: datetime | None
    follow_up_due_at: datetime | None
    overdue: bool
    criminal: bool
    version: int


class DisputeDetailOut(DisputeOut):
    description: str
    risk_reasons: str
    place: str
    result: str
    case_number: str | None
    parties: list[PartyOut]
    sessions: list[dict]
    agreement: dict | None
    referrals: list[dict]
    follow_ups: list[dict]
    events: list[DisputeEventOut]
    allowed_actions: list[str]


class DisputePageOut(Schema):
    items: list[DisputeOut]
    count: int


def _dispute_out(d: Dispute) -> dict:
    return {
        "number": d.number, "title": d.title, "kind": d.kind, "kind_label": d.get_kind_display(), "source": d.source,
        "stage": d.stage, "stage_label": d.get_stage_display(), "risk": d.risk, "people_involved": d.people_involved,
        "amount": d.amount, "region": _ref(d.region), "grid": _ref(d.grid), "tier": d.tier,
        "handling_unit": _ref(d.handling_region), "created_at": d.created_at, "mediation_due_at": d.mediation_due_at,
        "confirmation": d.confirmation, "confirm_due_at": d.confirm_due_at, "follow_up_due_at": d.follow_up_due_at,
        "overdue": d.overdue, "criminal": d.criminal, "version": d.version,
    }


def _dispute_detail(user, d: Dispute) -> dict:
    agreement = Agreement.objects.filter(dispute=d).first()
    return _dispute_out(d) | {
        "description": d.description, "risk_reasons": d.risk_reasons, "place": d.place, "result": d.result,
        "case_number": d.case.number if d.case_id else None,
        "parties": [{"id": p.pk, "name": p.name, "kind": p.kind, "side": p.side, "consented": p.consented,
                     "id_number": p.id_number, "phone": p.phone} for p in d.parties.all()],  # masks (lib.privacy)
        "sessions": [{"held_at": s.held_at, "place": s.place, "mediators": s.mediators, "attendees": s.attendees,
                      "notes": s.notes} for s in d.sessions.all()],
        "agreement": None if agreement is None else {
            "form": agreement.form, "facts": agreement.facts, "responsibilities": agreement.responsibilities,
            "terms": agreement.terms, "performance": agreement.performance, "perform_by": agreement.perform_by,
            "mediator_names": agreement.mediator_names, "signed_by": agreement.signed_by,
            "effective_at": agreement.effective_at},
        "referrals": [{"to": r.to, "body": r.body, "reason": r.reason, "at": r.at} for r in d.referrals.all()],
        "follow_ups": [{"performance": f.performance, "note": f.note, "at": f.at} for f in d.follow_ups.all()],
        "events": [{"at": e.at, "action": e.action, "actor": e.actor_name, "from_state": e.from_stage,
                    "to_state": e.to_stage, "note": e.note, "data": e.data} for e in d.events.all()],
        "allowed_actions": policy.allowed_actions(user, d),
    }


# --- disputes -----------------------------------------------------------------------------------


@router.post("/disputes", response={201: DisputeDetailOut, **D_ERRORS}, summary="登记矛盾纠纷")
@once("disputes.create", DisputeDetailOut)
def create_dispute(request: HttpRequest, payload: DisputeIn, idempotency_key: IdempotencyKeyHeader = None):
    """登记一件矛盾纠纷。风险等级、涉及人数或金额达到提级标准时自动交街道或区矛调中心调解（记入时间线）。
    不符合要求时返回 400，`field` 指出哪个字段，且不写入任何数据。"""
    try:
        d = services.register(
            request.user, kind=payload.kind, description=payload.description, region=payload.region_code,
            parties=[p.dict() for p in payload.parties], source=payload.source, title=payload.title,
            place=payload.place, people_involved=payload.people_involved, amount=payload.amount, risk=payload.risk,
            risk_reasons=payload.risk_reasons)
    except services.DisputeError as exc:
        return _refusal(request, exc)
    return Status(201, _dispute_detail(request.user, d))


@router.get("/disputes", response={200: DisputePageOut, **ERRORS}, summary="列出矛盾纠纷")
def list_disputes(request: HttpRequest, page: Query[PageIn],
                  worklist: str = Query("all", description="to_accept 待受理、mediating 调解中、overdue 超期、"
                                        "confirm 司法确认临期、follow_up 待回访、failed 调解不成、all 全部"),
                  kind: str = Query("", description="纠纷类型")):
    """调用者辖区范围内的矛盾纠纷，按登记时间倒序。"""
    require(request.user, Action.VIEW_DISPUTES, request)
    if worklist not in dict(queries.DISPUTE_LISTS):
        raise Invalid("worklist", "参数 worklist 应为以下之一：" + "、".join(dict(queries.DISPUTE_LISTS)))
    qs = queries.dispute_worklist(request.user, worklist)
    if kind:
        qs = qs.filter(kind=kind)
    qs = qs.order_by("-created_at", "-id")
    return {"items": [_dispute_out(d) for d in page_of(qs, page)], "count": qs.count()}


@router.get("/disputes/{number}", response={200: DisputeDetailOut, **ERRORS}, summary="矛盾纠纷详情与时间线")
def dispute_detail(request: HttpRequest, number: str):
    return _dispute_detail(request.user, _dispute_or_404(request, number))


class RevealIn(Schema):
    reason: Literal["contact", "agreement", "verify", "other"] = Field(
        description="查看事由：contact 联系当事人、agreement 制作调解协议/申请司法确认、verify 核实身份、other 其他（须在 note 中说明）"
    )
    note: str = Field("", max_length=100, description="说明；reason 为 other 时必填")


class PartyFullOut(Schema):
    id_number: str | None = Field(None, description="完整身份证号/统一社会信用代码")
    phone: str | None = Field(None, description="完整联系电话")


@router.post("/disputes/{number}/parties/{party_id}/reveal", response={200: PartyFullOut, **D_ERRORS},
             summary="查看当事人完整信息")
def reveal_party(request: HttpRequest, number: str, payload: RevealIn, party_id: int = id_path("当事人编号")):
    """承办该纠纷的调解组织人员查看一名当事人的完整身份证号和电话。须说明事由；每次查看都记入审计日志
    （查看人、对象、字段、时间、事由、途径）。其他角色返回 403；范围之外返回 404。"""
    d = _dispute_or_404(request, number)
    party = d.parties.filter(pk=party_id).first()
    if party is None:
        raise Http404("当事人不存在")
    try:
        return services.reveal_party(request.user, d, party, payload.reason, payload.note, request=request,
                                     channel="api")
    except services.DisputeError as exc:
        return _refusal(request, exc)


@router.get("/disputes/{number}/agreement.docx", response={200: None, **ERRORS}, summary="下载调解协议书（DOCX）")
def dispute_agreement(request: HttpRequest, number: str):
    """书面调解协议书（人民调解法第二十九条所列内容），Word 格式。"""
    d = _dispute_or_404(request, number)
    if not Agreement.objects.filter(dispute=d, form=Agreement.Form.WRITTEN).exists():
        raise Http404("该纠纷没有书面调解协议")
    response = HttpResponse(agreement_docx(d),
                            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    response["Content-Disposition"] = f'attachment; filename="agreement-{d.number}.docx"'
    return response


class DisputeVersionIn(Schema):
    version: int = Field(ge=1, le=MAX_INT, description="调用者看到的版本号（见详情的 version）")


class DisputeNoteIn(DisputeVersionIn):
    note: str = Field("", max_length=500)


class DisputeReasonIn(DisputeVersionIn):
    reason: str = Field(max_length=500)


class ReferralIn(DisputeVersionIn):
    to: str = Field(description="court 法院、arbitration 仲裁机构、administrative 行政机关、police 公安机关、petition 信访部门")
    body: str = Field(max_length=100, description="受理机关名称")
    reason: str = Field(max_length=300)


class RefuseIn(ReferralIn):
    party_id: RecordId = Field(description="不同意调解的当事人 id")


class SessionIn(DisputeVersionIn):
    held_at: Moment
    place: str = Field(max_length=200)
    mediators: str = Field(max_length=200)
    attendees: str = Field(max_length=300)
    notes: str = Field(max_length=2000)


class AgreeIn(DisputeVersionIn):
    form: str = Field(description="written 书面协议（签名后生效）/ oral 口头协议（达成即生效）")
    facts: str = Field(max_length=2000, description="纠纷的主要事实、争议事项")
    responsibilities: str = Field("", max_length=2000, description="各方当事人的责任")
    terms: str = Field(max_length=2000, description="协议内容")
    performance: str = Field(max_length=300, description="履行方式")
    perform_by: Day = Field(description="履行期限")
    mediator_names: str = Field("", max_length=100)


class SignIn(DisputeVersionIn):
    signed_by: list[str] = Field(description="已签名的人：各方当事人和人民调解员")


class ConfirmIn(DisputeVersionIn):
    outcome: str = Field(description="applied 已申请、confirmed 已确认有效、rejected 未予确认")
    note: str = Field("", max_length=300)


class FollowUpIn(DisputeVersionIn):
    performance: str = Field(description="full 已全部履行、partial 部分履行、none 未履行")
    note: str = Field("", max_length=1000)


class RiskIn(DisputeVersionIn):
    risk: str
    reasons: str = Field(max_length=500)
    people_involved: int | None = Field(None, ge=1, le=100000)
    amount: Decimal | None = Field(None, ge=0, le=MAX_AMOUNT, decimal_places=2)


DISPUTE_ACTIONS = {
    "accept": (DisputeNoteIn, lambda d, u, p: services.accept(d, u, p.version, note=p.note)),
    "refuse": (RefuseIn, lambda d, u, p: services.refuse(d, u, p.version, party_id=p.party_id, to=p.to, body=p.body,
                                                         reason=p.reason)),
    "record_session": (SessionIn, lambda d, u, p: services.record_session(
        d, u, p.version, held_at=p.held_at, place=p.place, mediators=p.mediators, attendees=p.attendees, notes=p.notes)),
    "agree": (AgreeIn, lambda d, u, p: services.agree(
        d, u, p.version, form=p.form, facts=p.facts, responsibilities=p.responsibilities, terms=p.terms,
        performance=p.performance, perform_by=p.perform_by, mediator_names=p.mediator_names)),
    "sign": (SignIn, lambda d, u, p: services.sign(d, u, p.version, signed_by=p.signed_by)),
    "fail": (DisputeReasonIn, lambda d, u, p: services.fail(d, u, p.version, reason=p.reason)),
    "escalate": (DisputeReasonIn, lambda d, u, p: services.escalate(d, u, p.version, reason=p.reason)),
    "refer": (ReferralIn, lambda d, u, p: services.refer(d, u, p.version, to=p.to, body=p.body, reason=p.reason)),
    "confirm": (ConfirmIn, lambda d, u, p: services.confirm(d, u, p.version, outcome=p.outcome, note=p.note)),
    "follow_up": (FollowUpIn, lambda d, u, p: services.follow_up(d, u, p.version, performance=p.performance,
                                                                 note=p.note)),
    "close": (DisputeNoteIn, lambda d, u, p: services.close(d, u, p.version, note=p.note)),
    "assess_risk": (RiskIn, lambda d, u, p: services.assess_risk(d, u, p.version, risk=p.risk, reasons=p.reasons,
                                                                 people_involved=p.people_involved, amount=p.amount)),
    "flag_criminal": (DisputeNoteIn, lambda d, u, p: services.flag_criminal(d, u, p.version, note=p.note)),
}


def _register_action(kind: str, path: str, name: str, schema: type[Schema], run, *, rules: dict, fetch, conflict: str,
                     reread, detail, out: type[Schema]) -> None:
    """POST /{PATH}/{number}/{name}: one action on a dispute or petition (KIND), checked against
    the payload's version (CONFLICT when out of date), RUN, answered with the record re-read
    (REREAD) as DETAIL gives it, or the refusal."""

    def operation(request: HttpRequest, number: str, payload: schema):
        record = fetch(request, number)
        try:
            flow = petitions.FLOW if kind == "petition" else services.FLOW
            workflow.check_version(flow, record, payload.version)  # stale: 409 with what changed, before any 403
            run(record, request.user, payload)
        except services.DisputeError as exc:
            return _refusal(request, exc)
        return detail(request.user, reread(request.user, number) or record)

    operation.__name__ = f"{kind}_{name}"
    router.post(f"/{path}/{{number}}/{name.replace('_', '-')}", response={200: out, **D_ERRORS},
                summary=rules[name].label, operation_id=f"{kind}_{name}")(operation)


for _name, (_schema, _run) in DISPUTE_ACTIONS.items():
    _register_action("dispute", "disputes", _name, _schema, _run, rules=policy.RULES, fetch=_dispute_or_404,
                     conflict=services.CONFLICT, reread=queries.get_dispute, detail=_dispute_detail,
                     out=DisputeDetailOut)


@router.get("/dispute-stats", response={200: list[dict], **ERRORS}, summary="矛盾纠纷月度统计（按调解层级）")
def dispute_stats(request: HttpRequest, month: str = Query("", description="月份 YYYY-MM，默认本月")):
    require(request.user, Action.VIEW_DISPUTES, request)
    try:
        when = datetime.strptime(month, "%Y-%m").date() if month else timezone.localdate().replace(day=1)
    except ValueError:
        raise Invalid("month", "参数 month 应为 YYYY-MM") from None
    return queries.monthly_table(request.user, when)


# --- law search ---------------------------------------------------------------------------------


class ArticleOut(Schema):
    citation: str
    law: str
    article_no: str
    chapter: str | None
    text: str


@router.get("/laws/search", response={200: list[ArticleOut], **ERRORS, 503: ErrorOut}, summary="法律法规全文检索")
def law_search(request: HttpRequest, q: str = Query(..., min_length=1, max_length=100, description="检索词，空格分隔"),
               law: str = Query("", max_length=50, description="限定法律简称，如 民法典")):
    require(request.user, Action.VIEW_DISPUTES, request)
    try:
        found = laws.find(q, law=law)
    except laws.CorpusMissing as exc:
        return Status(503, {"detail": str(exc)})
    return [{"citation": a.citation, "law": a.short_name, "article_no": a.article_no, "chapter": a.chapter,
             "text": a.text} for a in found]


@router.get("/disputes/{number}/laws", response={200: list[ArticleOut], **ERRORS, 503: ErrorOut}, summary="纠纷的法条参考")
def dispute_laws(request: HttpRequest, number: str):
    d = _dispute_or_404(request, number)
    try:
        found = laws.relevant(d.kind, f"{d.title} {d.description}")
    except laws.CorpusMissing as exc:
        return Status(503, {"detail": str(exc)})
    return [{"citation": a.citation, "law": a.short_name, "article_no": a.article_no, "chapter": a.chapter,
             "text": a.text} for a in found]


# --- screening rounds ---------------------------------------------------------------------------


class RoundOut(Schema):
    id: int
    unit: dict
    kind: str
    title: str
    period_start: date
    due_at: datetime
    closed_at: datetime | None
    none_found: bool
    overdue: bool
    disputes: list[str]


class CloseRoundIn(Schema):
    disputes: list[str] = Field(default_factory=list, description="本轮排查发现的矛盾纠纷编号")
    none_found: bool = Field(False, description="声明未发现矛盾纠纷")
    note: str = Field("", max_length=300)


def _round_out(r) -> dict:
    return {"id": r.pk, "unit": _ref(r.region), "kind": r.kind, "title": r.title, "period_start": r.period_start,
            "due_at": r.due_at, "closed_at": r.closed_at, "none_found": r.none_found,
            "overdue": r.closed_at is None and r.due_at < timezone.now(),
            "disputes": list(r.disputes.values_list("number", flat=True))}


@router.get("/screening-rounds", response={200: list[RoundOut], **ERRORS}, summary="矛盾纠纷排查")
def list_rounds(request: HttpRequest, page: Query[PageIn], open_only: bool = Query(False, description="只看未完成的")):
    require(request.user, Action.VIEW_DISPUTES, request)
    qs = screening.rounds_for(request.user).order_by("due_at", "region_path")
    if open_only:
        qs = qs.filter(closed_at__isnull=True)
    return [_round_out(r) for r in page_of(qs, page)]


@router.post("/screening-rounds/{round_id}/close", response={200: RoundOut, **D_ERRORS}, summary="完成排查")
def close_round(request: HttpRequest, payload: CloseRoundIn, round_id: int = id_path("排查编号")):
    """列出本轮发现的矛盾纠纷（须在本单位辖区内），或声明未发现。"""
    require(request.user, Action.VIEW_DISPUTES, request)
    rnd = screening.rounds_for(request.user).filter(pk=round_id).first()
    if rnd is None:
        raise Http404("排查不存在")
    try:
        rnd = screening.close_round(request.user, rnd, dispute_numbers=payload.disputes,
                                    none_found=payload.none_found, note=payload.note)
    except services.DisputeError as exc:
        return _refusal(request, exc)
    return _round_out(rnd)


# --- petitions ----------------------------------------------------------------------------------


class PetitionIn(Schema):
    form: str = Field(description="visit 来访、letter 来信、online 网上信访")
    petitioner_name: str = Field(max_length=50)
    petitioner_id_number: str = Field("", max_length=18)
    petitioner_phone: str = Field("", max_length=20)
    title: str = Field(max_length=100, description="信访事项")
    content: str = Field(max_length=2000, description="主要诉求")
    region_code: str = Field(description="事项属地（区、街道、社区或网格代码）")
    collective: bool = False
    people_count: int = Field(1, ge=1, le=100000)
    skip_level: bool = Field(False, description="越级")
    received_at: Moment | None = Field(None, description="收到时间，默认现在")


class PetitionOut(Schema):
    number: str
    form: str
    title: str
    state: str
    state_label: str
    petitioner_name: str
    petitioner_id_number: str
    petitioner_phone: str
    collective: bool
    people_count: int
    skip_level: bool
    region: dict
    received_at: datetime
    accept_due_at: datetime | None
    handle_due_at: datetime | None
    extended_days: int
    request_due_at: datetime | None
    answer_due_at: datetime | None
    overdue: bool
    backlog: bool
    repeat_of: str | None
    repeat_count: int
    case_leader: str | None
    responsible: str | None
    version: int


class PetitionDetailOut(PetitionOut):
    content: str
    reply: str
    plans: list[dict]
    events: list[DisputeEventOut]
    allowed_actions: list[str]


def _petition_out(user, p: Petition) -> dict:
    return {
        "number": p.number, "form": p.form, "title": p.title, "state": p.state, "state_label": p.get_state_display(),
        "petitioner_name": p.petitioner_name,
        "petitioner_id_number": p.petitioner_id_number, "petitioner_phone": p.petitioner_phone,  # masks
        "collective": p.collective, "people_count": p.people_count, "skip_level": p.skip_level,
        "region": _ref(p.region), "received_at": p.received_at, "accept_due_at": p.accept_due_at,
        "handle_due_at": p.handle_due_at, "extended_days": p.extended_days, "request_due_at": p.request_due_at,
        "answer_due_at": p.answer_due_at, "overdue": p.overdue, "backlog": p.backlog,
        "repeat_of": p.repeat_of.number if p.repeat_of_id else None, "repeat_count": p.repeat_count,
        "case_leader": p.case_leader.display_name if p.case_leader_id else None,
        "responsible": p.responsible.display_name if p.responsible_id else None, "version": p.version,
    }


def _petition_detail(user, p: Petition) -> dict:
    return _petition_out(user, p) | {
        "content": p.content, "reply": p.reply,
        "plans": [{"measures": x.measures, "target_date": x.target_date, "progress": x.progress, "at": x.at}
                  for x in p.plans.all()],
        "events": [{"at": e.at, "action": e.action, "actor": e.actor_name, "from_state": e.from_state,
                    "to_state": e.to_state, "note": e.note, "data": e.data} for e in p.events.all()],
        "allowed_actions": policy.allowed_petition_actions(user, p),
    }


class PetitionPageOut(Schema):
    items: list[PetitionOut]
    count: int


@router.post("/petitions", response={201: PetitionDetailOut, **D_ERRORS}, summary="信访登记")
@once("petitions.create", PetitionDetailOut)
def create_petition(request: HttpRequest, payload: PetitionIn, idempotency_key: IdempotencyKeyHeader = None):
    """登记信访件，开始 15 日受理期限；同一信访人就同一事项再次信访时自动关联首件（repeat_of）。"""
    try:
        p = petitions.register(request.user, **payload.dict(exclude={"region_code"}), region=payload.region_code)
    except services.DisputeError as exc:
        return _refusal(request, exc)
    return Status(201, _petition_detail(request.user, p))


@router.get("/petitions", response={200: PetitionPageOut, **ERRORS}, summary="列出信访件")
def list_petitions(request: HttpRequest, page: Query[PageIn],
                   worklist: str = Query("all", description="to_accept 待受理、handling 办理中、due_soon 临期、overdue 超期、"
                                         "review 复查复核、backlog 积案、repeat 重复信访、all 全部")):
    if not can(request.user, Action.VIEW_PETITIONS) and not Petition.objects.filter(case_leader=request.user).exists():
        require(request.user, Action.VIEW_PETITIONS, request)
    if worklist not in dict(queries.PETITION_LISTS):
        raise Invalid("worklist", "参数 worklist 应为以下之一：" + "、".join(dict(queries.PETITION_LISTS)))
    qs = queries.petition_worklist(request.user, worklist).select_related("repeat_of", "case_leader", "responsible") \
        .order_by("-received_at", "-id")
    return {"items": [_petition_out(request.user, p) for p in page_of(qs, page)],
            "count": qs.count()}


@router.get("/petitions/{number}", response={200: PetitionDetailOut, **ERRORS}, summary="信访件详情与时间线")
def petition_detail(request: HttpRequest, number: str):
    return _petition_detail(request.user, _petition_or_404(request, number))


class PetitionerFullOut(Schema):
    petitioner_id_number: str | None = Field(None, description="完整身份证号")
    petitioner_phone: str | None = Field(None, description="完整联系电话")


@router.post("/petitions/{number}/reveal", response={200: PetitionerFullOut, **D_ERRORS}, summary="查看信访人完整信息")
def reveal_petitioner(request: HttpRequest, number: str, payload: RevealIn):
    """办理该信访件的信访部门和包案领导查看信访人的完整身份证号和电话。须说明事由；每次查看都记入审计日志。"""
    p = _petition_or_404(request, number)
    try:
        return petitions.reveal_petitioner(request.user, p, payload.reason, payload.note, request=request,
                                           channel="api")
    except services.DisputeError as exc:
        return _refusal(request, exc)


class ExtendIn(DisputeVersionIn):
    days: int = Field(ge=-MAX_INT, le=MAX_INT, description="延长天数（默认最多 30 日，限一次）")
    reason: str = Field(max_length=300)


class TextIn(DisputeVersionIn):
    text: str = Field(max_length=2000)


class AssignIn(DisputeVersionIn):
    case_leader: str = Field(description="包案领导的用户名")
    responsible: str = Field(description="责任人的用户名")


class PlanIn(DisputeVersionIn):
    measures: str = Field(max_length=2000)
    target_date: Day
    progress: str = Field("", max_length=2000)


def _user(username: str):
    from grassroots.accounts.models import User

    return User.objects.filter(username=username).select_related("region").first()


PETITION_ACTIONS = {
    "accept": (DisputeNoteIn, lambda p, u, x: petitions.accept(p, u, x.version, note=x.note)),
    "not_accept": (DisputeReasonIn, lambda p, u, x: petitions.not_accept(p, u, x.version, reason=x.reason)),
    "extend": (ExtendIn, lambda p, u, x: petitions.extend(p, u, x.version, days=x.days, reason=x.reason)),
    "reply": (TextIn, lambda p, u, x: petitions.reply(p, u, x.version, text=x.text)),
    "request_review": (DisputeNoteIn, lambda p, u, x: petitions.request_review(p, u, x.version, note=x.note)),
    "answer_review": (TextIn, lambda p, u, x: petitions.answer_review(p, u, x.version, text=x.text)),
    "request_recheck": (DisputeNoteIn, lambda p, u, x: petitions.request_recheck(p, u, x.version, note=x.note)),
    "answer_recheck": (TextIn, lambda p, u, x: petitions.answer_recheck(p, u, x.version, text=x.text)),
    "assign": (AssignIn, lambda p, u, x: petitions.assign(p, u, x.version, case_leader=_user(x.case_leader),
                                                          responsible=_user(x.responsible))),
    "plan": (PlanIn, lambda p, u, x: petitions.plan(p, u, x.version, measures=x.measures, target_date=x.target_date,
                                                    progress=x.progress)),
}


for _name, (_schema, _run) in PETITION_ACTIONS.items():
    _register_action("petition", "petitions", _name, _schema, _run, rules=policy.PETITION_RULES,
                     fetch=_petition_or_404, conflict=petitions.CONFLICT, reread=queries.get_petition,
                     detail=_petition_detail, out=PetitionDetailOut)
