"""Error answers in the API's own formats, whoever produced them.

The endpoints answer their refusals themselves: /api/ as `{"detail": …}` (errors.py),
Open311 as `[{"code": n, "description": …}]` (open311.py). But some answers are made before
or around them — Django's 404 for a path that matches nothing, ninja's 405 for a method an
endpoint does not take, a body-size cap (413) or a rate limit (429) from a middleware, a
CSRF refusal, a crash. A client parsing JSON (or Open311's XML) must get that format for
those too, so this middleware, first in MIDDLEWARE, rewrites any error answer under the
two prefixes that is not already in the prefix's format. Headers (Allow, Retry-After,
security headers) and cookies are kept.
"""

import json

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse

API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/v2/"

GENERIC = {
    400: "请求不正确",
    401: "请先登录，或在请求头 Authorization 中提供 Bearer 接口令牌",
    403: "拒绝访问",
    404: "请求的资源不存在",
    405: "不支持该请求方法",
    413: "请求体过大",
    415: "不支持的请求体格式",
    422: "请求参数不正确",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后再试",
    503: "服务暂不可用，请稍后再试",
}


def _generic(status: int) -> str:
    return GENERIC.get(status) or ("请求失败" if status < 500 else GENERIC[500])


def _detail_of(response: HttpResponse) -> str | None:
    """A Chinese message the original answer already carried as JSON {"detail": …}, if any."""
    if response.streaming or not response.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) and detail and not detail.isascii() else None


def _is_api_json(response: HttpResponse) -> bool:
    if response.streaming or not response.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("detail"), str)


def _replace(response: HttpResponse, new: HttpResponse) -> HttpResponse:
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length"):
            new[header] = value
    new.cookies = response.cookies
    return new


NUL_MESSAGE = "{what} 不能包含空字符（U+0000）"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _nul_field(request: HttpRequest) -> tuple[str, str] | None:
    """(field, what) of the first NUL character the request carries, or None."""
    if "\x00" in request.path:
        return "", "路径"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            return name.replace("\x00", ""), f"参数 {name.replace(chr(0), '')}"
    content_type = request.content_type or ""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if content_type == "application/x-www-form-urlencoded":
            for name, values in request.POST.lists():
                if "\x00" in name or any("\x00" in v for v in values):
                    return name.replace("\x00", ""), f"字段 {name.replace(chr(0), '')}"
        elif content_type.endswith("json"):
            body = request.body
            if b"\x00" in body:
                return "", "请求体"
            if b"\\u0000" in body:
                try:
                    data = json.loads(body)
                except ValueError:
                    return None  # the endpoint answers a malformed body itself
                if _has_nul(data):
                    return "", "请求体"
    return None


class NulGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith((API_PREFIX, OPEN311_PREFIX)):
            try:
                nul = _nul_field(request)
            except SuspiciousOperation:  # too many fields and the like: the view's own answer says so
                nul = None
            if nul is not None:
                return self._refuse(path, *nul)
        return self.get_response(request)

    @staticmethod
    def _refuse(path: str, field: str, what: str) -> HttpResponse:
        message = NUL_MESSAGE.format(what=what)
        if path.startswith(OPEN311_PREFIX):
            from grassroots.api.open311 import error_response

            return error_response("xml" if path.endswith(".xml") else "json", 400, message)
        body = {"detail": message, "errors": [{"field": field, "message": message}]}
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=422,
                            content_type="application/json; charset=utf-8")


class ErrorFormatMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        if status < 400:
            return response
        path = request.path
        if path.startswith(OPEN311_PREFIX):
            if getattr(response, "open311", False):
                return response
            from grassroots.api.open311 import error_response

            fmt = "xml" if path.endswith(".xml") else "json"
            return _replace(response, error_response(fmt, status, _detail_of(response) or _generic(status)))
        if path.startswith(API_PREFIX) and not _is_api_json(response):
            body = {"detail": _detail_of(response) or _generic(status)}
            if status == 422:
                body["errors"] = [{"field": "", "message": body["detail"]}]
            new = HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                               content_type="application/json; charset=utf-8")
            return _replace(response, new)
        return response
