"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) at /open311/v2/.

Plain Django views because Open311 has its own formats: every resource in .json and .xml,
errors as an array of {code, description}, form-encoded POSTs. The mapping:

  service            = an active matter of the catalog (service_code = matter code,
                       group = its category); no service has extra attributes (metadata false)
  service_request    = a case (service_request_id = case number, token = its tracking code)
  api_key            = the caller's personal API token (the same gr_… token as /api/);
                       required to POST, optional to GET (it widens what GET shows)

What a GET shows (个人信息保护法: the least needed):
  * No reader ever gets a reporter's name, phone or e-mail, or attachments (media_url).
  * Cases inside the api_key owner's scope (queries.visible_cases: their territory, their
    department, their own reports) come in full: description, address, exact lat/long,
    and the result in status_notes.
  * Everything else is the public view: status, the matter, the responsible unit and the
    dates; no description (it may name people); the address is only the street and
    community; lat/long rounded to 3 decimals (about 100 m). Cases of sensitive matters
    (disputes, public security, social assistance, labour — they are about persons, not
    places), police referrals (110分流), rejected reports and not yet classified ones are
    not public at all.

Reads (GET requests, requests/{id}, tokens/{token}) are rate limited (lib/ratelimit.py,
RATE_LIMIT_OPEN311) per api_key, signed-in user or (anonymous) client address; a request id or
token that does not exist also counts in that caller's strict miss bucket for Open311
(RATE_LIMIT_MISS), and once it is spent that caller's reads wait for the window. An api_key
that is invalid counts against the client address (RATE_LIMIT_BAD_TOKEN); past that limit
keys from there are refused before they are looked up. Over a limit: 429, an Open311 error
array and Retry-After.
"""

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.permissions import audit, audit_denial, can
from grassroots.accounts.roles import Action, Role
from grassroots.accounts.services import user_for_token
from grassroots.api.params import FIRST_YEAR, LAST_YEAR
from grassroots.cases import queries, services
from grassroots.cases.models import OPEN_STATES, Case, Channel, Matter, State
from grassroots.lib import idempotency, ratelimit
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Region

# Categories whose cases concern persons rather than places: never in the public view.
PRIVATE_CATEGORIES = ("矛盾纠纷", "社会治安", "民政服务", "劳动保障")
PRIVATE_CHANNELS = (Channel.POLICE110,)
PUBLIC_DECIMALS = 3
DEFAULT_DAYS = 90  # the spec's default window and the longest one a query may span
MAX_RESULTS = 1000
MAX_IDS = 100

# Our field names (services.CaseError.field) → the Open311 parameter a client sent.
FIELDS = {
    "lon": "lat/long",
    "lat": "lat/long",
    "region_code": "address_id",
    "matter_code": "service_code",
    "reporter_phone": "phone",
    "reporter_name": "first_name/last_name",
    "address": "address_string",
    "description": "description",
    "channel": "api_key",
}


class Refusal(Exception):
    def __init__(self, status: int, description: str, retry_after: int = 0):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


# --- output -------------------------------------------------------------------------------


def _w3(value: datetime | None) -> str | None:
    """2026-03-02T09:30:00+08:00: the w3 subset of ISO 8601 with the offset, as the spec asks."""
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def _xml_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_fill(parent: ET.Element, fields: dict) -> None:
    for key, value in fields.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            for item in value:
                _xml_fill(ET.SubElement(child, key.rstrip("s")), item)
        else:
            child.text = _xml_text(value)


def _render(fmt: str, rows, *, root: str, item: str, status: int = 200) -> HttpResponse:
    """ROWS (a list of dicts, or one dict for a root without items) as JSON or as XML."""
    if fmt == "json":
        return HttpResponse(
            json.dumps(rows, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
        )
    top = ET.Element(root)
    if isinstance(rows, dict):
        _xml_fill(top, rows)
    else:
        for row in rows:
            _xml_fill(ET.SubElement(top, item), row)
    body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode")
    return HttpResponse(body.encode(), status=status, content_type="text/xml; charset=utf-8")


def error_response(fmt: str, status: int, description: str) -> HttpResponse:
    """Open311's error answer: [{"code": STATUS, "description": …}] (XML: <errors><error>…)."""
    response = _render(fmt, [{"code": status, "description": description}], root="errors", item="error",
                       status=status)
    response.open311 = True  # api.middleware leaves it as it is
    return response


_errors = error_response


def _view(handler):
    """Open311 plumbing for one resource: CSRF exempt (api_key is the credential, not a cookie),
    allowed methods, and every refusal as an Open311 error array in the requested format."""

    @csrf_exempt
    def view(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
        try:
            return handler(request, fmt, **kwargs)
        except ratelimit.Throttled as exc:
            refusal = Refusal(429, exc.message, exc.retry_after)
        except Refusal as exc:
            refusal = exc
        response = _errors(fmt, refusal.status, refusal.description)
        if refusal.retry_after:
            response["Retry-After"] = str(refusal.retry_after)
        return response

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


def _methods(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise Refusal(405, f"不支持 {request.method} 方法，请使用 {'/'.join(allowed)}")


# --- who is asking ---------------------------------------------------------------------------


def _caller(request: HttpRequest, *, required: bool) -> User | None:
    """The owner of the api_key (form field, query parameter or Bearer header), or None.

    A key that is offered but wrong is refused outright, as in /api/: a script with a
    revoked key must fail loudly, not fall back to the public view.
    """
    raw = request.POST.get("api_key") or request.GET.get("api_key") or ""
    header = request.headers.get("Authorization", "")
    if not raw and header.lower().startswith("bearer "):
        raw = header[7:].strip()
    if not raw:
        if required:
            raise Refusal(403, "缺少 api_key：请提供个人接口令牌（在“个人设置”页面创建）")
        return None
    raw = raw.strip()
    ratelimit.guard_token(request, raw)  # Throttled (429) before any lookup once this address failed too often
    user = user_for_token(raw)
    ratelimit.token_result(request, raw, user is not None)
    if user is None:
        audit(AuditEvent.Kind.API_AUTH_FAILED, request=request, detail="open311 api_key")
        raise Refusal(403, "api_key 无效、已吊销或已过期")
    request.user = user
    request.open311_key = ratelimit.key_caller(raw)
    if not can(user, Action.USE_API):
        audit_denial(user, request, f"action {Action.USE_API}")
        raise Refusal(403, "您的角色无权使用接口")
    return user


def _who(request: HttpRequest) -> str:
    """Whom a read counts against: the api_key it came with, else the signed-in user or address."""
    return getattr(request, "open311_key", None) or ratelimit.caller(request)


def _throttle(request: HttpRequest, user: User | None) -> None:
    """Rate limit a read (lib/ratelimit.py): per api_key (so a leaked key cannot copy everything
    either), signed-in user or client address; also refused while that caller's Open311 misses
    are spent. 429 when refused."""
    verdict = ratelimit.check(request, "open311", "RATE_LIMIT_OPEN311", who=_who(request), misses=True)
    if not verdict.allowed:
        raise Refusal(429, ratelimit.message(verdict), verdict.retry_after)


# --- services ------------------------------------------------------------------------------


def _service(matter: Matter) -> dict:
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": matter.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(dict.fromkeys(k for k in (matter.subcategory, matter.name) if k)),
        "group": matter.category,
    }


@_view
def services_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET services: the active matters of the catalog."""
    _methods(request, "GET")
    rows = [_service(m) for m in Matter.objects.filter(active=True).order_by("code")]
    return _render(fmt, rows, root="services", item="service")


@_view
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    """GET services/{code}: no service has extra attributes, so the definition is empty."""
    _methods(request, "GET")
    if not Matter.objects.filter(code=code, active=True).exists():
        raise Refusal(404, f"服务 {code} 不存在")
    return _render(fmt, {"service_code": code, "attributes": []}, root="service_definition", item="")


# --- service requests ------------------------------------------------------------------------


def public_q() -> Q:
    return (
        Q(matter__isnull=False)
        & ~Q(matter__category__in=PRIVATE_CATEGORIES)
        & ~Q(channel__in=PRIVATE_CHANNELS)
        & ~Q(state=State.REJECTED)
    )


def _readable(user: User | None) -> QuerySet[Case]:
    q = public_q()
    if user is not None:
        q |= Q(pk__in=queries.visible_cases(user).values("pk"))
    return Case.objects.filter(q)


def _places(cases: list[Case]) -> dict[str, str]:
    """Street and community names for the cases' regions, in one query."""
    codes = set()
    for case in cases:
        parts = case.region_path.strip("/").split("/")
        codes.update(parts[DEPTH[Level.STREET] : DEPTH[Level.COMMUNITY] + 1])
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name"))


def _public_address(case: Case, names: dict[str, str]) -> str:
    parts = case.region_path.strip("/").split("/")
    return "".join(names.get(code, "") for code in parts[DEPTH[Level.STREET] : DEPTH[Level.COMMUNITY] + 1])


def _agency(case: Case) -> str:
    if case.lead_department_id:
        return f"{case.lead_department.district.name}{case.lead_department.name}"
    return case.lead_region.name if case.lead_region_id else ""


def _status_notes(case: Case, full: bool) -> str:
    notes = case.get_state_display()
    if case.state == State.MERGED and case.merged_into_id:
        notes += f"：与 {case.merged_into.number} 合并办理"
    elif full and case.result:
        notes += f"：{case.result}"
    return notes


def _request_row(case: Case, full: bool, names: dict[str, str]) -> dict:
    lon, lat = case.lon, case.lat
    if lon is None:  # reported without a map point: the centre of its grid or community
        lon, lat = case.region.center_lon, case.region.center_lat
    if not full and lon is not None:
        lon, lat = round(lon, PUBLIC_DECIMALS), round(lat, PUBLIC_DECIMALS)
    row = {
        "service_request_id": case.number,
        "status": "open" if case.state in OPEN_STATES else "closed",
        "status_notes": _status_notes(case, full),
        "service_name": case.matter_name,
        "service_code": case.matter_code,
    }
    if full:
        row["description"] = case.description
    row.update({
        "agency_responsible": _agency(case),
        "service_notice": "",
        "requested_datetime": _w3(case.created_at),
        "updated_datetime": _w3(case.updated_at),
        "expected_datetime": _w3(case.resolve_due_at),
        "address": case.address if full and case.address else _public_address(case, names),
        "address_id": case.region.code if full else None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": None,
    })
    return row


def _rows(user: User | None, cases: list[Case]) -> list[dict]:
    mine = set()
    if user is not None:
        mine = set(queries.visible_cases(user).filter(pk__in=[c.pk for c in cases]).values_list("pk", flat=True))
    names = _places(cases)
    return [_request_row(c, c.pk in mine, names) for c in cases]


RELATED = ("region", "lead_region", "lead_department__district", "merged_into")


def _when(name: str, raw: str) -> datetime:
    problem = f"{name} 应为 w3 格式的时间，如 2026-01-01T00:00:00+08:00"
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise Refusal(400, problem)
            value = datetime(day.year, day.month, day.day)
    except ValueError:  # well-formed but impossible: 2026-02-30, hour 25, offset +99:00
        raise Refusal(400, problem) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:  # also keeps the 90-day arithmetic below in range
        raise Refusal(400, f"{name} 应在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _search(request: HttpRequest, user: User | None) -> list[Case]:
    """GET requests: service_request_id (overrides the rest), service_code, start_date, end_date, status."""
    qs = _readable(user).select_related(*RELATED)
    ids = _csv(request.GET.get("service_request_id", ""))
    if ids:
        if len(ids) > MAX_IDS:
            raise Refusal(400, f"service_request_id 一次最多 {MAX_IDS} 个")
        found = {c.number: c for c in qs.filter(number__in=ids)}
        return [found[i] for i in dict.fromkeys(ids) if i in found]
    codes = _csv(request.GET.get("service_code", ""))
    if codes:
        qs = qs.filter(matter_code__in=codes)
    start = request.GET.get("start_date", "").strip()
    end = request.GET.get("end_date", "").strip()
    until = _when("end_date", end) if end else timezone.now()
    since = _when("start_date", start) if start else until - timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise Refusal(400, "start_date 不能晚于 end_date")
    if until - since > timedelta(days=DEFAULT_DAYS):
        raise Refusal(400, f"查询时间范围不能超过 {DEFAULT_DAYS} 天")
    qs = qs.filter(created_at__gte=since, created_at__lte=until)
    statuses = set(_csv(request.GET.get("status", "").lower()))
    if statuses - {"open", "closed"}:
        raise Refusal(400, "status 应为 open 或 closed（可用逗号分隔）")
    if statuses == {"open"}:
        qs = qs.filter(state__in=OPEN_STATES)
    elif statuses == {"closed"}:
        qs = qs.exclude(state__in=OPEN_STATES)
    return list(qs.order_by("-created_at", "-id")[:MAX_RESULTS])


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise Refusal(400, f"{name} 应为数字") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Refusal(400, f"{name} 应为有限的数字")
    return value


def _post(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST requests: a new case from a form-encoded Open311 request.

    Residents' reports come in through channel app (as from our own app); a staff
    account's key is a system integration, channel api. A caller may locate the report
    with lat/long or, lacking a point, with address_id = a community or grid code.
    An `Idempotency-Key` header makes a retry answer the first answer (lib.idempotency).
    """
    user = _caller(request, required=True)
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return _create(request, fmt, user)
    if not idempotency.valid_key(key):
        raise Refusal(422, idempotency.BAD_KEY)

    def work() -> HttpResponse:
        try:
            return _create(request, fmt, user)
        except Refusal as exc:  # answered, and nothing kept: the key may be sent again
            return _errors(fmt, exc.status, exc.description)

    try:
        return idempotency.respond_once(request, "open311.requests", key, work, caller=user, ignore=("api_key",))
    except idempotency.Refused as exc:
        raise Refusal(exc.status, exc.message) from None


def _create(request: HttpRequest, fmt: str, user: User) -> HttpResponse:
    form = request.POST
    code = form.get("service_code", "").strip()
    if not code:
        raise Refusal(400, "缺少 service_code")
    lat_raw, lon_raw = form.get("lat", "").strip(), form.get("long", "").strip()
    if bool(lat_raw) != bool(lon_raw):
        raise Refusal(400, "lat 和 long 需同时提供")
    lat = _float("lat", lat_raw) if lat_raw else None
    lon = _float("long", lon_raw) if lon_raw else None
    if lat is None and not form.get("address_id", "").strip():
        raise Refusal(400, "请提供位置：lat 和 long，或 address_id（社区或网格代码）")
    name = (form.get("last_name", "").strip() + form.get("first_name", "").strip())  # 姓在前
    report = services.Report(
        channel=Channel.APP if user.role == Role.RESIDENT else Channel.API,
        description=form.get("description", ""),
        lon=lon,
        lat=lat,
        address=form.get("address_string", "").strip(),
        region_code=form.get("address_id", "").strip(),
        reporter_name=name,
        reporter_phone=form.get("phone", "").strip(),
        matter_code=code,
    )
    try:
        taken = services.intake(user, report)
    except services.CaseError as exc:
        if isinstance(exc, services.NotAllowed):
            audit_denial(user, request, f"open311 refused: {exc.message}")
        where = FIELDS.get(exc.field, exc.field)
        raise Refusal(403 if isinstance(exc, services.NotAllowed) else 400,
                      f"{exc.message}（{where}）" if where else exc.message) from None
    case = taken.case
    notice = "已受理" if case.state != State.SUBMITTED else "已收到，等待受理"
    row = {"service_request_id": case.number, "token": case.tracking_code, "service_notice": notice,
           "account_id": None}
    return _render(fmt, [row], root="service_requests", item="request")


@_view
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET requests (search) and POST requests (create)."""
    _methods(request, "GET", "POST")
    if request.method == "POST":
        return _post(request, fmt)
    user = _caller(request, required=False)
    _throttle(request, user)
    return _render(fmt, _rows(user, _search(request, user)), root="service_requests", item="request")


@_view
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    """GET requests/{id}: one request, as a one-element array (per the spec)."""
    _methods(request, "GET")
    user = _caller(request, required=False)
    _throttle(request, user)
    case = _readable(user).select_related(*RELATED).filter(number=number).first()
    if case is None:
        ratelimit.miss(request, "open311", who=_who(request))
        raise Refusal(404, f"服务请求 {number} 不存在")
    return _render(fmt, _rows(user, [case]), root="service_requests", item="request")


@_view
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET tokens/{token}: the service_request_id behind a tracking code (查询码)."""
    _methods(request, "GET")
    _throttle(request, _caller(request, required=False))
    code = token.strip().upper()
    number = Case.objects.filter(tracking_code=code).values_list("number", flat=True).first()
    if number is None:
        ratelimit.miss(request, "open311", who=_who(request))
        raise Refusal(404, f"查询码 {token} 不存在")
    return _render(fmt, [{"service_request_id": number, "token": code}], root="service_requests", item="request")
