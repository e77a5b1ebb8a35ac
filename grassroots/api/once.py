"""`Idempotency-Key` on the API's create endpoints (lib.idempotency does the work).

    @router.post("/cases", response={201: IntakeOut, **CASE_ERRORS})
    @once("cases.create", IntakeOut)
    def create_case(request, payload: CaseIn, idempotency_key: IdempotencyKeyHeader = None): ...

The header parameter documents the key in the OpenAPI schema. A success is rendered here
through the API's renderer, exactly as ninja would, so the first answer and every replay are
the same bytes; a refusal (4xx) is handed back to ninja unchanged and keeps nothing.
"""

from functools import wraps
from typing import Annotated

from django.http import HttpResponse, JsonResponse
from ninja import Header, Status

from grassroots.lib import idempotency

IdempotencyKeyHeader = Annotated[
    str | None, Header(alias=idempotency.HEADER, description=idempotency.HEADER_HELP, max_length=200)]


def _refused(status: int, message: str) -> HttpResponse:
    """The API's refusal shape: `detail` and `field`, and on a 422 `errors` (api.errors)."""
    body = {"detail": message, "field": idempotency.HEADER}
    if status == 422:
        body["errors"] = [{"field": idempotency.HEADER, "message": message}]
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def once(endpoint: str, schema):
    """Make the decorated create operation exactly-once per `Idempotency-Key` (when one is sent);
    SCHEMA is its success answer's schema (the one for 201/200 in the route's `response`)."""

    def decorate(view):
        @wraps(view)
        def operation(request, *args, **kwargs):
            key = request.headers.get(idempotency.HEADER)
            if key is None:
                return view(request, *args, **kwargs)
            if not idempotency.valid_key(key):
                return _refused(422, idempotency.BAD_KEY)
            holder = {}

            def work() -> HttpResponse:
                result = view(request, *args, **kwargs)
                status, body = (result.status_code, result.value) if isinstance(result, Status) else (200, result)
                if isinstance(result, HttpResponse) or not 200 <= status < 300:
                    holder["result"] = result
                    return HttpResponse(status=status if not isinstance(result, HttpResponse) else result.status_code)
                return _render(request, status, schema, body)

            try:
                response = idempotency.respond_once(request, f"api:{endpoint}", key, work)
            except idempotency.Refused as exc:
                return _refused(exc.status, exc.message)
            return holder.get("result", response)

        return operation

    return decorate


def _render(request, status: int, schema, body) -> HttpResponse:
    """BODY as ninja answers it: through the response schema and the API's renderer."""
    from grassroots.api.api import api

    return api.create_response(request, schema.model_validate(body).model_dump(), status=status)
