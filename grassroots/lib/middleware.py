"""Refusals before any work is done: request bodies over the cap for their path (413), and
Throttled from lib/ratelimit.py (429), each answered in the caller's format:

  /api/…       the API's JSON error, {"detail": "中文说明"}
  /open311/…   Open311's error list, [{"code": 413, "description": "…"}] (XML for .xml paths)
  pages        a Chinese page saying what happened and what to do

Body caps (settings REQUEST_BODY_MAX_BYTES and REQUEST_BODY_LIMITS, see settings.py): a
request whose Content-Length exceeds the cap of its path is refused before a byte of the body
is read, so a 300 MB upload costs the server nothing. A chunked body (no Content-Length) is
read here up to the cap and refused as soon as it passes it; one within the cap is handed on
as an ordinary body with its length (Django itself would read a chunked body as empty).
"""

import json
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from grassroots.lib.ratelimit import Throttled

MB = 1024 * 1024
_CHUNK = 64 * 1024


@lru_cache(maxsize=8)
def _compiled(limits: tuple) -> list[tuple[re.Pattern, int]]:
    return [(re.compile(pattern), int(limit)) for pattern, limit in limits]


def body_cap(path: str) -> int:
    """The most bytes a request body to PATH may have: the first REQUEST_BODY_LIMITS pattern that
    matches PATH, else REQUEST_BODY_MAX_BYTES."""
    limits = tuple(tuple(item) for item in getattr(settings, "REQUEST_BODY_LIMITS", ()))
    for pattern, limit in _compiled(limits):
        if pattern.search(path):
            return limit
    return int(settings.REQUEST_BODY_MAX_BYTES)


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB else f"{max(1, limit // 1024)} KB"


def too_large_message(limit: int) -> str:
    return f"提交的内容过大：此处最多 {_size(limit)}。请缩小或拆分文件后重试"


def refusal(request, status: int, message: str, *, retry_after: int = 0) -> HttpResponse:
    """STATUS with MESSAGE in the format of the caller of REQUEST (see the module docstring)."""
    path = request.path
    if path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=status, json_dumps_params={"ensure_ascii": False})
    elif path.startswith("/open311/"):
        if path.endswith(".xml"):
            top = ET.Element("errors")
            error = ET.SubElement(top, "error")
            ET.SubElement(error, "code").text = str(status)
            ET.SubElement(error, "description").text = message
            body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode")
            response = HttpResponse(body.encode(), status=status, content_type="text/xml; charset=utf-8")
        else:
            response = HttpResponse(json.dumps([{"code": status, "description": message}], ensure_ascii=False),
                                    status=status, content_type="application/json; charset=utf-8")
        response.open311 = True  # already in Open311's format
    else:
        if not hasattr(request, "user"):  # refused before the session was read (BodyCapMiddleware comes first)
            request.user = AnonymousUser()
        title = "提交内容过大" if status == 413 else "请求过于频繁" if status == 429 else "无法处理请求"
        response = render(request, "refused.html", {"title": title, "message": message, "status": status},
                          status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    # It may be answered before the clickjacking and common middlewares: their headers here.
    response.setdefault("X-Frame-Options", "DENY")
    response["Content-Length"] = str(len(response.content))
    return response


class BodyCapMiddleware:
    """413 for a body over the cap of its path, before it is read (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_cap(request.path)
        meta = request.META
        try:
            announced = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            announced = 0
        if announced > limit:
            return self._refuse(request, limit)
        chunked = not meta.get("CONTENT_LENGTH") and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not self._buffer_chunked(request, limit):
            return self._refuse(request, limit)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, limit: int) -> HttpResponse:
        response = refusal(request, 413, too_large_message(limit))
        response["Connection"] = "close"  # the rest of the body is not read: the connection cannot be reused
        return response

    @staticmethod
    def _buffer_chunked(request, limit: int) -> bool:
        """Read a chunked body up to LIMIT into a spooled file; False as soon as it passes LIMIT."""
        source = request.META.get("wsgi.input")
        if source is None:
            return True
        buffer = SpooledTemporaryFile(max_size=MB)  # noqa: SIM115 — it becomes the request's body
        total = 0
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                buffer.close()
                return False
            buffer.write(chunk)
        buffer.seek(0)
        request.META["CONTENT_LENGTH"] = str(total)
        request._stream = LimitedStream(buffer, total)
        request._body_buffer = buffer  # closed with the request
        return True


class ThrottledMiddleware:
    """429 with Retry-After for lib.ratelimit.Throttled raised by a page view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Throttled):
            return refusal(request, 429, exception.message, retry_after=exception.retry_after)
        return None
