"""Writes to petitions (信访): registration with repeat detection, and the statutory clocks.

信访工作条例 (2022) defaults, in settings.PETITION_LIMITS (days):
  * decide on acceptance within 15 days of receipt (第31条)        → accept_due_at
  * handle within 60 days of acceptance, one extension ≤ 30 (第35条) → handle_due_at
  * the petitioner may ask for review (复查) within 30 days of the reply, answered within
    30 days; then re-review (复核) the same way; the re-review answer is final (第36条).
The 条例 counts 日, which we read as calendar days; PETITION_WORKDAYS=1 counts working days
on the official calendar instead. The worker warns PETITION_WARN_DAYS before a limit,
marks it overdue when it passes, and closes a replied petition whose request window passed.
"""

from datetime import datetime, timedelta

import jieba.analyse
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, region_in_scope
from grassroots.accounts.roles import Action, Role
from grassroots.cases.workdays import add_workdays
from grassroots.disputes import policy
from grassroots.disputes.models import Petition, PetitionEvent, PetitionForm, PetitionPlan, PetitionState
from grassroots.disputes.notify import petition_link, tell
from grassroots.disputes.services import (
    PHONE,
    Conflict,
    DisputeError,
    NotAllowed,
    _number,
    _text,
    id_number,
    reveal_reason,
)
from grassroots.lib import privacy, workflow
from grassroots.territory import directory
from grassroots.territory.levels import Level

P = PetitionState
CONFLICT = "该信访件刚被他人处理，您的操作没有生效，请刷新后查看最新状态"
# How alike two petitions' matters must be (shared keywords) to count as the same matter.
SAME_MATTER_MIN_SHARED = 2
SAME_MATTER_MIN_JACCARD = 0.25


def _now() -> datetime:
    return timezone.now()


def add_days(start: datetime, days: int) -> datetime:
    """START plus DAYS in the 条例's sense: calendar days, or working days when configured."""
    if settings.PETITION_WORKDAYS:
        return add_workdays(start, days)
    return start + timedelta(days=days)


def limit(name: str) -> int:
    return int(settings.PETITION_LIMITS[name])


def _event(petition: Petition, actor: User | None, action: str, before: str, note: str = "", *, to_state: str = "",
           at_version: int | None = None, **data) -> PetitionEvent:
    return PetitionEvent.objects.create(
        petition=petition, actor=actor, actor_name=actor.display_name if actor else "系统", action=action,
        from_state=before, to_state=to_state or petition.state, note=note, data=data, version=at_version,
    )


def _action_label(action: str) -> str:
    rule = policy.PETITION_RULES.get(action)
    return rule.label if rule else {"register": "登记", "close": "期满办结"}.get(action, action)


FLOW = workflow.Flow(
    model=Petition, state_field="state", event_model=PetitionEvent, event_fk="petition", event_from="from_state",
    event_to="to_state", labels=dict(PetitionState.choices), action_label=_action_label, message=CONFLICT,
    conflict=Conflict,
)


# --- clocks -------------------------------------------------------------------------------------


def current_due(petition: Petition) -> tuple[str, datetime | None]:
    """(which clock runs, when it is due) in the petition's state."""
    return {
        P.REGISTERED: ("accept", petition.accept_due_at),
        P.ACCEPTED: ("handle", petition.handle_due_at),
        P.REVIEWING: ("answer", petition.answer_due_at),
        P.RECHECKING: ("answer", petition.answer_due_at),
        P.REPLIED: ("request", petition.request_due_at),
        P.REVIEWED: ("request", petition.request_due_at),
    }.get(petition.state, ("", None))


CLOCK_LABELS = {"accept": "受理期限", "handle": "办理期限", "answer": "复查/复核答复期限", "request": "复查/复核申请期限"}


def warn_at(due: datetime) -> datetime:
    return due - timedelta(days=settings.PETITION_WARN_DAYS)


def next_due(petition: Petition) -> datetime | None:
    clock, due = current_due(petition)
    if due is None:
        return None
    if clock == "request":
        return due  # the window closing closes the petition
    if petition.warned_for != due:
        return warn_at(due)
    return None if petition.overdue else due


# --- registration -------------------------------------------------------------------------------


def same_petitioner(name: str, number: str, phone: str) -> Q:
    """Who petitions: the ID number when given, else the name and the phone — matched on their keyed
    digests under every live key (lib.privacy), never on the numbers."""
    if number:
        return Q(petitioner_id_digest__in=privacy.digests("id", number))
    return Q(petitioner_id_digest="", petitioner_name=name.strip(),
             petitioner_phone_digest__in=privacy.digests("phone", phone) if phone else [""])


def matter_words(text: str) -> set[str]:
    return {w for w in jieba.analyse.extract_tags(text or "", topK=12) if len(w) >= 2}


def same_matter(wa: set[str], wb: set[str]) -> bool:
    """Two petitions' matter words (matter_words) name the same matter."""
    if not wa or not wb:
        return False
    shared = len(wa & wb)
    return shared >= SAME_MATTER_MIN_SHARED or shared / len(wa | wb) >= SAME_MATTER_MIN_JACCARD


def find_repeat(who: Q, text: str) -> Petition | None:
    """The first petition by the same petitioner (same_petitioner) on the same matter, if any.
    The new text's words are extracted once, not once per earlier petition."""
    words = matter_words(text)
    if not words:
        return None
    for prev in Petition.objects.filter(who).order_by("received_at", "pk")[:50]:
        if same_matter(matter_words(f"{prev.title} {prev.content}"), words):
            return prev.repeat_of or prev
    return None


def reveal_petitioner(actor: User, petition: Petition, reason: str, note: str = "", *, request=None,
                      channel: str = "page") -> dict:
    """The petitioner's whole ID number and phone for the petition office and the case leader, audited."""
    if not policy.may_reveal_petitioner(actor, petition):
        raise NotAllowed("只有办理该信访件的信访部门和包案领导可以查看信访人的完整信息")
    why = reveal_reason(reason, note)
    fields = [f for f in ("petitioner_id_number", "petitioner_phone") if getattr(petition, f)]
    if not fields:
        raise DisputeError("该信访件没有登记信访人的身份证号或电话", "petition")
    return privacy.reveal(actor, petition, fields, reason=why, request=request, channel=channel,
                          label=f"{petition.number} {petition.petitioner_name}")


def register(actor: User, *, form: str, petitioner_name: str, title: str, content: str, region,
             petitioner_id_number: str = "", petitioner_phone: str = "", collective: bool = False,
             people_count: int = 1, skip_level: bool = False, received_at: datetime | None = None) -> Petition:
    """Register a petition (登记), detect whether it repeats an earlier one, start the 15-day clock."""
    if not can(actor, Action.HANDLE_PETITION):
        raise NotAllowed("您的角色不能登记信访件")
    if form not in PetitionForm.values:
        raise DisputeError("请选择信访形式（来访、来信、网上信访）", "form")
    name = _text(petitioner_name, "信访人姓名", "petitioner_name", limit=50)
    title = _text(title, "信访事项", "title", limit=100)
    content = _text(content, "主要诉求", "content")
    number = (petitioner_id_number or "").strip().upper()
    if number:
        number = id_number(number, "petitioner_id_number")
    phone = (petitioner_phone or "").strip()
    if phone and not PHONE.match(phone):
        raise DisputeError("联系电话应为 11 位手机号或区号-座机号", "petitioner_phone")
    try:
        people = int(people_count)
    except (TypeError, ValueError):
        raise DisputeError("人数应为整数", "people_count") from None
    if collective and people < 5:
        raise DisputeError("集体访应为 5 人以上，请填写人数", "people_count")
    if not 1 <= people <= 100_000:
        raise DisputeError("人数应在 1 到 100000 之间", "people_count")
    if isinstance(region, str):
        region = directory.region_by_code(region)
    if region is None or not region_in_scope(actor, region):
        raise DisputeError("事项属地不存在或不在您的辖区内", "region_code")
    if region.level not in (Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT):
        raise DisputeError("请选择事项所在的区、街道、社区或网格", "region_code")
    now = _now()
    received_at = received_at or now
    if received_at > now + timedelta(minutes=5):
        raise DisputeError("收到时间不能晚于现在", "received_at")
    repeat_of = find_repeat(same_petitioner(name, number, phone), f"{title} {content}")
    petition = Petition(
        form=form, collective=collective, people_count=people, skip_level=skip_level, petitioner_name=name,
        petitioner_id_number=number, petitioner_phone=phone, title=title, content=content,
        region=region, region_path=region.path, office=actor.region or region, received_at=received_at,
        accept_due_at=add_days(received_at, limit("accept")), repeat_of=repeat_of, created_by=actor,
    )
    petition.next_due_at = next_due(petition)
    with transaction.atomic():
        for _ in range(5):
            petition.number = _number("XF")
            try:
                with transaction.atomic():
                    petition.save()
                break
            except IntegrityError:
                petition.pk = None
        else:  # pragma: no cover
            raise DisputeError("编号生成失败，请重试")
        group = f"，集体访 {people} 人" if collective else ""
        detail = f"{PetitionForm(form).label}{group}{'，越级' if skip_level else ''}"
        _event(petition, actor, "register", "", detail, to_state=P.REGISTERED)
        if repeat_of is not None:
            Petition.objects.filter(pk=repeat_of.pk).update(repeat_count=F("repeat_count") + 1)
            repeat_of.refresh_from_db(fields=["repeat_count"])
            _event(petition, actor, "repeat", P.REGISTERED, f"重复信访：同一信访人就同一事项曾于 "
                   f"{timezone.localtime(repeat_of.received_at):%Y-%m-%d} 反映（{repeat_of.number}）", of=repeat_of.number)
            _event(repeat_of, actor, "repeated", repeat_of.state,
                   f"信访人再次反映（{petition.number}），累计重复 {repeat_of.repeat_count} 次", by=petition.number)
    if repeat_of is not None and repeat_of.case_leader_id:
        tell([repeat_of.case_leader], "petition_repeat",
             f"您包案的信访件 {repeat_of.number} 信访人再次反映（{petition.number}）", petition_link(petition))
    return petition


# --- transitions --------------------------------------------------------------------------------


def _may(petition: Petition, actor: User, action: str, version: int | None) -> None:
    """lib.workflow's order: a stale version first (Conflict with what changed), then the permission."""
    workflow.check_version(FLOW, petition, version)
    problem = policy.petition_refusal(actor, petition, action)
    if problem:
        raise NotAllowed(problem)


def check(petition: Petition, actor: User, action: str, version: int | None) -> None:
    """What pages and the API ask before running ACTION (the order of lib.workflow)."""
    _may(petition, actor, action, version)


def _transition(petition: Petition, actor: User | None, action: str, version: int, *, to_state: str | None = None,
                note: str = "", changes: dict | None = None, data: dict | None = None, check: bool = True) -> Petition:
    if check:
        _may(petition, actor, action, version)
    else:
        workflow.check_version(FLOW, petition, version)
    before = petition.state
    changes = dict(changes or {})
    if to_state:
        changes["state"] = to_state
    for key, value in changes.items():
        setattr(petition, key, value)
    petition.next_due_at = next_due(petition)
    changes.update(next_due_at=petition.next_due_at, updated_at=_now())
    with transaction.atomic():
        workflow.compare_and_set(FLOW, petition, version, changes)
        _event(petition, actor, action, before, note, at_version=petition.version, **(data or {}))
    return petition


def accept(petition: Petition, actor: User, version: int, *, note: str = "") -> Petition:
    note = _text(note, "受理意见", "note", required=False, limit=300)
    now = _now()
    return _transition(petition, actor, "accept", version, to_state=P.ACCEPTED, note=note or "予以受理",
                       changes={"accepted_at": now, "handle_due_at": add_days(now, limit("handle")),
                                "overdue": False})


def not_accept(petition: Petition, actor: User, version: int, *, reason: str) -> Petition:
    reason = _text(reason, "不予受理的理由（并告知信访人向何处反映）", "reason", limit=500)
    return _transition(petition, actor, "not_accept", version, to_state=P.NOT_ACCEPTED, note=reason,
                       changes={"closed_at": _now(), "reply": reason, "overdue": False})


def extend(petition: Petition, actor: User, version: int, *, days: int, reason: str) -> Petition:
    """One extension of at most 30 days (第35条), with the reason; the petitioner is told."""
    _may(petition, actor, "extend", version)
    if petition.extended_days:
        raise DisputeError("办理期限只能延长一次", "days")
    if not isinstance(days, int) or not 1 <= days <= limit("extension"):
        raise DisputeError(f"延长天数应为 1 到 {limit('extension')} 天", "days")
    reason = _text(reason, "延期理由", "reason", limit=300)
    return _transition(petition, actor, "extend", version, note=reason, data={"days": days}, changes={
        "extended_days": days, "handle_due_at": add_days(petition.handle_due_at, days), "overdue": False})


def reply(petition: Petition, actor: User, version: int, *, text: str) -> Petition:
    """书面答复: the handling opinion; the petitioner has 30 days to ask for review."""
    text = _text(text, "答复意见", "text")
    now = _now()
    return _transition(petition, actor, "reply", version, to_state=P.REPLIED, note=text[:300], changes={
        "reply": text, "replied_at": now, "request_due_at": add_days(now, limit("request")), "overdue": False})


def _request(petition: Petition, actor: User, version: int, action: str, to: str, note: str) -> Petition:
    _may(petition, actor, action, version)
    if petition.request_due_at and _now() > petition.request_due_at:
        raise DisputeError("已超过申请期限（收到答复意见之日起 30 日内）", "note")
    note = _text(note, "请求内容", "note", limit=500)
    return _transition(petition, actor, action, version, to_state=to, note=note, changes={
        "answer_due_at": add_days(_now(), limit("answer")), "overdue": False})


def request_review(petition: Petition, actor: User, version: int, *, note: str) -> Petition:
    return _request(petition, actor, version, "request_review", P.REVIEWING, note)


def request_recheck(petition: Petition, actor: User, version: int, *, note: str) -> Petition:
    return _request(petition, actor, version, "request_recheck", P.RECHECKING, note)


def answer_review(petition: Petition, actor: User, version: int, *, text: str) -> Petition:
    text = _text(text, "复查意见", "text")
    now = _now()
    return _transition(petition, actor, "answer_review", version, to_state=P.REVIEWED, note=text[:300], changes={
        "reply": text, "replied_at": now, "request_due_at": add_days(now, limit("request")), "overdue": False})


def answer_recheck(petition: Petition, actor: User, version: int, *, text: str) -> Petition:
    """复核意见 is final: the petition is closed (办结)."""
    text = _text(text, "复核意见", "text")
    now = _now()
    return _transition(petition, actor, "answer_recheck", version, to_state=P.CLOSED, note=text[:300], changes={
        "reply": text, "replied_at": now, "closed_at": now, "overdue": False})


def close_after_window(petition: Petition, version: int) -> Petition:
    """The request window passed with no request: closed (run by the worker)."""
    return _transition(petition, None, "close", version, to_state=P.CLOSED, check=False,
                       note="答复后期限内未申请复查/复核，办结", changes={"closed_at": _now()})


def assign(petition: Petition, actor: User, version: int, *, case_leader: User | None,
           responsible: User | None) -> Petition:
    """包案领导 and 责任人: staff of the petition's territory (the leader usually a 领导)."""
    _may(petition, actor, "assign", version)
    for person, label, field in ((case_leader, "包案领导", "case_leader"), (responsible, "责任人", "responsible")):
        if person is None:
            raise DisputeError(f"请选择{label}", field)
        if person.role == Role.RESIDENT or not person.is_active or not person.region_id or \
                not petition.region_path.startswith(person.region.path):
            raise DisputeError(f"{label}应为事项属地（或其上级）的在岗工作人员", field)
    petition = _transition(petition, actor, "assign", version, note=f"包案领导 {case_leader.display_name}，"
                           f"责任人 {responsible.display_name}",
                           changes={"case_leader": case_leader, "responsible": responsible})
    tell([case_leader, responsible], "petition_assigned",
         f"信访件 {petition.number}（{petition.title}）由您包案/负责，请按时办理", petition_link(petition))
    return petition


def plan(petition: Petition, actor: User, version: int, *, measures: str, target_date, progress: str = "") -> PetitionPlan:
    """一案一策 for a backlog petition (积案): measures, a target date, progress; marks it backlog."""
    _may(petition, actor, "plan", version)
    measures = _text(measures, "化解措施", "measures")
    progress = _text(progress, "进展", "progress", required=False)
    if target_date is None:
        raise DisputeError("请填写化解时限", "target_date")
    if target_date < timezone.localdate():
        raise DisputeError("化解时限不能早于今天", "target_date")
    with transaction.atomic():
        made = PetitionPlan.objects.create(petition=petition, measures=measures, target_date=target_date,
                                           progress=progress, by=actor)
        _transition(petition, actor, "plan", version, note=f"一案一策：{measures[:200]}（{target_date:%Y-%m-%d} 前化解）",
                    changes={"backlog": True})
    return made


