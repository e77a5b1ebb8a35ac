"""Dispute and petition pages: worklists, registration, the record pages with their actions and
timelines, the agreement download, law search, screening rounds and monthly statistics.

Thin on purpose: disputes.services / petitions / screening write (and judge every input),
disputes.queries reads and scopes, disputes.policy says which actions a viewer may take.
A record outside the viewer's scope answers 404 as if it did not exist (audited).
"""

import io
from datetime import date, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from grassroots.accounts.models import User
from grassroots.accounts.permissions import Denied, audit_denial, can, require, visible_regions
from grassroots.accounts.roles import Action, Role
from grassroots.disputes import laws, petitions, policy, queries, screening, services
from grassroots.disputes.documents import agreement_docx
from grassroots.disputes.models import (
    Agreement,
    Confirmation,
    Dispute,
    FollowUp,
    Kind,
    Party,
    Petition,
    PetitionForm,
    Referral,
    Risk,
    Source,
)
from grassroots.disputes.services import DisputeError
from grassroots.lib import idempotency, sheets, workflow
from grassroots.territory.levels import Level

PAGE_SIZE = 50
PARTY_ROWS = 4

EVENT_LABELS = {
    "register": "登记", "escalate": "提级", "overdue": "调解超期", "confirm_warn": "司法确认临期提醒",
    "confirm_lapsed": "司法确认逾期", "follow_up_due": "回访提醒", "repeat": "重复信访", "repeated": "再次信访",
    "warn": "临期提醒", "close": "办结",
}


def _label(action: str, rules) -> str:
    rule = rules.get(action)
    return rule.label if rule else EVENT_LABELS.get(action, action)


def _dispute_or_404(request, number: str) -> Dispute:
    require(request.user, Action.VIEW_DISPUTES, request)
    dispute = queries.get_dispute(request.user, number)
    if dispute is None:
        if Dispute.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"dispute {number}")
        raise Http404("矛盾纠纷不存在")
    return dispute


def _petition_or_404(request, number: str) -> Petition:
    petition = queries.get_petition(request.user, number)
    if petition is None:
        if Petition.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"petition {number}")
        raise Http404("信访件不存在")
    return petition


def _parse_datetime(value: str, field: str, label: str) -> datetime:
    try:
        parsed = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise DisputeError(f"请填写{label}", field) from None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _parse_date(value: str, field: str, label: str) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        raise DisputeError(f"请填写{label}（年-月-日）", field) from None


def _int(value, field: str, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DisputeError(f"{label}应为整数", field) from None


def _region_choices(user: User, levels=(Level.COMMUNITY, Level.GRID)):
    return list(visible_regions(user).filter(level__in=levels).order_by("path").values_list("code", "name", "level")[:500])


# --- disputes -----------------------------------------------------------------------------------


@login_required
def worklist(request):
    user = request.user
    require(user, Action.VIEW_DISPUTES, request)
    tab = request.GET.get("tab", "all")
    keys = dict(queries.DISPUTE_LISTS)
    if tab not in keys:
        tab = "all"
    qs = queries.dispute_worklist(user, tab)
    kind = request.GET.get("kind", "")
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    text = request.GET.get("q", "").strip()
    if text:
        qs = qs.filter(title__contains=text) | qs.filter(number=text)
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "disputes/worklist.html", {
        "title": "矛盾纠纷", "tab": tab,
        "tabs": [(k, label, queries.dispute_worklist(user, k).count()) for k, label in queries.DISPUTE_LISTS],
        "page": page, "kinds": Kind.choices, "kind": kind, "q": text,
        "may_register": can(user, Action.REGISTER_DISPUTE),
        "overdue_rounds": screening.overdue_rollup(user) if can(user, Action.VIEW_DISPUTES) else [],
    })


def _register_values(post) -> dict:
    parties = []
    for i in range(1, PARTY_ROWS + 1):
        name = post.get(f"party{i}_name", "").strip()
        if name:
            parties.append({"name": name, "kind": post.get(f"party{i}_kind", "person"),
                            "id_number": post.get(f"party{i}_id", ""), "phone": post.get(f"party{i}_phone", ""),
                            "address": post.get(f"party{i}_address", ""), "side": 1 if i == 1 else 2})
    return {
        "kind": post.get("kind", ""), "title": post.get("title", ""), "description": post.get("description", ""),
        "source": post.get("source", ""), "region": post.get("region_code", ""), "place": post.get("place", ""),
        "people_involved": post.get("people_involved") or 2, "amount": post.get("amount") or None,
        "risk": post.get("risk", Risk.NORMAL), "risk_reasons": post.get("risk_reasons", ""), "parties": parties,
    }


@login_required
@idempotency.once_per_form("disputes.new")  # a double submit goes to the first record
def new(request):
    user = request.user
    require(user, Action.REGISTER_DISPUTE, request)
    error, status = None, 200
    # 事件转矛盾纠纷: ?case=<number> (a case the user can see) fills the form; the dispute keeps the link.
    from grassroots.cases.queries import get_case

    case_number = request.POST.get("case") or request.GET.get("case") or ""
    case = get_case(user, case_number) if case_number else None
    if case_number and case is None:
        raise Http404("事件不存在")
    if request.method == "POST":
        values = _register_values(request.POST)
        try:
            if case is not None:
                for key in ("source", "region", "description", "place"):
                    values.pop(key)
                dispute = services.convert_case(case, user, **values)
            else:
                dispute = services.register(user, **values)
        except DisputeError as exc:
            error, status = exc, exc.status
        else:
            messages.success(request, f"已登记矛盾纠纷 {dispute.number}")
            return redirect("disputes:detail", number=dispute.number)
    values = request.POST
    if case is not None and request.method != "POST":
        region = case.grid or case.region
        values = {"title": case.title, "description": case.description, "place": case.address,
                  "region_code": region.code}
    return render(request, "disputes/new.html", {
        "case": case,
        "title": "事件转为矛盾纠纷" if case is not None else "登记矛盾纠纷", "error": error, "values": values,
        "kinds": Kind.choices,
        "sources": [s for s in Source.choices if s[0] != Source.CASE], "risks": Risk.choices,
        "regions": _region_choices(user), "party_rows": range(1, PARTY_ROWS + 1),
        "default_region": user.region.code if user.region_id else "",
    }, status=status)


def _detail_context(request, dispute: Dispute, failed: dict | None = None) -> dict:
    user = request.user
    parties = list(dispute.parties.all())
    may_reveal = policy.may_reveal_party(user, dispute)
    for p in parties:  # masked for everyone (lib.privacy); the mediators reveal one party at a time
        p.may_reveal = may_reveal and bool(p.id_number or p.phone)
    agreement = Agreement.objects.filter(dispute=dispute).first()
    try:
        references = laws.relevant(dispute.kind, f"{dispute.title} {dispute.description}")
        laws_error = ""
    except laws.CorpusMissing as exc:
        references, laws_error = [], str(exc)
    actions = [(name, policy.RULES[name].label) for name in policy.allowed_actions(user, dispute)]
    return {
        "title": dispute.title, "d": dispute, "parties": parties, "agreement": agreement,
        "reveal_reasons": services.REVEAL_REASONS.items(),
        "sessions": dispute.sessions.all(), "referrals": dispute.referrals.all(), "follow_ups": dispute.follow_ups.all(),
        "events": [{"at": e.at, "label": _label(e.action, policy.RULES), "actor": e.actor_name, "note": e.note,
                    "action": e.action} for e in dispute.events.all()],
        "actions": actions, "failed": failed or {}, "references": references, "laws_error": laws_error,
        "referral_choices": Referral.To.choices, "performance_choices": FollowUp.Performance.choices,
        "form_choices": Agreement.Form.choices, "risks": Risk.choices,
        "confirm_choices": [c for c in Confirmation.choices if c[0] in ("applied", "confirmed", "rejected")],
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "mediator_name": user.display_name,
    }


@login_required
def detail(request, number: str):
    dispute = _dispute_or_404(request, number)
    return render(request, "disputes/detail.html", _detail_context(request, dispute))


def _revealed(request, template: str, context: dict, read) -> HttpResponse:
    """Run READ (an audited lib.privacy reveal) for an htmx fragment; a refusal is audited and 403,
    a missing reason comes back in the fragment with what was typed."""
    reason, note = request.POST.get("reason", ""), request.POST.get("note", "")
    try:
        context["full"] = read(reason, note)
    except services.NotAllowed as exc:
        audit_denial(request.user, request, f"reveal refused: {exc.message}")
        raise Denied("privacy.reveal", exc.message) from None
    except DisputeError as exc:
        context.update(reveal_error=exc.message, typed_reason=reason, typed_note=note)
    context.update(reveal_reasons=services.REVEAL_REASONS.items())
    response = render(request, template, context, status=200 if request.htmx or "full" in context else 400)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def party_reveal(request, number: str, party_id: int):
    """htmx: one party's whole ID number and phone for the dispute's mediators (audited)."""
    dispute = _dispute_or_404(request, number)
    party = Party.objects.filter(dispute=dispute, pk=party_id).first()
    if party is None:
        raise Http404("当事人不存在")
    party.may_reveal = True
    return _revealed(request, "disputes/_party.html", {"d": dispute, "p": party},
                     lambda reason, note: services.reveal_party(request.user, dispute, party, reason, note,
                                                                request=request))


def _run(action: str, d: Dispute, user: User, post) -> str:
    version = _int(post.get("version"), "version", "版本")
    if action == "accept":
        services.accept(d, user, version, note=post.get("note", ""))
        return "已受理：各方当事人同意调解"
    if action == "refuse":
        party = post.get("party_id")
        services.refuse(d, user, version, party_id=_int(party, "party_id", "当事人") if party else None,
                        to=post.get("to", ""), body=post.get("body", ""), reason=post.get("reason", ""))
        return "已记录当事人不同意调解，并引导分流"
    if action == "record_session":
        services.record_session(d, user, version, held_at=_parse_datetime(post.get("held_at"), "held_at", "调解时间"),
                                place=post.get("place", ""), mediators=post.get("mediators", ""),
                                attendees=post.get("attendees", ""), notes=post.get("notes", ""))
        return "已记录调解"
    if action == "agree":
        services.agree(d, user, version, form=post.get("form", ""), facts=post.get("facts", ""),
                       responsibilities=post.get("responsibilities", ""), terms=post.get("terms", ""),
                       performance=post.get("performance", ""),
                       perform_by=_parse_date(post.get("perform_by"), "perform_by", "履行期限"),
                       mediator_names=post.get("mediator_names", ""))
        return "已达成调解协议"
    if action == "sign":
        services.sign(d, user, version, signed_by=post.getlist("signed_by"))
        return "已记录签名，调解协议生效"
    if action == "fail":
        services.fail(d, user, version, reason=post.get("reason", ""))
        return "已记录调解不成"
    if action == "escalate":
        services.escalate(d, user, version, reason=post.get("reason", ""))
        return "已提级调解"
    if action == "refer":
        services.refer(d, user, version, to=post.get("to", ""), body=post.get("body", ""), reason=post.get("reason", ""))
        return "已引导分流"
    if action == "confirm":
        services.confirm(d, user, version, outcome=post.get("outcome", ""), note=post.get("note", ""))
        return "已记录司法确认"
    if action == "follow_up":
        services.follow_up(d, user, version, performance=post.get("performance", ""), note=post.get("note", ""))
        return "已记录履行回访"
    if action == "close":
        services.close(d, user, version, note=post.get("note", ""))
        return "已结案"
    if action == "assess_risk":
        services.assess_risk(d, user, version, risk=post.get("risk", ""), reasons=post.get("reasons", ""),
                             people_involved=post.get("people_involved") or None, amount=post.get("amount") or None)
        return "已更新风险研判"
    if action == "flag_criminal":
        services.flag_criminal(d, user, version, note=post.get("note", ""))
        return "已标记民转刑"
    raise Http404("没有这个操作")


def _act(request, number: str, *, kind: str, fetch, rules: dict, run, conflict: str, template: str, context,
         page: str):
    """One action on a dispute or petition (KIND, for the audit log) from its page: FETCH the
    record, check the action against RULES and the page's version (CONFLICT when out of date),
    RUN it, and go back to PAGE with a message, or render TEMPLATE with CONTEXT and the error in
    place (409 for a conflict, 403 refused — audited —, 400 bad input)."""
    obj = fetch(request, number)
    action = request.POST.get("action", "")
    if action not in rules:
        raise Http404("没有这个操作")
    try:
        try:
            seen = int(request.POST.get("version", ""))
        except ValueError:
            seen = 0
        # The page was out of date: say so first, with what changed (lib.workflow), never a 403.
        workflow.check_version(petitions.FLOW if kind == "petition" else services.FLOW, obj, seen)
        done = run(action, obj, request.user, request.POST)
    except DisputeError as exc:
        if isinstance(exc, services.NotAllowed):
            audit_denial(request.user, request, f"{kind} refused: {exc.message}")
        fresh = fetch(request, number)
        failed = {"action": action, "error": exc.message, "conflict": isinstance(exc, services.Conflict),
                  "changed": workflow.conflict_text(exc), "label": rules[action].label, "values": request.POST}
        return render(request, template, context(request, fresh, failed), status=exc.status)
    messages.success(request, done)
    return redirect(page, number=number)


@login_required
@require_POST
def act(request, number: str):
    return _act(request, number, kind="dispute", fetch=_dispute_or_404, rules=policy.RULES, run=_run,
                conflict=services.CONFLICT, template="disputes/detail.html", context=_detail_context,
                page="disputes:detail")


@login_required
def agreement_download(request, number: str):
    dispute = _dispute_or_404(request, number)
    if not hasattr(dispute, "agreement") or dispute.agreement.form != Agreement.Form.WRITTEN:
        raise Http404("该纠纷没有书面调解协议")
    response = HttpResponse(agreement_docx(dispute),
                            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    response["Content-Disposition"] = f'attachment; filename="agreement-{dispute.number}.docx"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def law_search(request):
    require(request.user, Action.VIEW_DISPUTES, request)
    q = request.GET.get("q", "").strip()[:100]
    law = request.GET.get("law", "").strip()[:50]
    error, results = "", []
    if q:
        try:
            results = laws.find(q, law=law)
        except laws.CorpusMissing as exc:
            error = str(exc)
    template = "disputes/_law_results.html" if request.htmx else "disputes/laws.html"
    return render(request, template, {"title": "法律法规检索", "q": q, "law": law, "results": results, "error": error})


@login_required
def stats(request):
    user = request.user
    require(user, Action.VIEW_DISPUTES, request)
    month = _month(request.GET.get("month", ""))
    rows = queries.monthly_table(user, month)
    if request.GET.get("format") == "xlsx":
        return _stats_xlsx(rows, month)
    return render(request, "disputes/stats.html", {"title": "矛盾纠纷月度统计", "rows": rows, "month": month})


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return timezone.localdate().replace(day=1)


STAT_COLUMNS = [("tier", "调解层级"), ("registered", "登记数"), ("concluded", "调结数"), ("success_rate", "调解成功率%"),
                ("on_time_rate", "按期调结率%"), ("community_share", "社区（村）调结占比%"),
                ("within_street_share", "镇街以下调结占比%"), ("criminal", "民转刑"), ("open", "在办")]


def _stats_xlsx(rows: list[dict], month: date) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = f"{month:%Y-%m}"
    ws.append(sheets.row([f"矛盾纠纷多元化解月度统计（{month:%Y年%m月}）"]))
    ws.append(sheets.row(label for _, label in STAT_COLUMNS))
    for row in rows:
        ws.append(sheets.row("" if row[key] is None else row[key] for key, _ in STAT_COLUMNS))
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="disputes-{month:%Y-%m}.xlsx"'
    return response


# --- screening rounds ---------------------------------------------------------------------------


@login_required
def rounds(request):
    user = request.user
    require(user, Action.VIEW_DISPUTES, request)
    qs = screening.rounds_for(user).order_by("closed_at", "due_at", "region_path")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for rnd in page:
        rnd.may_close = rnd.closed_at is None and screening.may_close(user, rnd)
    return render(request, "disputes/rounds.html", {
        "title": "矛盾纠纷排查", "page": page, "rollup": screening.overdue_rollup(user), "now": timezone.now(),
        "may_special": can(user, Action.SCREEN_DISPUTES) and user.region_id and
        user.region.level in (Level.STREET, Level.DISTRICT, Level.CITY),
    })


@login_required
@require_POST
def round_close(request, pk: int):
    user = request.user
    require(user, Action.VIEW_DISPUTES, request)
    rnd = screening.rounds_for(user).filter(pk=pk).first()
    if rnd is None:
        raise Http404("排查不存在")
    numbers = [n for n in request.POST.get("disputes", "").replace("，", ",").replace(" ", ",").split(",") if n]
    try:
        screening.close_round(user, rnd, dispute_numbers=numbers, none_found=request.POST.get("none_found") == "1",
                              note=request.POST.get("note", ""))
    except DisputeError as exc:
        messages.error(request, f"“{rnd.title}”未能完成：{exc.message}")
    else:
        messages.success(request, f"{rnd.region.name}“{rnd.title}”已完成")
    return redirect("disputes:rounds")


@login_required
@require_POST
def round_special(request):
    user = request.user
    require(user, Action.SCREEN_DISPUTES, request)
    try:
        region = user.region
        if region is None:
            raise DisputeError("您的账户没有辖区", "region_code")
        made = screening.open_special(user, region, title=request.POST.get("title", ""),
                                      start=_parse_date(request.POST.get("start"), "start", "开始日期"),
                                      due=_parse_date(request.POST.get("due"), "due", "完成期限"))
    except DisputeError as exc:
        messages.error(request, f"专项排查未能开启：{exc.message}")
    else:
        messages.success(request, f"已向 {len(made)} 个单位部署专项排查")
    return redirect("disputes:rounds")


# --- petitions ----------------------------------------------------------------------------------


@login_required
def petition_list(request):
    user = request.user
    if not can(user, Action.VIEW_PETITIONS) and not Petition.objects.filter(case_leader=user).exists():
        require(user, Action.VIEW_PETITIONS, request)
    tab = request.GET.get("tab", "all")
    if tab not in dict(queries.PETITION_LISTS):
        tab = "all"
    qs = queries.petition_worklist(user, tab).order_by("-received_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "disputes/petitions.html", {
        "title": "信访", "tab": tab, "page": page,
        "tabs": [(k, label, queries.petition_worklist(user, k).count()) for k, label in queries.PETITION_LISTS],
        "may_register": can(user, Action.HANDLE_PETITION),
    })


@login_required
@idempotency.once_per_form("disputes.petition_new")  # a double submit goes to the first record
def petition_new(request):
    user = request.user
    require(user, Action.HANDLE_PETITION, request)
    error, status = None, 200
    if request.method == "POST":
        post = request.POST
        try:
            p = petitions.register(
                user, form=post.get("form", ""), petitioner_name=post.get("petitioner_name", ""),
                petitioner_id_number=post.get("petitioner_id_number", ""),
                petitioner_phone=post.get("petitioner_phone", ""), title=post.get("title", ""),
                content=post.get("content", ""), region=post.get("region_code", ""),
                collective=post.get("collective") == "1", people_count=post.get("people_count") or 1,
                skip_level=post.get("skip_level") == "1")
        except DisputeError as exc:
            error, status = exc, exc.status
        else:
            note = f"，与 {p.repeat_of.number} 为同一信访人同一事项（重复信访）" if p.repeat_of_id else ""
            messages.success(request, f"已登记信访件 {p.number}{note}")
            return redirect("disputes:petition", number=p.number)
    return render(request, "disputes/petition_new.html", {
        "title": "信访登记", "error": error, "values": request.POST, "forms": PetitionForm.choices,
        "regions": _region_choices(user, (Level.DISTRICT, Level.STREET, Level.COMMUNITY)),
    }, status=status)


def _petition_context(request, p: Petition, failed: dict | None = None) -> dict:
    user = request.user
    clock, due = petitions.current_due(p)
    staff = User.objects.filter(is_active=True, region__isnull=False).exclude(role=Role.RESIDENT).select_related("region")
    candidates = [u for u in staff.filter(region__path__in=[p.region_path[:i + 1] for i, c in enumerate(p.region_path)
                                                            if c == "/"])]
    return {
        "title": p.title, "p": p, "failed": failed or {},
        # Masked for everyone (lib.privacy); the office and the case leader reveal them, audited.
        "may_reveal": policy.may_reveal_petitioner(user, p) and bool(p.petitioner_id_number or p.petitioner_phone),
        "reveal_reasons": services.REVEAL_REASONS.items(),
        "clock": petitions.CLOCK_LABELS.get(clock, ""), "due": due,
        "events": [{"at": e.at, "label": _label(e.action, policy.PETITION_RULES), "actor": e.actor_name, "note": e.note,
                    "action": e.action} for e in p.events.all()],
        "actions": [(n, policy.PETITION_RULES[n].label) for n in policy.allowed_petition_actions(user, p)],
        "repeats": p.repeats.all(), "plans": p.plans.all(), "candidates": candidates,
        "extension_max": petitions.limit("extension"),
    }


@login_required
def petition_detail(request, number: str):
    return render(request, "disputes/petition.html", _petition_context(request, _petition_or_404(request, number)))


@login_required
@require_POST
def petition_reveal(request, number: str):
    """htmx: the petitioner's whole ID number and phone for the office and the case leader (audited)."""
    p = _petition_or_404(request, number)
    return _revealed(request, "disputes/_petitioner.html", {"p": p, "may_reveal": True},
                     lambda reason, note: petitions.reveal_petitioner(request.user, p, reason, note, request=request))


def _run_petition(action: str, p: Petition, user: User, post) -> str:
    version = _int(post.get("version"), "version", "版本")
    if action == "accept":
        petitions.accept(p, user, version, note=post.get("note", ""))
        return "已受理"
    if action == "not_accept":
        petitions.not_accept(p, user, version, reason=post.get("reason", ""))
        return "已决定不予受理"
    if action == "extend":
        petitions.extend(p, user, version, days=_int(post.get("days"), "days", "延长天数"), reason=post.get("reason", ""))
        return "已延期"
    if action == "reply":
        petitions.reply(p, user, version, text=post.get("text", ""))
        return "已书面答复"
    if action == "request_review":
        petitions.request_review(p, user, version, note=post.get("note", ""))
        return "已登记复查申请"
    if action == "answer_review":
        petitions.answer_review(p, user, version, text=post.get("text", ""))
        return "已答复复查"
    if action == "request_recheck":
        petitions.request_recheck(p, user, version, note=post.get("note", ""))
        return "已登记复核申请"
    if action == "answer_recheck":
        petitions.answer_recheck(p, user, version, text=post.get("text", ""))
        return "已答复复核，信访事项办结"
    if action == "assign":
        leader = User.objects.filter(pk=post.get("case_leader") or 0).select_related("region").first()
        responsible = User.objects.filter(pk=post.get("responsible") or 0).select_related("region").first()
        petitions.assign(p, user, version, case_leader=leader, responsible=responsible)
        return "已确定包案领导和责任人"
    if action == "plan":
        target = post.get("target_date")
        petitions.plan(p, user, version, measures=post.get("measures", ""), progress=post.get("progress", ""),
                       target_date=_parse_date(target, "target_date", "化解时限") if target else None)
        return "已记录一案一策"
    raise Http404("没有这个操作")


@login_required
@require_POST
def petition_act(request, number: str):
    return _act(request, number, kind="petition", fetch=_petition_or_404, rules=policy.PETITION_RULES,
                run=_run_petition, conflict=petitions.CONFLICT, template="disputes/petition.html",
                context=_petition_context, page="disputes:petition")
