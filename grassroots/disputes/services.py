"""Writes to disputes: registration from every source, each stage of mediation, tiers.

Every step goes through `_transition`, which
  1. asks disputes.policy whether the actor may do it from the current stage (role + scope),
  2. writes the new fields with a conditional UPDATE on the version the actor saw — if
     someone else acted first, nothing is written and the actor is told (Conflict),
  3. recomputes `next_due_at` (what the worker must look at next) and appends a
     DisputeEvent (the timeline), all in one transaction.
Input is checked before anything is written: a refusal changes nothing half-way.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, region_in_scope
from grassroots.accounts.roles import Action
from grassroots.disputes import policy
from grassroots.disputes.models import (
    RISK_ORDER,
    Agreement,
    Confirmation,
    Dispute,
    DisputeEvent,
    FollowUp,
    Kind,
    MediationSession,
    Party,
    Referral,
    Risk,
    Source,
    Stage,
)
from grassroots.disputes.notify import dispute_link, mediators_of, tell
from grassroots.lib import privacy, workflow
from grassroots.territory import directory
from grassroots.territory.directory import ancestor_at
from grassroots.territory.levels import LABELS, Level
from grassroots.territory.models import Region


class DisputeError(Exception):
    """A request that cannot be carried out; the message is for the user, in Chinese."""

    status = 400

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DisputeError):
    status = 403


class Conflict(DisputeError, workflow.Conflict):
    """Someone changed the dispute (or petition) first; `details()` says what changed."""

    status = 409


CONFLICT = "该纠纷刚被他人处理，您的操作没有生效，请刷新后查看最新状态"
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
# Why a mediator reads a party's whole ID number and phone (lib.privacy.reveal audits each read).
REVEAL_REASONS = {
    "contact": "联系当事人",
    "agreement": "制作调解协议、申请司法确认",
    "verify": "核实当事人身份",
    "other": "其他",
}
MAX_TEXT = 2000
TIERS = [Level.COMMUNITY, Level.STREET, Level.DISTRICT]
TIER_LABELS = {Level.COMMUNITY: "社区（村）人民调解委员会", Level.STREET: "街道矛调中心", Level.DISTRICT: "区矛调中心"}


@dataclass
class PartyIn:
    name: str
    kind: str = Party.Kind.PERSON
    id_number: str = ""
    phone: str = ""
    address: str = ""
    representative: str = ""
    side: int = 1


def _now() -> datetime:
    return timezone.now()


def _actor_name(user: User | None) -> str:
    return user.display_name if user is not None else "系统"


def _event(dispute: Dispute, actor: User | None, action: str, before: str, note: str = "", *, to_stage: str = "",
           at_version: int | None = None, **data) -> DisputeEvent:
    return DisputeEvent.objects.create(
        dispute=dispute, actor=actor, actor_name=_actor_name(actor), action=action, from_stage=before,
        to_stage=to_stage or dispute.stage, note=note, data=data, version=at_version,
    )


# --- clocks -------------------------------------------------------------------------------------


def confirm_warn_at(dispute: Dispute) -> datetime | None:
    if dispute.confirm_due_at is None:
        return None
    return dispute.confirm_due_at - timedelta(days=settings.DISPUTE_CONFIRM_WARN_DAYS)


def next_due(dispute: Dispute) -> datetime | None:
    """The next moment the worker must look at DISPUTE: mediation overdue, the judicial
    confirmation window about to close or closed (第33条), the follow-up due (第31条)."""
    moments = []
    if dispute.stage in (Stage.ACCEPTED, Stage.MEDIATING) and dispute.mediation_due_at and not dispute.overdue:
        moments.append(dispute.mediation_due_at)
    if dispute.stage in (Stage.AGREED, Stage.FOLLOW_UP) and dispute.confirmation == Confirmation.NONE \
            and dispute.confirm_due_at:
        moments.append(dispute.confirm_due_at if dispute.confirm_warned else confirm_warn_at(dispute))
    if dispute.stage == Stage.AGREED and dispute.follow_up_due_at and not dispute.overdue:
        moments.append(dispute.follow_up_due_at)
    return min(moments) if moments else None


def _local_end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.max.time().replace(microsecond=0)))


# --- tiers --------------------------------------------------------------------------------------


def required_tier(risk: str, people: int, amount) -> tuple[str, list[str]]:
    """The lowest tier that may mediate a dispute this big, and why (settings.DISPUTE_ESCALATION).

    小事不出村、大事不出镇: a dispute stays with the community committee unless a threshold
    of a higher tier is reached — the risk level, the people involved or the amount at stake.
    """
    tier, reasons = Level.COMMUNITY, []
    for level in (Level.STREET, Level.DISTRICT):
        limits = settings.DISPUTE_ESCALATION.get(level, {})
        why = []
        if limits.get("risk") and RISK_ORDER.get(risk, 0) >= RISK_ORDER[limits["risk"]]:
            why.append(f"风险等级为“{Risk(risk).label}”")
        if limits.get("people") and people >= limits["people"]:
            why.append(f"涉及 {people} 人（≥{limits['people']}）")
        if limits.get("amount") and amount is not None and amount >= limits["amount"]:
            why.append(f"涉及金额 {amount:,.0f} 元（≥{limits['amount']:,}）")
        if why:
            tier, reasons = level, why
    return tier, reasons


def _tier_index(level: str) -> int:
    return TIERS.index(level)


# --- input checks -------------------------------------------------------------------------------


def _text(value: str, label: str, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DisputeError(f"请填写{label}", field)
    if len(value) > limit:
        raise DisputeError(f"{label}不能超过 {limit} 字", field)
    return value


def _amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise DisputeError("涉及金额应为数字（元）", "amount") from None
    if amount < 0 or amount >= Decimal("1e12"):
        raise DisputeError("涉及金额应在 0 到 1 万亿元之间", "amount")
    return amount.quantize(Decimal("0.01"))


def _people(value) -> int:
    try:
        people = int(value)
    except (TypeError, ValueError):
        raise DisputeError("涉及人数应为整数", "people_involved") from None
    if not 1 <= people <= 100_000:
        raise DisputeError("涉及人数应在 1 到 100000 之间", "people_involved")
    return people


def _parties(raw) -> list[PartyIn]:
    parties = [p if isinstance(p, PartyIn) else PartyIn(**p) for p in (raw or [])]
    parties = [p for p in parties if (p.name or "").strip()]
    if len(parties) < 2:
        raise DisputeError("请至少填写两方当事人", "parties")
    if len(parties) > 50:
        raise DisputeError("当事人最多 50 个，人数众多时请填写代表", "parties")
    for i, p in enumerate(parties, 1):
        p.name = _text(p.name, f"第 {i} 个当事人的姓名/名称", "parties", limit=100)
        if p.kind not in Party.Kind.values:
            raise DisputeError(f"第 {i} 个当事人的类型不正确", "parties")
        p.id_number = (p.id_number or "").strip().upper()
        if p.id_number:
            try:
                p.id_number = (id_number(p.id_number) if p.kind == Party.Kind.PERSON else credit_code(p.id_number))
            except DisputeError as exc:
                raise DisputeError(f"当事人“{p.name}”的{exc.message}", "parties") from None
        p.phone = (p.phone or "").strip()
        if p.phone and not PHONE.match(p.phone):
            raise DisputeError(f"当事人“{p.name}”的联系电话应为 11 位手机号或区号-座机号", "parties")
        p.address = _text(p.address, "住址", "parties", required=False, limit=200)
        p.representative = _text(p.representative, "负责人", "parties", required=False, limit=50)
        if p.side not in (1, 2, 3):
            p.side = 1 if i == 1 else 2
    if len({p.side for p in parties} - {3}) < 2:
        for i, p in enumerate(parties):
            p.side = 1 if i == 0 else 2
    return parties


def id_number(raw: str, field: str = "parties") -> str:
    """A person's 18-digit ID number, with its check digit and birth date checked (ledger.identity)."""
    from grassroots.ledger.identity import InvalidIdentity, parse_id

    try:
        return parse_id(raw).number
    except InvalidIdentity as exc:
        raise DisputeError(str(exc), field) from None


def credit_code(raw: str, field: str = "parties") -> str:
    """An organisation's 统一社会信用代码 (GB 32100-2015), its check character included (python-stdnum)."""
    from stdnum import exceptions
    from stdnum.cn import uscc

    try:
        return uscc.validate(raw)
    except exceptions.InvalidChecksum:
        raise DisputeError("统一社会信用代码校验位不正确，请核对", field) from None
    except exceptions.ValidationError:
        raise DisputeError("统一社会信用代码应为 18 位数字或大写字母", field) from None


def reveal_reason(reason: str, note: str) -> str:
    """The reason text of a preset reason (REVEAL_REASONS) and its note, or DisputeError."""
    if reason not in REVEAL_REASONS:
        raise DisputeError("请选择查看完整信息的事由", "reason")
    note = " ".join((note or "").split())[:100]
    if reason == "other" and len(note) < 2:
        raise DisputeError("选择“其他”时请简要说明事由", "note")
    return REVEAL_REASONS[reason] + (f"：{note}" if note else "")


def reveal_party(actor: User, dispute: Dispute, party: Party, reason: str, note: str = "", *, request=None,
                 channel: str = "page") -> dict:
    """A party's whole ID number and phone for the dispute's mediators, audited (lib.privacy.reveal)."""
    if party.dispute_id != dispute.pk:
        raise DisputeError("当事人不存在", "party")
    if not policy.may_reveal_party(actor, dispute):
        raise NotAllowed("只有承办该纠纷的调解组织人员可以查看当事人的完整信息")
    why = reveal_reason(reason, note)
    fields = [f for f in ("id_number", "phone") if getattr(party, f)]
    if not fields:
        raise DisputeError("该当事人没有登记身份证号或电话", "party")
    return privacy.reveal(actor, party, fields, reason=why, request=request, channel=channel,
                          label=f"{dispute.number} {party.name}", region_path=dispute.region_path)


def _location(actor: User, region) -> tuple[Region | None, Region]:
    if isinstance(region, str):
        region = directory.region_by_code(region)
    if region is None or not region_in_scope(actor, region):
        raise DisputeError("所选社区/网格不存在或不在您的辖区内", "region_code")
    if region.level not in (Level.GRID, Level.COMMUNITY):
        raise DisputeError("请选择纠纷发生的社区或网格", "region_code")
    return (region if region.level == Level.GRID else None), region


def _number(prefix: str) -> str:
    return f"{prefix}{timezone.localtime():%Y%m%d}{secrets.randbelow(10**6):06d}"


# --- registration -------------------------------------------------------------------------------


def register(actor: User, *, kind: str, description: str, parties, region, source: str = Source.RESIDENT,
             title: str = "", people_involved=2, amount=None, risk: str = Risk.NORMAL, risk_reasons: str = "",
             place: str = "", case=None, petition=None, screening_round=None) -> Dispute:
    """Register a dispute (登记).

    1. check every field (nothing is written if anything is wrong);
    2. find the grid/community and the lowest tier that may mediate it (thresholds);
    3. write the dispute, its parties and the "register" event (and "escalate" when the
       thresholds put it above the community), and tell the committee's mediators.
    """
    if not can(actor, Action.REGISTER_DISPUTE):
        raise NotAllowed("您的角色不能登记矛盾纠纷")
    if kind not in Kind.values:
        raise DisputeError("请选择纠纷类型", "kind")
    if source not in Source.values:
        raise DisputeError("纠纷来源不正确", "source")
    if risk not in Risk.values:
        raise DisputeError("风险等级应为一般、较大或重大", "risk")
    description = _text(description, "纠纷简要情况", "description")
    title = _text(title or description[:30], "纠纷名称", "title", limit=100)
    place = _text(place, "发生地点", "place", required=False, limit=200)
    risk_reasons = _text(risk_reasons, "风险研判理由", "risk_reasons", required=False, limit=500)
    if risk != Risk.NORMAL and not risk_reasons:
        raise DisputeError("风险等级为较大或重大时，请写明研判理由", "risk_reasons")
    people = _people(people_involved)
    amount = _amount(amount)
    parties = _parties(parties)
    grid, where = _location(actor, region)
    tier, reasons = required_tier(risk, people, amount)
    handling = ancestor_at(where, tier) or where
    dispute = Dispute(
        title=title, kind=kind, source=source, description=description, people_involved=people, amount=amount,
        risk=risk, risk_reasons=risk_reasons, grid=grid, region=where, region_path=where.path, place=place,
        tier=tier, handling_region=handling, escalations=1 if reasons else 0, case=case, petition=petition,
        screening_round=screening_round, created_by=actor,
    )
    with transaction.atomic():
        for _ in range(5):
            dispute.number = _number("TJ")
            try:
                with transaction.atomic():
                    dispute.save()
                break
            except IntegrityError:
                dispute.pk = None
        else:  # pragma: no cover
            raise DisputeError("编号生成失败，请重试")
        Party.objects.bulk_create([Party(dispute=dispute, **p.__dict__) for p in parties])
        _event(dispute, actor, "register", "", f"{Source(source).label}，{Kind(kind).label}", to_stage=Stage.REGISTERED,
               parties=len(parties), source=source)
        if reasons:
            _event(dispute, actor, "escalate", Stage.REGISTERED, "；".join(reasons), auto=True,
                   **{"from": Level.COMMUNITY, "to": tier, "unit": handling.name})
    tell(mediators_of(handling), "dispute_registered",
         f"新登记矛盾纠纷 {dispute.number}：{dispute.title}（{TIER_LABELS.get(tier, '')}调解）", dispute_link(dispute))
    return dispute


def register_from_visit(actor: User, *, grid, description: str, parties=(), kind: str = Kind.NEIGHBOUR,
                        title: str = "", **extra) -> Dispute:
    """A grid worker's household visit (走访) found a dispute: register it with source 网格员走访.

    Called by the ledger's visit page (via getattr, so neither app depends on the other).
    GRID is a Region or its code.
    """
    return register(actor, kind=kind, description=description, parties=list(parties), region=grid,
                    source=Source.GRID, title=title, **extra)


def convert_case(case, actor: User, *, kind: str, parties, title: str = "", risk: str = Risk.NORMAL,
                 risk_reasons: str = "", people_involved=2, amount=None) -> Dispute:
    """Open a dispute from a case (事件转矛盾纠纷): source 事件转入, the link kept both ways in
    the dispute's `case` and in its first event. The case itself is not changed."""
    from grassroots.cases import policy as case_policy

    if not case_policy.can_see(actor, case):
        raise DisputeError("事件不存在", "case")
    if Dispute.objects.filter(case=case).exists():
        raise DisputeError(f"事件 {case.number} 已转为矛盾纠纷", "case")
    region = case.grid or case.region
    if region.level not in (Level.GRID, Level.COMMUNITY):
        raise DisputeError("该事件没有落到社区或网格，不能转为矛盾纠纷", "case")
    return register(actor, kind=kind, description=case.description, parties=parties, region=region,
                    source=Source.CASE, title=title or case.title, people_involved=people_involved, amount=amount,
                    risk=risk, risk_reasons=risk_reasons, place=case.address, case=case)


# --- transitions --------------------------------------------------------------------------------


def _action_label(action: str) -> str:
    rule = policy.RULES.get(action)
    return rule.label if rule else {"register": "登记", "escalate": "提级", "lapse": "司法确认期满"}.get(action, action)


FLOW = workflow.Flow(
    model=Dispute, state_field="stage", event_model=DisputeEvent, event_fk="dispute", event_from="from_stage",
    event_to="to_stage", labels=dict(Stage.choices), action_label=_action_label, message=CONFLICT, conflict=Conflict,
)


def _may(dispute: Dispute, actor: User, action: str, version: int | None) -> None:
    """lib.workflow's order: a stale version first (Conflict with what changed), then the permission."""
    workflow.check_version(FLOW, dispute, version)
    problem = policy.refusal(actor, dispute, action)
    if problem:
        raise NotAllowed(problem)


def check(dispute: Dispute, actor: User, action: str, version: int | None) -> None:
    """What pages and the API ask before running ACTION (the order of lib.workflow)."""
    _may(dispute, actor, action, version)


def _transition(dispute: Dispute, actor: User | None, action: str, version: int, *, to_stage: str | None = None,
                note: str = "", data: dict | None = None, changes: dict | None = None, check: bool = True) -> Dispute:
    if check:
        _may(dispute, actor, action, version)
    else:
        workflow.check_version(FLOW, dispute, version)
    before = dispute.stage
    changes = dict(changes or {})
    if to_stage:
        changes["stage"] = to_stage
    for key, value in changes.items():
        setattr(dispute, key, value)
    dispute.next_due_at = next_due(dispute)
    changes.update(next_due_at=dispute.next_due_at, updated_at=_now())
    with transaction.atomic():
        workflow.compare_and_set(FLOW, dispute, version, changes)
        _event(dispute, actor, action, before, note, at_version=dispute.version, **(data or {}))
    return dispute


def accept(dispute: Dispute, actor: User, version: int, *, note: str = "") -> Dispute:
    """受理: every party agreed to mediation (人民调解法 第17条); the mediation clock starts."""
    _may(dispute, actor, "accept", version)
    note = _text(note, "备注", "note", required=False, limit=300)
    now = _now()
    with transaction.atomic():
        dispute.parties.update(consented=True)
        return _transition(dispute, actor, "accept", version, to_stage=Stage.ACCEPTED,
                           note=note or "各方当事人同意调解", changes={
                               "consent_at": now, "accepted_at": now, "overdue": False,
                               "mediation_due_at": now + timedelta(days=settings.DISPUTE_MEDIATION_DAYS)})


def refuse(dispute: Dispute, actor: User, version: int, *, party_id: int | None, to: str, body: str,
           reason: str) -> Dispute:
    """A party refuses mediation (第17条: mediation needs consent): it ends, with a referral
    telling the parties where else to go (court, arbitration, an administrative body)."""
    _may(dispute, actor, "refuse", version)
    party = dispute.parties.filter(pk=party_id).first() if party_id else None
    if party is None:
        raise DisputeError("请选择不同意调解的当事人", "party_id")
    referral = _referral_in(to, body, reason)
    with transaction.atomic():
        Party.objects.filter(pk=party.pk).update(consented=False)
        Referral.objects.create(dispute=dispute, by=actor, **referral)
        return _transition(dispute, actor, "refuse", version, to_stage=Stage.REFERRED,
                           note=f"当事人“{party.name}”不同意调解：{referral['reason']}",
                           data={"party": party.name, "to": to, "body": referral["body"]},
                           changes={"closed_at": _now(), "result": f"当事人不同意调解，引导至{referral['body']}"})


def _referral_in(to: str, body: str, reason: str) -> dict:
    if to not in Referral.To.values:
        raise DisputeError("请选择引导分流的去向（法院、仲裁、行政机关…）", "to")
    return {"to": to, "body": _text(body, "受理机关名称", "body", limit=100),
            "reason": _text(reason, "理由", "reason", limit=300)}


def record_session(dispute: Dispute, actor: User, version: int, *, held_at: datetime, place: str, mediators: str,
                   attendees: str, notes: str) -> MediationSession:
    _may(dispute, actor, "record_session", version)
    if not isinstance(held_at, datetime):
        raise DisputeError("请填写调解时间", "held_at")
    if timezone.is_naive(held_at):
        held_at = timezone.make_aware(held_at)
    if held_at > _now() + timedelta(minutes=5):
        raise DisputeError("调解时间不能晚于现在（先调解，后记录）", "held_at")
    place = _text(place, "调解地点", "place", limit=200)
    mediators = _text(mediators, "调解员", "mediators", limit=200)
    attendees = _text(attendees, "参加人员", "attendees", limit=300)
    notes = _text(notes, "调解记录", "notes")
    with transaction.atomic():
        session = MediationSession.objects.create(dispute=dispute, held_at=held_at, place=place, mediators=mediators,
                                                  attendees=attendees, notes=notes, recorded_by=actor)
        n = dispute.sessions.count()
        _transition(dispute, actor, "record_session", version, to_stage=Stage.MEDIATING,
                    note=f"第 {n} 次调解：{notes[:200]}", data={"session": session.pk, "n": n, "place": place})
    return session


def agree(dispute: Dispute, actor: User, version: int, *, form: str, facts: str, terms: str, performance: str,
          perform_by: date, responsibilities: str = "", mediator_names: str = "") -> Agreement:
    """调解成功. A written agreement (第29条) takes effect when every party and the mediator
    have signed (see `sign`); an oral one (第28条) takes effect when reached — its 30-day
    judicial confirmation window (第33条) starts at once."""
    _may(dispute, actor, "agree", version)
    if form not in Agreement.Form.values:
        raise DisputeError("请选择书面协议或口头协议", "form")
    facts = _text(facts, "纠纷的主要事实、争议事项", "facts")
    terms = _text(terms, "协议内容", "terms")
    responsibilities = _text(responsibilities, "各方当事人的责任", "responsibilities", required=False)
    performance = _text(performance, "履行方式", "performance", limit=300)
    mediator_names = _text(mediator_names or actor.display_name, "人民调解员", "mediator_names", limit=100)
    if not isinstance(perform_by, date):
        raise DisputeError("请填写履行期限", "perform_by")
    today = timezone.localdate()
    if perform_by < today:
        raise DisputeError("履行期限不能早于今天", "perform_by")
    now = _now()
    effective = now if form == Agreement.Form.ORAL else None
    changes = {"concluded_at": now, "overdue": False, "confirm_warned": False,
               "follow_up_due_at": _local_end_of(perform_by + timedelta(days=settings.DISPUTE_FOLLOW_UP_DAYS)),
               "confirm_due_at": effective + timedelta(days=settings.DISPUTE_CONFIRM_DAYS) if effective else None,
               "result": terms[:500]}
    with transaction.atomic():
        agreement = Agreement.objects.create(
            dispute=dispute, form=form, facts=facts, responsibilities=responsibilities, terms=terms,
            performance=performance, perform_by=perform_by, mediator_names=mediator_names, effective_at=effective,
        )
        _transition(dispute, actor, "agree", version, to_stage=Stage.AGREED, changes=changes,
                    note=f"达成{agreement.get_form_display()}：{terms[:200]}",
                    data={"form": form, "perform_by": perform_by.isoformat()})
    return agreement


def sign(dispute: Dispute, actor: User, version: int, *, signed_by: list[str]) -> Agreement:
    """Record the signatures of a written agreement; it takes effect now (第29条)."""
    _may(dispute, actor, "sign", version)
    agreement = getattr(dispute, "agreement", None)
    if agreement is None or agreement.form != Agreement.Form.WRITTEN:
        raise DisputeError("只有书面调解协议需要签名", "signed_by")
    if agreement.effective_at:
        raise DisputeError("调解协议已签名生效", "signed_by")
    names = [n.strip() for n in signed_by if n and n.strip()]
    missing = [p.name for p in dispute.parties.all() if p.name not in names]
    if missing:
        raise DisputeError(f"以下当事人尚未签名：{'、'.join(missing)}（调解协议自各方当事人签名后生效）", "signed_by")
    mediators = [m for m in re.split(r"[、,，\s]+", agreement.mediator_names) if m]
    if agreement.mediator_names not in names and not any(m in names for m in mediators):
        raise DisputeError("请记录人民调解员的签名", "signed_by")
    now = _now()
    with transaction.atomic():
        Agreement.objects.filter(pk=agreement.pk).update(signed_by=names, effective_at=now)
        agreement.signed_by, agreement.effective_at = names, now
        _transition(dispute, actor, "sign", version, note=f"{'、'.join(names)} 签名，协议生效",
                    changes={"confirm_due_at": now + timedelta(days=settings.DISPUTE_CONFIRM_DAYS),
                             "confirm_warned": False}, data={"signed_by": names})
    return agreement


def fail(dispute: Dispute, actor: User, version: int, *, reason: str) -> Dispute:
    reason = _text(reason, "调解不成的原因", "reason", limit=500)
    return _transition(dispute, actor, "fail", version, to_stage=Stage.FAILED, note=reason,
                       changes={"concluded_at": _now(), "overdue": False, "result": f"调解不成：{reason}"})


def escalate(dispute: Dispute, actor: User, version: int, *, reason: str) -> Dispute:
    """提级: hand the dispute to the next tier's mediation centre, with the reason."""
    _may(dispute, actor, "escalate", version)
    reason = _text(reason, "提级理由", "reason", limit=500)
    index = _tier_index(dispute.tier)
    if index + 1 >= len(TIERS):
        raise DisputeError("已由区矛调中心调解，不能再提级；调解不成请引导分流", "reason")
    to = TIERS[index + 1]
    handling = ancestor_at(dispute.region, to)
    if handling is None:
        raise DisputeError(f"找不到上级{LABELS[to]}", "reason")
    now = _now()
    stage = Stage.ACCEPTED if dispute.consent_at else Stage.REGISTERED
    changes = {"tier": to, "handling_region": handling, "escalations": dispute.escalations + 1, "overdue": False,
               "concluded_at": None, "result": ""}
    if stage == Stage.ACCEPTED:
        changes |= {"accepted_at": now, "mediation_due_at": now + timedelta(days=settings.DISPUTE_MEDIATION_DAYS)}
    dispute = _transition(dispute, actor, "escalate", version, to_stage=stage, note=reason,
                          changes=changes, data={"from": TIERS[index], "to": to, "unit": handling.name})
    tell(mediators_of(handling), "dispute_escalated",
         f"矛盾纠纷 {dispute.number} 提级至{handling.name}调解：{reason[:100]}", dispute_link(dispute))
    return dispute


def refer(dispute: Dispute, actor: User, version: int, *, to: str, body: str, reason: str) -> Referral:
    """调解不成 → 引导分流: to court, arbitration or an administrative body, recorded."""
    _may(dispute, actor, "refer", version)
    referral = _referral_in(to, body, reason)
    with transaction.atomic():
        made = Referral.objects.create(dispute=dispute, by=actor, **referral)
        _transition(dispute, actor, "refer", version, to_stage=Stage.REFERRED,
                    note=f"引导至{made.body}（{made.get_to_display()}）：{made.reason}",
                    changes={"closed_at": _now(), "result": f"{dispute.result}；引导至{made.body}".lstrip("；")},
                    data={"to": to, "body": made.body})
    return made


def confirm(dispute: Dispute, actor: User, version: int, *, outcome: str, note: str = "") -> Dispute:
    """司法确认 (第33条): applied within 30 days of the agreement's effect, then its outcome."""
    _may(dispute, actor, "confirm", version)
    agreement = getattr(dispute, "agreement", None)
    if agreement is None or agreement.effective_at is None:
        raise DisputeError("调解协议尚未生效，不能申请司法确认", "outcome")
    note = _text(note, "说明", "note", required=False, limit=300)
    allowed = {
        Confirmation.NONE: {Confirmation.APPLIED},
        Confirmation.APPLIED: {Confirmation.CONFIRMED, Confirmation.REJECTED},
    }.get(dispute.confirmation, set())
    if outcome not in allowed:
        if dispute.confirmation == Confirmation.LAPSED:
            raise DisputeError("已超过司法确认申请期限（协议生效之日起 30 日内）", "outcome")
        raise DisputeError("司法确认的结果与当前进度不符（先申请，再记录法院的确认结果）", "outcome")
    if outcome == Confirmation.APPLIED and dispute.confirm_due_at and _now() > dispute.confirm_due_at:
        raise DisputeError("已超过司法确认申请期限（协议生效之日起 30 日内）", "outcome")
    return _transition(dispute, actor, "confirm", version, note=note or Confirmation(outcome).label,
                       changes={"confirmation": outcome}, data={"outcome": outcome})


def follow_up(dispute: Dispute, actor: User, version: int, *, performance: str, note: str = "") -> FollowUp:
    """履行回访 (第31条): how the agreement is being performed."""
    _may(dispute, actor, "follow_up", version)
    agreement = getattr(dispute, "agreement", None)
    if agreement is None or agreement.effective_at is None:
        raise DisputeError("调解协议尚未生效（书面协议需先签名）", "performance")
    if performance not in FollowUp.Performance.values:
        raise DisputeError("请选择履行情况", "performance")
    note = _text(note, "回访情况", "note", required=False, limit=1000)
    with transaction.atomic():
        made = FollowUp.objects.create(dispute=dispute, by=actor, performance=performance, note=note)
        _transition(dispute, actor, "follow_up", version, to_stage=Stage.FOLLOW_UP,
                    note=f"{made.get_performance_display()}{'：' + note if note else ''}",
                    changes={"overdue": False}, data={"performance": performance})
    return made


def close(dispute: Dispute, actor: User, version: int, *, note: str = "") -> Dispute:
    """结案 after the follow-up: at once when fully performed; otherwise only with a note."""
    _may(dispute, actor, "close", version)
    note = _text(note, "结案说明", "note", required=False, limit=500)
    last = dispute.follow_ups.order_by("-at", "-id").first()
    if last is None:
        raise DisputeError("请先进行履行回访", "note")
    if last.performance != FollowUp.Performance.FULL and not note:
        raise DisputeError("协议尚未全部履行，结案请写明理由", "note")
    return _transition(dispute, actor, "close", version, to_stage=Stage.CLOSED, note=note or "协议已履行，结案",
                       changes={"closed_at": _now(), "overdue": False})


def assess_risk(dispute: Dispute, actor: User, version: int, *, risk: str, reasons: str, people_involved=None,
                amount=None) -> Dispute:
    """风险研判: change the risk level (with reasons), people or amount; when a higher tier's
    threshold is now reached the dispute moves up at once, recorded as an escalation."""
    _may(dispute, actor, "assess_risk", version)
    if risk not in Risk.values:
        raise DisputeError("风险等级应为一般、较大或重大", "risk")
    reasons = _text(reasons, "研判理由", "reasons", limit=500)
    people = _people(people_involved) if people_involved not in (None, "") else dispute.people_involved
    amount = _amount(amount) if amount not in (None, "") else dispute.amount
    tier, why = required_tier(risk, people, amount)
    changes = {"risk": risk, "risk_reasons": reasons, "people_involved": people, "amount": amount}
    data = {"risk": risk}
    moved = _tier_index(tier) > _tier_index(dispute.tier)
    if moved:
        handling = ancestor_at(dispute.region, tier) or dispute.handling_region
        changes |= {"tier": tier, "handling_region": handling, "escalations": dispute.escalations + 1}
        data |= {"from": dispute.tier, "to": tier, "unit": handling.name, "auto": True}
    with transaction.atomic():
        dispute = _transition(dispute, actor, "assess_risk", version, note=reasons, changes=changes, data=data)
        if moved:
            _event(dispute, actor, "escalate", dispute.stage, "；".join(why), auto=True,
                   **{"from": data["from"], "to": tier, "unit": data["unit"]})
    if moved:
        tell(mediators_of(dispute.handling_region), "dispute_escalated",
             f"矛盾纠纷 {dispute.number} 达到提级标准，转{dispute.handling_region.name}调解：{'；'.join(why)}",
             dispute_link(dispute))
    return dispute


def flag_criminal(dispute: Dispute, actor: User, version: int, *, note: str) -> Dispute:
    """民转刑: marked by hand when a dispute turned into a criminal case."""
    note = _text(note, "情况说明", "note", limit=300)
    if dispute.criminal:
        raise DisputeError("已标记为民转刑", "note")
    return _transition(dispute, actor, "flag_criminal", version, note=note,
                       changes={"criminal": True, "criminal_note": note})
