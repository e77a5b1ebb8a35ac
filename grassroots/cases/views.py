"""Case pages: report, entry, worklists, the case page and its actions, tracking, 三率,
the catalog and the inbox.

Views stay thin: cases.services writes (and judges every input), cases.queries reads and
scopes, cases.policy says which actions a viewer may take. A case outside the viewer's
scope answers 404 as if it did not exist; a role without the action answers 403.
"""

import csv
import io
import math
from datetime import timedelta
from urllib.parse import urlencode

import shapely
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from grassroots.accounts.permissions import (
    Denied,
    audit_denial,
    can,
    home_region,
    region_in_scope,
    require,
    visible_departments,
    visible_regions,
)
from grassroots.accounts.roles import Action, Role
from grassroots.cases import catalog, deadlines, policy, queries, routing, services
from grassroots.cases.forms import (
    ACTION_FORMS,
    EntryForm,
    FilterForm,
    MatterForm,
    RatesForm,
    ReportForm,
)
from grassroots.cases.models import (
    FINAL_STATES,
    Attachment,
    Case,
    Channel,
    Extension,
    Matter,
    Notification,
    State,
    Tier,
)
from grassroots.cases.notify import unread_count
from grassroots.cases.services import CaseError, Conflict, NotAllowed, Report
from grassroots.lib import idempotency, privacy, ratelimit, sheets, workflow
from grassroots.territory import geo
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region
from grassroots.territory.queries import ancestors

PAGE_SIZE = 50
CONFLICT_MESSAGE = services.CONFLICT

# Timeline words for events that are not one of policy.RULES.
EVENT_LABELS = {
    "report": "反映问题",
    "close": "结案",
    "absorb": "合并重复件",
    "outcome": "随主件办结",
    "escalate": "超期升级",
    "warn": "临期提醒",
} | {name: rule.label for name, rule in policy.RULES.items()}

# Which services field an error names → which form field shows it.
FIELD_OF = {"files": "photos", "lon": "location", "lat": "location", "region_code": "location", "into": "into"}

DEFAULT_REPORT_CHANNEL = {Role.RESIDENT: Channel.APP, Role.GRID_WORKER: Channel.GRID, Role.COMMUNITY_STAFF: Channel.VISIT}
ENTRY_CHANNELS = [Channel.HOTLINE, Channel.LETTER, Channel.POLICE110, Channel.VISIT, Channel.APP]


# --- shared helpers ---------------------------------------------------------------------------


def _case_or_404(request, number: str) -> Case:
    case = queries.get_case(request.user, number)
    if case is None:
        if Case.objects.filter(number=number).exists():
            audit_denial(request.user, request, f"case {number} outside scope")
        raise Http404("事件不存在")
    return case


def _channels(user) -> list[str]:
    if user.is_superuser:
        return [c for c in Channel.values if c != Channel.API]
    allowed = services.CHANNELS_BY_ROLE.get(user.role, set())
    return [c for c in Channel.values if c in allowed]


def _form_error(form, exc: CaseError, rename: dict | None = None) -> None:
    """Put a services error on the form field it names (the map picker shows location errors)."""
    field = (rename or {}).get(exc.field) or FIELD_OF.get(exc.field, exc.field)
    if field == "location":
        form.location_error = exc.message
    else:
        form.add_error(field if field in form.fields else None, exc.message)


def _float(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时" if hours else f"{days} 天"
    if hours:
        return f"{hours} 小时 {mins} 分" if mins else f"{hours} 小时"
    return f"{mins} 分钟"


def _clock(label: str, start, due, done_at, now, *, finished: bool) -> dict | None:
    """One of the two clocks as the case page shows it: colour, due time and time left."""
    if due is None:
        return None
    clock = {"label": label, "due": due, "done_at": done_at}
    if done_at is not None:
        late = done_at > due
        clock.update(colour="red" if late else "green", text=f"{'超时' if late else '按时'}完成")
    elif finished:
        clock.update(colour="grey", text="已结束")
    elif now >= due:
        clock.update(colour="red", text=f"已超期 {_span(now - due)}")
    else:
        total = (due - start).total_seconds() if start else 0
        used = (now - start).total_seconds() / total if total > 0 else 1
        clock.update(colour="yellow" if used >= deadlines.YELLOW_AT else "green", text=f"剩余 {_span(due - now)}")
    return clock


def _route_value(route) -> str:
    if route.lead_department is not None:
        return f"d:{route.lead_department.pk}"
    if route.lead_region is not None:
        return f"r:{route.lead_region.code}"
    return ""


def _lead_box(user, region: Region | None, *, selected: str = "", assists=(), **extra) -> dict:
    """The lead units a dispatcher may choose for a case at REGION — its own territorial units
    inside the dispatcher's territory and the line departments of its district — for _lead.html."""
    lineage = [*ancestors(region), region] if region is not None else []
    territorial = [
        (f"r:{r.code}", f"{r.name}（{r.get_level_display()}）") for r in lineage
        if r.level in (Level.STREET, Level.COMMUNITY, Level.GRID) and policy.in_territory(user, r.path)
    ]
    district = next((r for r in lineage if r.level == Level.DISTRICT), None)
    departments = visible_departments(user).exclude(kind=Department.Kind.TERRITORIAL)
    if district is not None:
        departments = departments.filter(district=district)
    choices = [(str(d.pk), d.name) for d in departments]
    return {
        "options": {"territorial": territorial, "departments": [(f"d:{pk}", name) for pk, name in choices]},
        "selected": selected, "assist_choices": choices, "assists": set(assists), **extra,
    }


def _assist_choices(user) -> list[tuple[str, str]]:
    return [(str(d.pk), d.name) for d in visible_departments(user).exclude(kind=Department.Kind.TERRITORIAL)]


def _parse_lead(user, value: str) -> tuple[Region | None, Department | None]:
    kind, _, key = (value or "").partition(":")
    if kind == "r":
        region = Region.objects.filter(code=key).first()
        if region is not None:
            return region, None
    elif kind == "d" and key.isdigit():
        department = visible_departments(user).filter(pk=int(key)).first()
        if department is not None:
            return None, department
    raise CaseError("请指定一个主办单位（属地或部门）", "lead")


def _parse_assists(user, ids) -> list[Department]:
    ids = [int(i) for i in ids if str(i).isdigit()]
    return list(visible_departments(user).filter(pk__in=ids)) if ids else []


def _matters():
    return Matter.objects.filter(active=True).order_by("code")


def _place_choices(user) -> list[tuple[str, str]] | None:
    """Communities and grids in scope for the entry form's select, or None when too many for a select."""
    qs = visible_regions(user).filter(level__in=[Level.COMMUNITY, Level.GRID])
    if qs.count() > 600:
        return None
    return [(code, f"{'　' if level == Level.GRID else ''}{name}（{code}）")
            for code, name, level in qs.order_by("path").values_list("code", "name", "level")]


def _qs_without(request, *keys: str) -> str:
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params.urlencode()


# --- reporting ----------------------------------------------------------------------------


@login_required
def report(request):
    """A resident's (or grid worker's) report from a phone: text, a tap on the map, photos."""
    user = request.user
    require(user, Action.REPORT_CASE, request)
    channels = _channels(user)
    channel = request.POST.get("channel") or request.GET.get("channel") or DEFAULT_REPORT_CHANNEL.get(user.role, "")
    if channel not in channels:
        channel = DEFAULT_REPORT_CHANNEL.get(user.role) or (channels[0] if channels else Channel.APP)
    staff = user.role != Role.RESIDENT
    on_spot_allowed = user.role == Role.GRID_WORKER
    form = ReportForm(request.POST or None, request.FILES or None,
                      initial={"reporter_phone": privacy.plain_of(user.phone) if not staff else ""})

    def page(status: int = 200):
        return render(request, "cases/report.html", {
            "title": "网格上报" if channel == Channel.GRID else "反映问题",
            "form": form,
            "channel": channel,
            "channel_label": Channel(channel).label if channel in Channel.values else "",
            "staff": staff,
            "on_spot_allowed": on_spot_allowed,
            "matters": _matters() if staff else [],
            "once_token": idempotency.form_token(request),
        }, status=status)

    def submit():
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            entry = Report(
                channel=channel, description=d["description"], title=d["title"], lon=d["lon"], lat=d["lat"],
                address=d["address"], reporter_phone=d["reporter_phone"], anonymous=d["anonymous"],
                matter_code=d["matter_code"] if staff else "", files=d["photos"],
            )
            try:
                with transaction.atomic():  # an on-spot result that fails takes the report back too
                    taken = services.intake(user, entry)
                    if on_spot_allowed and d["on_spot"]:
                        services.resolve_on_spot(taken.case, user, taken.case.version, d["on_spot_result"])
            except CaseError as exc:
                _form_error(form, exc, {"result": "on_spot_result"})
                status = exc.status
            else:
                return redirect("cases:submitted", number=taken.case.number)
        return page(status)

    if request.method == "POST":  # once per form token: a double submit goes to the first report
        return idempotency.form_once(request, "cases.report", submit)
    return page()


@login_required
def submitted(request, number: str):
    """What the reporter sees after submitting: number, tracking code, suggested matters, route."""
    case = _case_or_404(request, number)
    if case.created_by_id != request.user.pk:
        raise Http404("事件不存在")
    first = case.events.filter(action="report").first()
    suggestions = [
        {**s, "percent": round(100 * float(s.get("score", 0)))} for s in (first.data.get("suggested", []) if first else [])
    ]
    return render(request, "cases/submitted.html", {
        "title": "提交成功",
        "case": case,
        "phone": str(case.reporter_phone),
        "suggestions": suggestions,
        "route": routing.suggest_route(case.matter, case.region),
        "track_url": request.build_absolute_uri(reverse("track")) + "?" + urlencode({"code": case.tracking_code}),
    })


GRID_FEATURES_MAX = 600
STREET_FEATURES_MAX = 400


@login_required
def grid_outlines(request):
    """Grid outlines and names for picking a place on the report map — no people, no cases.

    Without `bbox` it answers where the map should start (the user's scope, or the whole
    platform). With `bbox=w,s,e,n` it answers the grids in view, or, when the view holds too
    many to draw, the outlines of the streets in view so the user can zoom into one.
    """
    index = geo.grid_index()
    raw = request.GET.get("bbox", "")
    box = [_float(x) for x in raw.split(",")] if raw else []
    if len(box) != 4 or None in box:
        region = home_region(request.user) if request.user.role != Role.RESIDENT else None
        bounds = None
        if region is not None and region.boundary:
            bounds = list(geo.to_geometry(region.boundary).bounds)
        elif len(index):
            bounds = [float(x) for x in shapely.total_bounds(index.geoms)]
        if bounds is not None and any(math.isnan(x) for x in bounds):
            bounds = None
        return JsonResponse({"type": "FeatureCollection", "features": [], "bounds": bounds})
    west, south, east, north = box
    hits = sorted(int(i) for i in index.tree.query(shapely.box(west, south, east, north))) if len(index) else []
    if len(hits) <= GRID_FEATURES_MAX:
        features = [
            {"type": "Feature", "geometry": index.rows[i]["boundary"],
             "properties": {"code": index.rows[i]["code"], "name": index.rows[i]["name"], "level": "grid"}}
            for i in hits
        ]
        return JsonResponse({"type": "FeatureCollection", "features": features})
    dx, dy = (east - west) / 2, (north - south) / 2
    streets = list(
        Region.objects.filter(level=Level.STREET, boundary__isnull=False,
                              center_lon__range=(west - dx, east + dx), center_lat__range=(south - dy, north + dy))
        .order_by("code").values("code", "name", "boundary")[: STREET_FEATURES_MAX + 1]
    )
    if len(streets) > STREET_FEATURES_MAX:
        return JsonResponse({"type": "FeatureCollection", "features": [], "zoom_in": True})
    features = [
        {"type": "Feature", "geometry": s["boundary"], "properties": {"code": s["code"], "name": s["name"], "level": "street"}}
        for s in streets
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features, "zoom_in": True})


def _place(user, lon, lat, region_code) -> Region | None:
    """The region a half-filled form points at, for suggestions (services decide for real)."""
    if lon is not None and lat is not None:
        hit = geo.locate(lon, lat)
        return Region.objects.filter(pk=hit.id).first() if hit else None
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        if region is not None and (user.role == Role.DISPATCHER or region_in_scope(user, region)):
            return region
    return None


@login_required
def suggest(request):
    """htmx: the classifier's top three for the text typed so far, the route they lead to,
    likely duplicates in the viewer's scope, and (entry form) the lead units to choose from."""
    user = request.user
    if not (can(user, Action.ENTER_CASE) or can(user, Action.REPORT_CASE)):
        require(user, Action.ENTER_CASE, request)
    g = request.GET
    text = g.get("description", "").strip()[: services.MAX_TEXT]
    suggestions = services.classify(text) if text else []
    chosen = g.get("matter_code", "")
    matters = {m.code: m for m in Matter.objects.filter(code__in=[s.code for s in suggestions] + [chosen], active=True)}
    rows = [{"code": s.code, "name": s.name, "percent": round(100 * s.score),
             "tier": matters[s.code].tier if s.code in matters else ""} for s in suggestions]
    matter = matters.get(chosen or (rows[0]["code"] if rows else ""))
    lon, lat = _float(g.get("lon")), _float(g.get("lat"))
    region = _place(user, lon, lat, g.get("region_code", "").strip())
    entry = g.get("mode") == "entry"
    context = {"suggestions": rows, "matter": matter, "chosen": chosen, "region": region, "entry": entry,
               "grid_tier": matter is not None and matter.tier == Tier.GRID}
    route = None
    if region is not None and matter is not None:
        route = context["route"] = routing.suggest_route(matter, region)
        if entry:
            probe = Case(description=text, matter_code=matter.code, grid=region if region.level == Level.GRID else None,
                         region=region, lon=lon, lat=lat)
            found = queries.likely_duplicates(probe)
            visible = set(queries.visible_cases(user).filter(pk__in=[c.pk for c, _ in found]).values_list("pk", flat=True)
                          ) if found else set()
            context["duplicates"] = [(c, score) for c, score in found if c.pk in visible]
    if entry and can(user, Action.DISPATCH_CASE):
        touched = g.get("lead_touched") == "1"
        box = _lead_box(user, region, oob=True)
        values = {v for v, _ in box["options"]["territorial"] + box["options"]["departments"]}
        current = g.get("lead", "")
        box["selected"] = current if touched and current in values else (_route_value(route) if route else current)
        box["assists"] = set(g.getlist("assists")) if touched else {str(d.pk) for d in (route.assists if route else [])}
        context["lead"] = box
    # A fragment: no navigation or other context processors to run.
    return HttpResponse(render_to_string("cases/_suggest.html", context))


@login_required
def new(request):
    """A dispatcher's entry of a call, letter, 110 transfer or visit: 受理并派遣 in one go."""
    user = request.user
    require(user, Action.ENTER_CASE, request)
    may_dispatch = can(user, Action.DISPATCH_CASE)
    channels = [c for c in ENTRY_CHANNELS if c in _channels(user)]
    form = EntryForm(request.POST or None, request.FILES or None, channels=channels,
                     assist_choices=_assist_choices(user), initial={"channel": channels[0] if channels else ""})
    lead_error = ""

    def page(status: int):
        return _entry_page(request, form, may_dispatch, lead_error, status)

    def submit():
        nonlocal lead_error
        status = 400
        dispatching = may_dispatch and request.POST.get("submit") != "register"
        if form.is_valid():
            d = form.cleaned_data
            entry = Report(
                channel=d["channel"], description=d["description"], title=d["title"], lon=d["lon"], lat=d["lat"],
                address=d["address"], region_code=d["region_code"] if d["lon"] is None else "",
                reporter_name=d["reporter_name"], reporter_phone=d["reporter_phone"], anonymous=d["anonymous"],
                matter_code=d["matter_code"], files=d["photos"],
            )
            try:
                with transaction.atomic():  # entered and dispatched together, or not at all
                    lead_region = lead_department = None
                    if dispatching:
                        lead_region, lead_department = _parse_lead(user, d["lead"])
                    taken = services.intake(user, entry)
                    case = taken.case
                    if dispatching:
                        services.dispatch(case, user, case.version, lead_region=lead_region,
                                          lead_department=lead_department, assists=_parse_assists(user, d["assists"]),
                                          note=d["note"])
            except CaseError as exc:
                if exc.field == "lead":
                    lead_error = exc.message
                _form_error(form, exc)
                status = exc.status
            else:
                messages.success(request, f"已受理并派遣：{case.number}" if dispatching else f"已登记：{case.number}")
                return redirect("cases:detail", number=case.number)
        return page(status)

    if request.method == "POST":  # once per form token: a double submit goes to the first entry
        return idempotency.form_once(request, "cases.new", submit)
    return page(200)


def _entry_page(request, form, may_dispatch: bool, lead_error: str, status: int):
    user = request.user
    data = form.data if form.is_bound else {}
    region = _place(user, _float(data.get("lon")), _float(data.get("lat")), data.get("region_code", ""))
    lead = None
    if may_dispatch:
        lead = _lead_box(user, region, selected=data.get("lead", ""),
                         assists=data.getlist("assists") if form.is_bound else (), error=lead_error)
    return render(request, "cases/new.html", {
        "title": "来件登记",
        "form": form,
        "may_dispatch": may_dispatch,
        "matters": _matters(),
        "places": _place_choices(user),
        "lead": lead,
        "once_token": idempotency.form_token(request),
    }, status=status)


# --- worklists and export -----------------------------------------------------------------


def _tabs(user) -> list[tuple[str, str]]:
    if user.role == Role.RESIDENT:
        return [("pending", "待我评价"), ("all", "我反映的")]
    return list(queries.WORKLISTS.items())


def _default_tab(user) -> str:
    return "all" if user.role in (Role.LEADER, Role.ADMIN, Role.MEDIATOR, Role.RESIDENT) else "pending"


def _listed(request):
    """(tab, filter form, queryset) for the worklist and its exports."""
    user = request.user
    tabs = dict(_tabs(user))
    tab = request.GET.get("tab") or _default_tab(user)
    if tab not in tabs:
        tab = _default_tab(user)
    form = FilterForm(request.GET or None)
    qs = queries.apply_filters(queries.worklist(user, tab), form.filters())
    qs = qs.select_related("region", "grid", "lead_region", "lead_department")  # newest first: the worklist's order
    return tab, form, qs


def worklist_summary(user) -> list[dict]:
    """Each worklist with its count, for the role homes."""
    if not user.is_authenticated or not (can(user, Action.VIEW_CASES) or user.role == Role.RESIDENT):
        return []
    url = reverse("cases:list")
    return [{"key": key, "label": label, "count": queries.worklist(user, key).count(), "url": f"{url}?tab={key}"}
            for key, label in _tabs(user)]


@login_required
def worklist_page(request):
    user = request.user
    if user.role != Role.RESIDENT:
        require(user, Action.VIEW_CASES, request)
    tab, form, qs = _listed(request)
    filters = form.filters()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for case in page:
        case.shown_phone = queries.shown_phone(user, case)
    context = {
        "title": "我反映的问题" if user.role == Role.RESIDENT else "事件工作台",
        "tab": tab,
        # Each tab counts what it would list under the same filters.
        "tabs": [(key, label, queries.apply_filters(queries.worklist(user, key), filters).count())
                 for key, label in _tabs(user)],
        "form": form,
        "page": page,
        "query": _qs_without(request, "page"),
        "filter_query": _qs_without(request, "page", "tab"),
        "filtering": any(request.GET.get(k) for k in FilterForm.base_fields),
        "may_export": can(user, Action.EXPORT_CASES),
        "resident": user.role == Role.RESIDENT,
    }
    if request.htmx and request.htmx.target == "results":
        return render(request, "cases/_results.html", context)
    return render(request, "cases/worklist.html", context)


EXPORT_HEADER = ["编号", "标题", "事项编码", "事项", "状态", "来源渠道", "属地", "网格", "主办单位", "预警", "上报时间",
                 "响应时限", "办结时限", "反映人", "联系电话", "地址"]


def _export_rows(user, qs):
    local = timezone.localtime
    for c in qs.iterator(chunk_size=1000):
        yield [
            c.number, c.title, c.matter_code, c.matter_name, c.get_state_display(), c.get_channel_display(),
            c.region.name, c.grid.name if c.grid_id else "", c.lead_name, c.get_alert_display(),
            f"{local(c.created_at):%Y-%m-%d %H:%M}",
            f"{local(c.respond_due_at):%Y-%m-%d %H:%M}" if c.respond_due_at else "",
            f"{local(c.resolve_due_at):%Y-%m-%d %H:%M}" if c.resolve_due_at else "",
            "匿名" if c.anonymous else c.reporter_name,
            str(c.reporter_phone),  # the mask, always: a file leaves the platform; call-backs reveal one at a time
            c.address,
        ]


class _Echo:
    def write(self, value):
        return value


@login_required
def export(request, fmt: str):
    """The current filtered worklist, within scope, as CSV or Excel. Phones are masked for every
    role: a file leaves the platform and cannot be recalled, while a call-back needs one number
    at a time, which the case page reveals (and audits)."""
    user = request.user
    require(user, Action.EXPORT_CASES, request)
    _, _, qs = _listed(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def lines():
            yield "\ufeff"  # Excel opens UTF-8 CSV correctly with a BOM
            yield writer.writerow(sheets.row(EXPORT_HEADER))
            for row in _export_rows(user, qs):
                yield writer.writerow(sheets.row(row))

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cases-{stamp}.csv"'
        return response
    return _xlsx_response(f"cases-{stamp}.xlsx", "事件", EXPORT_HEADER, _export_rows(user, qs))


def _xlsx_response(filename: str, sheet: str, header: list[str], rows, *, title: str = "") -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    if title:
        ws.append(sheets.row([title]))
    ws.append(sheets.row(header))
    for row in rows:
        ws.append(sheets.row(row))
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- the case page and its actions --------------------------------------------------------


def _detail_context(request, case: Case, failed: dict | None = None) -> dict:
    user = request.user
    now = timezone.now()
    staff = user.role != Role.RESIDENT
    allowed = policy.allowed_actions(user, case)
    pending = case.extensions.filter(decision=Extension.Decision.PENDING).first()
    if pending is None and "decide_extension" in allowed:
        allowed.remove("decide_extension")
    if pending is not None and "request_extension" in allowed:
        allowed.remove("request_extension")
    if case.tier != Tier.GRID and "resolve_on_spot" in allowed:
        allowed.remove("resolve_on_spot")
    finished = case.state in FINAL_STATES
    supervisions = queries.case_supervisions(case)  # the 督办 box and the timeline
    context = {
        "title": f"事件 {case.number}",
        "case": case,
        "staff": staff,
        "phone": queries.shown_phone(user, case),
        "may_reveal": policy.may_reveal_phone(user, case),
        "reveal_reasons": services.REVEAL_REASONS.items(),
        "clocks": [c for c in (
            _clock("响应", case.accepted_at, case.respond_due_at, case.responded_at, now, finished=finished),
            _clock("办结", case.accepted_at, case.resolve_due_at, case.resolved_at, now, finished=finished),
        ) if c],
        "events": [
            {"at": e.at, "actor": e.actor_name if staff else ("" if e.action == "report" else "工作人员"),
             "label": EVENT_LABELS.get(e.action, e.action), "action": e.action,
             "from": State(e.from_state).label if e.from_state in State.values else "",
             "to": State(e.to_state).label if e.to_state in State.values and e.to_state != e.from_state else "",
             "note": e.note}
            for e in queries.timeline(case, supervisions)
        ],
        "attachments": list(case.attachments.all()),
        "assists": list(case.assists.select_related("department", "region")),
        "supervisions": supervisions,
        "extensions": list(case.extensions.select_related("requested_by", "decided_by")),
        "evaluations": list(case.evaluations.all()),
        "merged": list(case.merged_cases.all()) if staff else [],
        **_dispute_link(user, case),
        "allowed": allowed,
        "actions": [(name, policy.RULES[name].label) for name in allowed],
        "pending_extension": pending,
        "failed": failed or {},
        "typed": {failed["action"]: failed["values"]} if failed else {},
        "errors": {failed["action"]: failed["error"]} if failed else {},
        "orphan": bool(failed) and failed["action"] not in allowed,
        "map_data": {
            "outline": (case.grid or case.region).boundary,
            "point": [case.lon, case.lat] if case.lon is not None else None,
            "name": (case.grid or case.region).name,
        },
    }
    if {"dispatch", "arbitrate", "accept"} & set(allowed):
        route = routing.suggest_route(case.matter, case.region)
        typed = (failed or {}).get("values")
        lead = _lead_box(user, case.region, selected=typed.get("lead", "") if typed else _route_value(route),
                         assists=typed.getlist("assists") if typed else [str(d.pk) for d in route.assists])
        context.update(route=route, lead=lead, matters=_matters())
    return context


def _run(action: str, case: Case, user, data: dict) -> str:
    """Carry out ACTION through services; the success message."""
    version = data.get("version")
    if action == "accept":
        services.accept(case, user, version, matter_code=data["matter_code"], note=data["note"])
    elif action == "dispatch":
        lead_region, lead_department = _parse_lead(user, data["lead"])
        services.dispatch(case, user, version, lead_region=lead_region, lead_department=lead_department,
                          assists=_parse_assists(user, data["assists"]), matter_code=data["matter_code"],
                          note=data["note"])
    elif action == "start":
        services.start(case, user, version)
    elif action == "respond":
        services.respond(case, user, version, data["note"])
    elif action == "resolve":
        services.resolve(case, user, version, data["result"])
    elif action == "resolve_on_spot":
        services.resolve_on_spot(case, user, version, data["result"])
    elif action == "return":
        services.return_case(case, user, version, data["reason"])
    elif action == "arbitrate":
        uphold = data["ruling"] == "uphold"
        lead_region = lead_department = None
        if uphold and data["lead"]:
            lead_region, lead_department = _parse_lead(user, data["lead"])
        services.arbitrate(case, user, version, uphold=uphold, note=data["note"], lead_region=lead_region,
                           lead_department=lead_department, assists=_parse_assists(user, data["assists"]))
    elif action == "request_extension":
        services.request_extension(case, user, version, data["workdays"], data["reason"])
    elif action == "decide_extension":
        pending = case.extensions.filter(decision=Extension.Decision.PENDING).first()
        if pending is None:
            raise Conflict("该延期申请已审批")
        services.decide_extension(pending, user, version, approve=data["decision"] == "approve", note=data["note"])
    elif action == "evaluate":
        services.evaluate(case, user, version, solved=data["solved"] == "yes", satisfied=data["satisfied"] == "yes",
                          comment=data["comment"])
    elif action == "reopen":
        services.reopen(case, user, version, data["reason"])
    elif action == "merge":
        into = queries.get_case(user, data["into"])
        if into is None:
            raise CaseError("目标事件不存在", "into")
        services.merge(case, user, version, into)
    elif action == "reject":
        services.reject(case, user, version, data["reason"])
    elif action == "supervise":
        services.supervise(case, user, data["reason"])
    return f"已{policy.RULES[action].label}"


@login_required
def detail(request, number: str):
    case = _case_or_404(request, number)
    return render(request, "cases/detail.html", _detail_context(request, case))


@login_required
@require_POST
def reveal_phone(request, number: str):
    """htmx (or a plain form post): the reporter's whole phone for someone who has to call them,
    after a reason is picked; every reveal is audited. Not cached anywhere."""
    user = request.user
    case = _case_or_404(request, number)
    reason, note = request.POST.get("reason", ""), request.POST.get("note", "")
    error, status, full = "", 200, ""
    try:
        full = services.reveal_phone_for(user, case, request, reason, note)
    except NotAllowed as exc:
        raise Denied("phone.reveal", exc.message) from None
    except CaseError as exc:
        error, status = exc.message, exc.status
    context = {"case": case, "phone": full or queries.shown_phone(user, case), "revealed": bool(full),
               "may_reveal": not full, "reveal_reasons": services.REVEAL_REASONS.items(), "reveal_error": error,
               "typed_reason": reason, "typed_note": note}
    if request.htmx:  # htmx swaps only 2xx answers: the reason error comes back in the fragment
        response = render(request, "cases/_reporter.html", context)
    else:
        response = render(request, "cases/detail.html", {**_detail_context(request, case), **context}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def act(request, number: str):
    """One action of the case page. Errors come back on the same page with the typed text kept."""
    user = request.user
    case = _case_or_404(request, number)
    action = request.POST.get("action", "")
    if action not in ACTION_FORMS:
        raise Http404("没有这个操作")
    kwargs = {"assist_choices": _assist_choices(user)} if action in ("dispatch", "arbitrate") else {}
    form = ACTION_FORMS[action](request.POST, **kwargs)
    status, message, changed = 400, "", ""
    if not form.is_valid():
        message = "；".join(e for errors in form.errors.values() for e in errors)
        if "version" in form.errors:
            status = 409
    else:
        version = form.cleaned_data.get("version")
        try:
            # lib.workflow's order: the page out of date first (409, with what changed), then the permission.
            services.check(case, user, action, version)
            with transaction.atomic():
                done = _run(action, case, user, form.cleaned_data)
        except Conflict as exc:
            status, message = 409, exc.message
            changed = workflow.conflict_text(exc)
        except CaseError as exc:
            status, message = exc.status, exc.message
        else:
            messages.success(request, done)
            if request.POST.get("next") == "track":
                return redirect(f"{reverse('track')}?{urlencode({'code': case.tracking_code})}")
            return redirect("cases:detail", number=case.number)
    fresh = queries.get_case(user, number)
    if fresh is None:  # merged or moved out of scope meanwhile
        raise Http404("事件不存在")
    typed = "\n".join(request.POST.get(k, "") for k in ("note", "reason", "result", "comment", "into")
                      if request.POST.get(k, "").strip())
    failed = {"action": action, "values": request.POST, "error": message, "conflict": status == 409, "changed": changed,
              "label": policy.RULES[action].label, "text": typed}
    return render(request, "cases/detail.html", _detail_context(request, fresh, failed), status=status)


@login_required
def attachment(request, number: str, pk: int):
    """A photo or PDF of a case, only for someone who may see the case (never a public media URL)."""
    case = _case_or_404(request, number)
    item = get_object_or_404(Attachment, pk=pk, case=case)
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise Http404("附件不存在") from None
    response = FileResponse(handle, content_type=item.content_type, as_attachment=not item.is_image, filename=item.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- public tracking ----------------------------------------------------------------------

PUBLIC_EVENTS = {"report", "accept", "dispatch", "start", "respond", "resolve", "resolve_on_spot", "return",
                 "arbitrate", "evaluate", "reopen", "merge", "reject", "close", "outcome", "decide_extension"}


def track(request):
    """Anyone holding a tracking code sees the state and a timeline with no names or personal data;
    the signed-in reporter may also evaluate a resolved case here. Lookups are rate limited per
    caller — the signed-in user, else the client address (lib/ratelimit.py): 429 with Retry-After
    when too many, or when that caller's misses here are spent."""
    code = (request.GET.get("code") or "").strip().upper()[:12]
    if code:  # every lookup counts; misses also count in the strict bucket (codes must not be guessed)
        verdict = ratelimit.check(request, "track", "RATE_LIMIT_TRACK", misses=True)
        if not verdict.allowed:
            response = render(request, "cases/track.html", {"title": "办理进度查询", "code": code,
                                                            "throttled": ratelimit.message(verdict)}, status=429)
            response["Retry-After"] = str(verdict.retry_after)
            return response
    case = Case.objects.filter(tracking_code=code).select_related("merged_into").first() if code else None
    if code and case is None:
        ratelimit.miss(request, "track")
    context = {"title": "办理进度查询", "code": code, "case": case}
    status = 404 if code and case is None else 200
    if case is not None:
        user = request.user
        reporter = user.is_authenticated and case.reporter_id == user.pk
        context.update(
            reporter=reporter,
            events=[{"at": e.at, "label": EVENT_LABELS.get(e.action, e.action),
                     "to": State(e.to_state).label if e.to_state in State.values and e.to_state != e.from_state else ""}
                    for e in case.events.all() if e.action in PUBLIC_EVENTS],
            may_evaluate=reporter and "evaluate" in policy.allowed_actions(user, case),
            evaluation=case.evaluations.exclude(source="timeout").first() if reporter else None,
        )
    return render(request, "cases/track.html", context, status=status)


# --- 三率 ---------------------------------------------------------------------------------


def _rate_regions(user) -> list[Region]:
    qs = visible_regions(user).filter(level__in=[Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY])
    if qs.count() > 400:
        qs = qs.exclude(level=Level.COMMUNITY)
    return list(qs.order_by("path")[:400])


def _rates(request):
    user = request.user
    form = RatesForm(request.GET or None)
    start, end, label = form.period()
    region = None
    rows = []
    code = form.cleaned_data.get("region") if form.is_bound and form.is_valid() else ""
    if code:
        region = Region.objects.filter(code=code).first()
        if region is None or not region_in_scope(user, region):
            form.add_error("region", "所选辖区不在您的范围内")
            return form, start, end, label, None, rows
    rows = queries.rates_in_scope(user, start, end, region)
    return form, start, end, label, region, rows


@login_required
def rates_page(request):
    require(request.user, Action.VIEW_RATES, request)
    form, start, end, label, region, rows = _rates(request)
    return render(request, "cases/rates.html", {
        "title": "三率统计", "form": form, "label": label, "region": region or home_region(request.user), "rows": rows,
        "regions": _rate_regions(request.user), "query": request.GET.urlencode(),
        "month": timezone.localtime(start).strftime("%Y-%m"),
    }, status=400 if form.errors else 200)


def _pct(value) -> str:
    return "—" if value is None else f"{value}%"


@login_required
def rates_export(request):
    require(request.user, Action.VIEW_RATES, request)
    _, _, _, label, region, rows = _rates(request)
    header = ["主办单位", "所属", "应响应", "按时响应", "响应率", "评价数", "已解决", "解决率", "满意", "满意率"]
    data = [[r.unit, r.within, r.due, r.responded_in_time, _pct(r.response_rate), r.evaluated, r.solved, _pct(r.resolution_rate),
             r.satisfied, _pct(r.satisfaction_rate)] for r in rows]
    region = region or home_region(request.user)
    return _xlsx_response(f"rates-{timezone.localdate():%Y%m%d}.xlsx", "三率", header, data,
                          title=f"三率统计 · {region.name if region else '全部辖区'} · {label}")


# --- the matter catalog -----------------------------------------------------------------

FIELD_LABELS = {
    "name": "事项", "department_code": "主责部门代码", "tier": "处置层级", "priority": "紧急程度",
    "response_hours": "响应时限（小时）", "resolve_workdays": "办结时限（工作日）", "description": "说明", "active": "状态",
}


def _display(key: str, value) -> str:
    if key == "tier":
        return Tier(value).label if value in Tier.values else str(value)
    if key == "priority":
        return {"normal": "一般", "urgent": "紧急"}.get(value, str(value))
    if key == "active":
        return "在用" if value else "停用"
    return str(value)


@login_required
def catalog_page(request):
    user = request.user
    if not can(user, Action.EDIT_CATALOG):
        require(user, Action.VIEW_CASES, request)
    matters = Matter.objects.order_by("code")
    q = request.GET.get("q", "").strip()
    if q:
        matters = matters.filter(code__startswith=q) | matters.filter(name__contains=q)
    return render(request, "cases/catalog.html", {
        "title": "事项清单", "matters": matters, "q": q, "may_edit": can(user, Action.EDIT_CATALOG),
    })


@login_required
def catalog_edit(request, code: str):
    user = request.user
    require(user, Action.EDIT_CATALOG, request)
    matter = get_object_or_404(Matter, code=code)
    status, error = 200, ""
    initial = {k: getattr(matter, k) for k in ("tier", "department_code", "priority", "response_hours", "resolve_workdays")}
    form = MatterForm(request.POST or None, initial=initial)
    if request.method == "POST":
        status = 400
        if "active" in request.POST:  # retire / restore
            values = {"active": request.POST["active"] == "1"}
        elif form.is_valid():
            values = dict(form.cleaned_data)
        else:
            values = None
        if values is not None:
            try:
                catalog.change_matter(matter, values, by=user)
            except ValueError as exc:
                error = str(exc)
                matter.refresh_from_db()
            else:
                messages.success(request, f"已保存：{matter.code} {matter.name}")
                return redirect("cases:catalog_edit", code=matter.code)
    changes = [
        {"at": c.at, "by": c.by.display_name if c.by else "系统",
         "items": [(FIELD_LABELS.get(k, k), _display(k, c.before.get(k)), _display(k, v)) for k, v in c.after.items()]}
        for c in matter.changes.select_related("by")
    ]
    return render(request, "cases/catalog_edit.html", {
        "title": f"事项 {matter.code}", "matter": matter, "form": form, "error": error, "changes": changes,
        "tiers": Tier.choices, "department_codes": sorted(set(Department.objects.values_list("code", flat=True))),
        "open_cases": Case.objects.filter(matter_code=matter.code, state__in=[s for s in State.values if s not in FINAL_STATES]).count(),
    }, status=status)


# --- notifications ----------------------------------------------------------------------


@login_required
def inbox(request):
    notes = (Notification.objects.filter(recipient=request.user).select_related("case")
             .order_by(F("read_at").desc(nulls_first=True), "-created_at", "-id"))
    page = Paginator(notes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cases/inbox.html", {"title": "通知", "page": page, "unread": unread_count(request.user)})


@login_required
@require_POST
def inbox_read(request, pk: int):
    note = get_object_or_404(Notification, pk=pk, recipient=request.user)
    if note.read_at is None:
        Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=timezone.now())
        note.refresh_from_db()
    if request.htmx:
        return render(request, "cases/_note.html", {"note": note})
    return redirect("cases:inbox")


@login_required
@require_POST
def inbox_read_all(request):
    n = Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, f"已将 {n} 条通知标为已读")
    return redirect("cases:inbox")


def _dispute_link(user, case: Case) -> dict:
    """事件转矛盾纠纷: the dispute this case became, or whether this user may convert it."""
    from grassroots.disputes.models import Dispute

    dispute = Dispute.objects.filter(case=case).only("number").first()
    staff = user.role != Role.RESIDENT
    return {"dispute": dispute if staff else None,
            "can_convert": dispute is None and staff and can(user, Action.REGISTER_DISPUTE)
            and case.state not in (State.MERGED, State.REJECTED)}


DIGEST_WORKLISTS = {"due_soon": "due_soon", "escalated": "overdue", "supervised": "overdue"}


@login_required
def inbox_open(request, pk: int):
    """Open a notification's case and mark the notification read."""
    note = get_object_or_404(Notification.objects.select_related("case"), pk=pk, recipient=request.user)
    Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=timezone.now())
    if note.case_id:
        return redirect("cases:detail", number=note.case.number)
    if note.link.startswith("/") and not note.link.startswith("//"):  # a page of the platform's own
        return redirect(note.link)
    worklist = DIGEST_WORKLISTS.get(note.kind)  # a digest of several cases: the matching worklist
    if worklist:
        return redirect(f"{reverse('cases:list')}?tab={worklist}")
    return redirect("cases:inbox")
