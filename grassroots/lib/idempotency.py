"""Exactly-once creates: one mechanism for every form and API endpoint that creates something.

A create request carries a key — a form's one-time token (hidden field `once_token`, made when
the form is rendered) or an API caller's `Idempotency-Key` header. The first request with a
key (per caller and endpoint) does the work; its answer is kept (lib.models.IdempotencyKey,
sealed with lib.privacy: it may hold personal data). Any later request with that key gets the
first answer again instead of creating a second record:

* a form posted twice (a double click, a browser retry) is sent to what the first one made;
* an API retry gets the same status and the same body, byte for byte
  (`Idempotent-Replayed: true` says it is a replay);
* the same key with a different body is refused (422, in Chinese) — a key names one request;
* a first attempt that failed (bad input, a refusal: any answer that is not a success) keeps
  nothing, so the same key — the same form — may be sent again once corrected.

Concurrent requests with one key: the key row is inserted in the same transaction as the work,
under a unique constraint on (caller, endpoint, key). A second request's INSERT waits for the
first transaction (PostgreSQL: the unique index; SQLite: IMMEDIATE transactions serialise
writers), then finds the finished row and answers its result. Exactly one does the work. A row
seen unfinished (only possible if a future caller commits before finishing) answers 409 正在处理.

Keys are kept IDEMPOTENCY_KEEP_HOURS (default 24); the worker purges older ones.
"""

import contextlib
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone

from grassroots.lib import privacy

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "once_token"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, 1–200 characters
HEADER_HELP = ("幂等键（可选）：同一调用者以相同的键和相同的请求体重试时，返回第一次的结果（状态码和响应体相同，"
               "响应头 Idempotent-Replayed: true），不会重复创建；相同的键配不同的请求体返回 422。"
               "建议每个新请求使用一个新的 UUID；键保留 24 小时。")

MISMATCH = "该幂等键（Idempotency-Key）已用于另一个内容不同的请求；新的请求请使用新的键"
FORM_MISMATCH = "这张表单已经提交过，且这次的内容与第一次不同。第一次提交的结果见下方链接；如需再登记一件，请重新打开表单填写。"
IN_FLIGHT = "正在处理：相同的请求尚未完成，请稍后再试"
UNREADABLE = "该请求已经处理过，但第一次的答复已无法读取；请查询已创建的记录，不要重复提交"
BAD_KEY = "请求头 Idempotency-Key 应为 1–200 个可见 ASCII 字符"


@dataclass
class Answer:
    """The first answer to a key: an HTTP answer (status, content type, body) or a redirect."""

    status: int
    content_type: str = ""
    body: str = ""
    location: str = ""
    ref: str = ""
    replayed: bool = False


class Refused(Exception):
    """The key cannot be used for this request: 422 (another body) or 409 (still in flight)."""

    def __init__(self, status: int, message: str, location: str = ""):
        super().__init__(message)
        self.status, self.message, self.location = status, message, location


class _Undo(Exception):
    """The work failed: roll the key back (it may be used again) and hand back its result."""

    def __init__(self, result):
        super().__init__("undo")
        self.result = result


def caller_of(user) -> str:
    return f"user:{user.pk}" if getattr(user, "is_authenticated", False) else "anonymous"


def valid_key(key: str) -> bool:
    return bool(key) and bool(KEY_PATTERN.match(key))


def new_token() -> str:
    return secrets.token_urlsafe(18)


def fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _answer_of(row) -> Answer:
    from grassroots.lib.models import IdempotencyKey

    if row.status != IdempotencyKey.Status.DONE:
        raise Refused(409, IN_FLIGHT)
    try:
        data = json.loads(privacy.unseal(row.answer))
    except (privacy.DecryptionFailed, ValueError):
        log.warning("idempotency answer of %s not readable", row.pk)
        raise Refused(409, UNREADABLE) from None
    return Answer(**{**data, "replayed": True})


def perform(caller: str, endpoint: str, key: str, fp: str,
            work: Callable[[], tuple[Answer | None, Any]]) -> tuple[Answer | None, Any]:
    """Do WORK once for (CALLER, ENDPOINT, KEY). WORK returns (answer, result): an Answer to keep
    (a success), or None and its result (a failure: nothing is kept, the key may be used again).
    Returns WORK's (answer, result), or (the first answer marked replayed, None) for a repeat;
    raises Refused for a key used with another body (FP differs) or still in flight."""
    from grassroots.lib.models import IdempotencyKey

    ident = {"caller": caller[:80], "endpoint": endpoint[:60], "key": key}
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(**ident, fingerprint=fp)
            except IntegrityError:
                row = None
            if row is None:
                first = IdempotencyKey.objects.filter(**ident).first()
                if first is None:  # purged in between: very old; treat as in flight, the client retries
                    raise Refused(409, IN_FLIGHT)
                if first.fingerprint != fp:
                    location = ""
                    with contextlib.suppress(Refused):
                        location = _answer_of(first).location
                    raise Refused(422, MISMATCH, location)
                return _answer_of(first), None
            answer, result = work()
            if answer is None:
                raise _Undo(result)
            row.status = IdempotencyKey.Status.DONE
            row.answer = privacy.seal(json.dumps(asdict(answer), ensure_ascii=False))
            row.ref = answer.ref[:120]
            row.save(update_fields=["status", "answer", "ref"])
            return answer, result
    except _Undo as undo:
        return None, undo.result


# --- HTTP answers (the API, Open311) ------------------------------------------------------------


def body_fingerprint(request: HttpRequest, *, ignore: tuple[str, ...] = ()) -> str:
    """What a request sent: the method, the path and the body — JSON compared as data (key order
    and spacing do not matter), a form as its sorted fields (IGNORE left out: credentials)."""
    content_type = request.content_type or ""
    if content_type == "application/json":
        try:
            body = json.dumps(json.loads(request.body or b"null"), sort_keys=True, ensure_ascii=False)
        except ValueError:
            body = request.body
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = _form_body(request, ignore)
    else:
        body = request.body
    return fingerprint(request.method, request.path, body)


def _form_body(request: HttpRequest, ignore: tuple[str, ...] = ()) -> str:
    skip = {"csrfmiddlewaretoken", FORM_FIELD, *ignore}
    fields = sorted((k, v) for k in request.POST if k not in skip for v in request.POST.getlist(k))
    files = sorted((k, f.name, f.size) for k in request.FILES for f in request.FILES.getlist(k))
    return json.dumps([fields, files], ensure_ascii=False)


def replay(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body.encode(), status=answer.status, content_type=answer.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def respond_once(request: HttpRequest, endpoint: str, key: str, work: Callable[[], HttpResponse], *,
                 caller=None, ref: Callable[[HttpResponse], str] | None = None,
                 ignore: tuple[str, ...] = ()) -> HttpResponse:
    """WORK's response, once per KEY and CALLER (a user; request.user by default): a 2xx answer is
    kept and answered again to a retry with the same body; any other answer keeps nothing. Raises
    Refused (422 another body, 409 in flight): the caller answers it in its own error format."""
    fp = body_fingerprint(request, ignore=ignore)

    def run():
        response = work()
        if 200 <= response.status_code < 300 and not getattr(response, "streaming", False):
            return Answer(status=response.status_code, content_type=response["Content-Type"],
                          body=response.content.decode(), ref=ref(response) if ref else ""), response
        return None, response

    who = caller_of(caller if caller is not None else request.user)
    answer, response = perform(who, endpoint, key, fp, run)
    return replay(answer) if answer and answer.replayed else response


# --- web forms ----------------------------------------------------------------------------------


def form_token(request: HttpRequest) -> str:
    """The one-time token a create form carries (hidden field FORM_FIELD): the one posted when
    the form comes back after a failed attempt (it may be used again), else a new one."""
    posted = request.POST.get(FORM_FIELD, "") if request.method == "POST" else ""
    return posted if valid_key(posted) else new_token()


def form_once(request: HttpRequest, endpoint: str, work: Callable[[], HttpResponse]) -> HttpResponse:
    """Run a create form's WORK once per one-time token. WORK answers a redirect on success (kept:
    a double submit or a retry of the token is sent to the same place) or the form again with its
    errors (nothing kept: the token may be sent again). A POST without a token just runs WORK."""
    token = request.POST.get(FORM_FIELD, "")
    if not valid_key(token):
        return work()
    fp = fingerprint("form", request.path, _form_body(request))

    def run():
        response = work()
        if 300 <= response.status_code < 400 and response.has_header("Location"):
            return Answer(status=response.status_code, location=response["Location"]), response
        return None, response

    try:
        answer, response = perform(caller_of(request.user), f"form:{endpoint}", token, fp, run)
    except Refused as exc:
        from django.shortcuts import render

        message = FORM_MISMATCH if exc.status == 422 else exc.message
        return render(request, "once_refused.html", {"title": "表单已提交", "message": message,
                                                     "first": exc.location}, status=exc.status)
    if answer is not None and answer.replayed:
        return HttpResponseRedirect(answer.location)
    return response


def once_per_form(endpoint: str):
    """Decorate a create view: its POSTs run through form_once (the template renders
    `{% load once %}{% once_field %}` inside the form)."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            return form_once(request, endpoint, lambda: view(request, *args, **kwargs))

        return wrapped

    return decorate


# --- housekeeping -------------------------------------------------------------------------------


def purge(now=None) -> int:
    """Delete keys older than IDEMPOTENCY_KEEP_HOURS; how many went."""
    from grassroots.lib.models import IdempotencyKey

    hours = getattr(settings, "IDEMPOTENCY_KEEP_HOURS", 24)
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
