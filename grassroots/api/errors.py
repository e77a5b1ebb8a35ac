"""Every refusal the API gives, as JSON with a Chinese `detail` a user can act on.

401 no or bad credentials · 403 the role does not allow it (or CSRF failed) · 404 not
found *or outside the caller's scope* (the two are indistinguishable on purpose) ·
422 a parameter is wrong, naming the parameter · 413 the request body is over the cap
(lib/middleware.py, before the body is read) · 429 over a rate limit, e.g. too many bad
tokens from one address (lib/ratelimit.py), with Retry-After in seconds.

One shape for all of them (schemas.ErrorOut): `{"detail": "…"}`, plus `"field"` when one
field is at fault, and on every 422 — pydantic's, ninja's and our own (raise Invalid) —
an `errors` array of `{"field", "message"}`, one per wrong parameter.
"""

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from grassroots.accounts.permissions import Denied
from grassroots.lib.ratelimit import Throttled

UNAUTHENTICATED_MESSAGE = "请先登录，或在请求头 Authorization 中提供 Bearer 接口令牌"
NOT_FOUND_MESSAGE = "请求的资源不存在"

# Where a parameter came from, as a user would call it.
_SOURCE_WORDS = {"query": "参数", "path": "路径参数", "body": "字段", "form": "字段", "header": "请求头", "cookie": "Cookie"}


def _num(value) -> str:
    """90.0 → "90": limits read as people write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# pydantic's error kinds → a Chinese sentence ({what} is "参数 lon", "请求体 name"…).
_MESSAGES = {
    "missing": "缺少{what}",
    "float_parsing": "{what} 应为数字",
    "float_type": "{what} 应为数字",
    "decimal_parsing": "{what} 应为数字",
    "int_parsing": "{what} 应为整数",
    "int_type": "{what} 应为整数",
    "int_from_float": "{what} 应为整数",
    "finite_number": "{what} 应为有限的数字",
    "bool_parsing": "{what} 应为 true 或 false",
    "greater_than_equal": "{what} 应不小于 {ge}",
    "greater_than": "{what} 应大于 {gt}",
    "less_than_equal": "{what} 应不大于 {le}",
    "less_than": "{what} 应小于 {lt}",
    "string_too_short": "{what} 至少应有 {min_length} 个字符",
    "string_too_long": "{what} 不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "{what} 格式不正确",
    "string_type": "{what} 应为字符串",
    "json_invalid": "请求体不是有效的 JSON",
    "model_attributes_type": "{what} 应为 JSON 对象",
    "dict_type": "{what} 应为 JSON 对象",
    "model_type": "{what} 应为 JSON 对象",
}


def field_message(error: dict) -> tuple[str, str]:
    """(field name, Chinese message) for one pydantic error as ninja reports it."""
    loc = [str(part) for part in error.get("loc", ())]
    source = loc[0] if loc else ""
    parts = loc[1:]
    if source == "body" and len(parts) > 1:
        parts = parts[1:]  # ("body", "payload", "name"): "payload" is our argument name, not the client's
    field = ".".join(parts)
    what = f"{_SOURCE_WORDS.get(source, '参数')} {field}" if field else "请求体"
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")

    if kind in {"enum", "literal_error"}:
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "").replace(", ", "、")
        return field, f"{what} 应为以下之一：{expected}"
    if kind == "value_error" and ctx.get("error"):
        return field, f"{what}：{ctx['error']}"
    template = _MESSAGES.get(kind)
    if template is not None:
        limits = {key: _num(ctx.get(key)) for key in ("ge", "gt", "le", "lt")}
        return field, template.format(what=what, **limits, **{k: ctx.get(k) for k in ("min_length", "max_length")})
    return field, f"{what} 的值不正确"


class Invalid(Exception):
    """A parameter that is well-formed but wrong (end before start, an unknown list name…): 422."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


OUT_OF_RANGE_MESSAGE = "参数超出允许的范围"


def unprocessable(detail: str, errors: list[dict]) -> dict:
    """The body of every 422."""
    return {"detail": detail, "errors": errors}


def install(api: NinjaAPI) -> None:
    """Replace ninja's English default handlers with ours."""

    def respond(request: HttpRequest, status: int, body: dict) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        # ninja raises AuthenticationError() with its English default when no method matched.
        message = exc.message if exc.message != "Unauthorized" else UNAUTHENTICATED_MESSAGE
        response = respond(request, 401, {"detail": message})
        response["WWW-Authenticate"] = 'Bearer realm="grassroots"'
        return response

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        response = respond(request, 429, {"detail": exc.message})
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(Denied)
    def denied(request: HttpRequest, exc: Denied) -> HttpResponse:
        return respond(request, 403, {"detail": exc.message})  # already audited by require()

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        # Our code raises Http404 with a Chinese message only; anything else gets the generic one.
        message = str(exc) if exc.args and not str(exc).isascii() else NOT_FOUND_MESSAGE
        return respond(request, 404, {"detail": message})

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for error in exc.errors:
            field, message = field_message(error)
            errors.append({"field": field, "message": message})
        detail = "；".join(dict.fromkeys(e["message"] for e in errors)) or "请求参数不正确"
        return respond(request, 422, unprocessable(detail, errors))

    @api.exception_handler(Invalid)
    def invalid_value(request: HttpRequest, exc: Invalid) -> HttpResponse:
        return respond(request, 422, unprocessable(exc.message, [{"field": exc.field, "message": exc.message}]))

    @api.exception_handler(OverflowError)
    def overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
        # A last line of defence: params.py bounds every number and date, so this means a
        # parameter slipped through unbounded. Still the client's value, so still a 4xx.
        return respond(request, 422, unprocessable(OUT_OF_RANGE_MESSAGE, [{"field": "", "message": OUT_OF_RANGE_MESSAGE}]))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        message = str(exc)
        if message.startswith("Cannot parse request body"):  # ninja's own wording for a bad JSON body
            message = "请求体不是有效的 JSON"
        if exc.status_code == 422:
            return respond(request, 422, unprocessable(message, [{"field": "", "message": message}]))
        return respond(request, exc.status_code, {"detail": message})
