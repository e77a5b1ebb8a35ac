"""The API keeps its contract (issue 12, "APIs that answer 4xx, never 5xx, and match their schema").

Each test is one finding of the review, replayed: a huge offset on every list endpoint, the
case timeline against its own schema, 422s without an `errors` array, Open311 refusals in
another format, and the docs open to anyone. Calls go through Django's test client with a
real API token, as a script would make them.
"""

from json import dumps

import jsonschema_rs
import pytest
from django.test import Client

from grassroots.accounts.services import create_api_token
from grassroots.api.params import MAX_LIMIT, MAX_OFFSET
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog

HUGE = "9223372036854775808"  # 2**63: one past the largest SQLite / PostgreSQL integer

# Every list endpoint that pages, as the review listed them (with one name for worklists/{name}).
LISTS = [
    "/api/regions",
    "/api/departments",
    "/api/cases",
    "/api/worklists/all",
    "/api/disputes",
    "/api/screening-rounds",
    "/api/petitions",
    "/api/ledger/persons",
    "/api/ledger/overdue",
    "/api/ledger/access-log",
    "/api/ledger/organisations",
    "/api/accounts/users",
]


@pytest.fixture
def openapi():
    from grassroots.api.api import api

    return api.get_openapi_schema()


@pytest.fixture
def call(users):
    """call(who, method, path, **kwargs) with WHO's own API token (admin by default)."""
    client = Client()
    tokens = {}

    def _call(method: str, path: str, who: str = "admin", params=None, json=None, body="", content_type=None):
        if who not in tokens:
            tokens[who] = create_api_token(users[who], "contract")[1]
        if json is not None:
            body, content_type = dumps(json), "application/json"
        return client.generic(method, path, body, content_type=content_type or "application/octet-stream",
                              query_params=params, headers={"Authorization": f"Bearer {tokens[who]}"})

    return _call


def matches(openapi: dict, path: str, method: str, status: int, body) -> None:
    """BODY is what the schema declares for METHOD PATH answering STATUS (raises otherwise)."""
    operation = openapi["paths"][path][method.lower()]
    responses = {str(code): response for code, response in operation["responses"].items()}
    declared = responses[str(status)]["content"]["application/json"]["schema"]
    jsonschema_rs.validate({**declared, "components": openapi["components"]}, body)


def assert_422(response, field: str):
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["detail"] and not body["detail"].isascii()
    assert isinstance(body["errors"], list) and body["errors"]
    assert field in [e["field"] for e in body["errors"]], body
    for error in body["errors"]:
        assert set(error) == {"field", "message"} and not error["message"].isascii()
    return body


# --- paging --------------------------------------------------------------------------------


def test_every_paged_list_is_in_the_review(openapi):
    """If an endpoint starts paging, it joins LISTS (and the huge-offset test below)."""
    paged = {
        path.replace("{name}", "all")
        for path, ops in openapi["paths"].items()
        if "get" in ops and any(p["name"] == "offset" for p in ops["get"].get("parameters", []))
    }
    assert paged == set(LISTS)


@pytest.mark.parametrize("path", LISTS)
def test_a_huge_offset_is_a_422_naming_offset(call, openapi, path):
    response = call("GET", path, params={"offset": HUGE})
    body = assert_422(response, "offset")
    assert f"参数 offset 应不大于 {MAX_OFFSET}" in body["detail"]
    template = path.replace("/all", "/{name}") if path.startswith("/api/worklists") else path
    matches(openapi, template, "GET", 422, body)


@pytest.mark.parametrize("path", LISTS)
def test_limit_and_offset_are_bounded_on_both_sides(call, path):
    assert_422(call("GET", path, params={"offset": -1}), "offset")
    assert_422(call("GET", path, params={"limit": 0}), "limit")
    assert "应不大于 1000" in assert_422(call("GET", path, params={"limit": MAX_LIMIT + 1}), "limit")["detail"]


def test_the_deepest_allowed_offset_answers_an_empty_page(call):
    response = call("GET", "/api/cases", params={"offset": MAX_OFFSET, "limit": MAX_LIMIT})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/ledger/persons/{HUGE}", "pk"),
        ("GET", f"/api/ledger/houses/{HUGE}", "pk"),
        ("DELETE", f"/api/tokens/{HUGE}", "token_id"),
    ],
)
def test_a_huge_id_in_the_path_is_a_422(call, method, path, field):
    assert_422(call(method, path), field)


def test_dates_beyond_what_a_database_holds_are_422(call):
    assert_422(call("GET", "/api/rates", who="leader", params={"start": "9999-12-30", "end": "9999-12-31"}), "start")
    assert_422(call("GET", "/api/cases", params={"since": "0001-01-01T00:00:00+08:00"}), "since")


def test_a_nul_character_is_a_422_not_a_crash(call):
    assert_422(call("GET", "/api/ledger/search", who="community_staff", params={"q": "张\x00三"}), "q")
    response = call("POST", "/api/cases", who="resident", json={"description": "路灯\u0000不亮", "region_code": "x"})
    assert_422(response, "")


# --- the timeline and schema names ---------------------------------------------------------


def test_case_events_match_the_schema(call, openapi, users, tree):
    load_default_catalog()
    taken = services.intake(users["dispatcher"], services.Report(
        channel="hotline", description="多福巷路灯不亮了，晚上很黑", lon=116.402, lat=39.905))
    response = call("GET", f"/api/cases/{taken.case.number}/events", who="dispatcher")
    assert response.status_code == 200
    events = response.json()
    assert events and events[0]["actor_name"] == "王调度"
    assert events[0]["action"]["code"] == "report" and events[0]["action"]["label"] == "反映"
    matches(openapi, "/api/cases/{number}/events", "GET", 200, events)


def test_no_two_api_schemas_share_a_name():
    """The OpenAPI components are keyed by class name: two schemas with one name (the
    disputes' and the cases' EventOut) made the documented timeline the disputes' one."""
    from ninja import Schema

    import grassroots.api.api  # noqa: F401 — every router and schema loaded

    names: dict[str, set[str]] = {}

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("grassroots."):
                names.setdefault(sub.__name__, set()).add(f"{sub.__module__}.{sub.__qualname__}")
            walk(sub)

    walk(Schema)
    assert {name: where for name, where in names.items() if len(where) > 1} == {}


# --- one error shape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path", "params", "field"),
    [
        ("dispatcher", "/api/cases/suggest", {"text": "   "}, "text"),
        ("leader", "/api/rates", {"start": "2026-03-02", "end": "2026-03-01"}, "end"),
        ("leader", "/api/rates", {"start": "2024-01-01", "end": "2026-03-01"}, "end"),
        ("mediator", "/api/disputes", {"worklist": "nonsense"}, "worklist"),
        ("mediator", "/api/dispute-stats", {"month": "2026-13"}, "month"),
        ("admin", "/api/grids/lookup", {"lon": "east", "lat": "39.9"}, "lon"),
    ],
)
def test_every_422_has_an_errors_array(call, openapi, who, path, params, field):
    body = assert_422(call("GET", path, who=who, params=params), field)
    matches(openapi, path, "GET", 422, body)


def test_a_422_on_a_body_names_the_field(call, openapi):
    body = assert_422(call("POST", "/api/cases", who="resident", json={"description": 5}), "description")
    matches(openapi, "/api/cases", "POST", 422, body)
    response = call("POST", "/api/cases", who="resident", body="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "请求体不是有效的 JSON"}
    matches(openapi, "/api/cases", "POST", 400, response.json())


def test_every_declared_error_answer_has_detail(openapi):
    """401, 403, 404, 409, 422… all carry a Chinese `detail`; 422 also `errors`."""
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                schema = openapi["components"]["schemas"][ref]
                assert "detail" in schema["required"], (method, path, status)
                if str(status) == "422":
                    assert "errors" in schema["required"], (method, path)


def test_unknown_paths_and_methods_under_api_answer_json(call):
    response = call("GET", "/api/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert not response.json()["detail"].isascii()
    response = call("DELETE", "/api/me")
    assert response.status_code == 405
    assert response.json()["detail"] == "不支持该请求方法"


# --- Open311 -------------------------------------------------------------------------------


def _open311_error(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status and not body[0]["description"].isascii()
    return body[0]["description"]


def test_open311_errors_are_open311_everywhere_under_its_prefix(db, users):
    client = Client()
    _open311_error(client.get("/open311/v2/nothing-here.json"), 404)
    _open311_error(client.get("/open311/v2/nothing-here"), 404)
    _open311_error(client.put("/open311/v2/services.json"), 405)
    _open311_error(client.post("/open311/v2/requests.json", {"service_code": "x"}), 403)
    _open311_error(client.get("/open311/v2/requests.json", {"api_key": "gr_wrong"}), 403)
    _open311_error(client.get("/open311/v2/requests.json", {"end_date": "0001-01-02"}), 400)
    _open311_error(client.get("/open311/v2/requests.json", {"start_date": "2026-02-30"}), 400)
    _open311_error(client.get("/open311/v2/requests.json", {"status": "op\x00en"}), 400)
    xml = client.get("/open311/v2/nothing-here.xml")
    assert xml.status_code == 404 and xml["Content-Type"].startswith("text/xml")
    assert b"<errors><error><code>404</code><description>" in xml.content


def test_open311_rate_limit_answers_in_open311_format(db, settings):
    settings.RATE_LIMIT_OPEN311 = "1/m"  # counted in the test's database (lib/ratelimit.py), rolled back after
    client = Client()
    assert client.get("/open311/v2/requests.json").status_code == 200
    response = client.get("/open311/v2/requests.json")
    _open311_error(response, 429)
    assert int(response["Retry-After"]) > 0


# --- docs ----------------------------------------------------------------------------------


def test_docs_and_schema_need_a_caller(db, users, settings):
    settings.API_DOCS_PUBLIC = False
    anonymous = Client()
    response = anonymous.get("/api/openapi.json")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("请先登录")
    response = anonymous.get("/api/docs")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert anonymous.get("/api/openapi.json", HTTP_AUTHORIZATION="Bearer gr_nonsense").status_code == 401

    _, raw = create_api_token(users["grid_worker"], "docs")
    response = anonymous.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and "/api/cases" in response.json()["paths"]

    signed_in = Client()
    signed_in.force_login(users["grid_worker"])
    assert signed_in.get("/api/openapi.json").status_code == 200
    assert signed_in.get("/api/docs").status_code == 200


def test_api_docs_public_publishes_them(db, settings):
    settings.API_DOCS_PUBLIC = True
    anonymous = Client()
    assert anonymous.get("/api/openapi.json").status_code == 200
    assert anonymous.get("/api/docs").status_code == 200
