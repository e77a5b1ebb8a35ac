"""Authentication, /api/me, tokens and the docs, over real HTTP against the live server.

The session/CSRF test is a browserless login: it fetches the login page for the
csrftoken cookie, posts the form, and then calls the API with the session cookie,
exactly as the site's own JavaScript would.
"""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from grassroots.accounts.models import ApiToken, AuditEvent, User
from grassroots.accounts.roles import PERMISSIONS, Action
from grassroots.accounts.services import create_api_token, revoke_api_token
from grassroots.lib.privacy import mask_phone
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

UNAUTHENTICATED = "请先登录，或在请求头 Authorization 中提供 Bearer 接口令牌"
BAD_TOKEN = "接口令牌无效、已吊销或已过期"


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def auth_failures() -> int:
    return AuditEvent.objects.filter(kind=AuditEvent.Kind.API_AUTH_FAILED).count()


# --- authentication --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/me", "/api/regions", "/api/regions/110101", "/api/grids/lookup?lon=116.4&lat=39.9",
             "/api/departments", "/api/tokens"],
)
def test_every_endpoint_needs_a_caller(http, tree, path):
    response = http.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": UNAUTHENTICATED}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unsafe_methods_need_a_caller_too(http, users):
    assert http.post("/api/tokens", json={"name": "x"}).status_code == 401
    assert http.delete("/api/tokens/1").status_code == 401


def test_a_wrong_token_is_refused_and_audited(http, users):
    before = auth_failures()
    secret = "gr_" + "x" * 43
    response = http.get("/api/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json() == {"detail": BAD_TOKEN}
    assert auth_failures() == before + 1
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.API_AUTH_FAILED).order_by("-id").first()
    assert event.path == "/api/me"
    assert event.ip == "127.0.0.1"
    assert "x" * 9 not in event.detail  # never the secret itself, only its public prefix


def test_revoked_and_expired_tokens_are_refused_and_audited(http, users):
    user = users["community_staff"]
    token, raw = create_api_token(user, "soon revoked")
    assert http.get("/api/me", headers=bearer(raw)).status_code == 200
    revoke_api_token(user, token.id)
    before = auth_failures()
    response = http.get("/api/me", headers=bearer(raw))
    assert response.status_code == 401 and response.json() == {"detail": BAD_TOKEN}
    assert auth_failures() == before + 1

    token, raw = create_api_token(user, "soon expired", days=1)
    assert http.get("/api/me", headers=bearer(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = http.get("/api/me", headers=bearer(raw))
    assert response.status_code == 401 and response.json() == {"detail": BAD_TOKEN}
    assert auth_failures() == before + 2


def test_a_deactivated_users_token_is_refused(http, users):
    _, raw = create_api_token(users["leader"], "pytest")
    User.objects.filter(pk=users["leader"].pk).update(is_active=False)
    assert http.get("/api/me", headers=bearer(raw)).status_code == 401


@pytest.mark.parametrize("header", ["Basic Z3dfYTE6VGVzdC1wYXNzLTIwMjY=", "Token abc", "Bearer", "Bearer not-ours"])
def test_malformed_authorization_is_refused_and_audited(http, users, header):
    before = auth_failures()
    response = http.get("/api/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"] or response.json()["detail"] == BAD_TOKEN
    assert auth_failures() == before + 1


def test_a_bad_token_is_not_rescued_by_a_session(http, users):
    """A script with a revoked token must fail even in a browser that happens to be signed in."""
    login(http, "cs_a")
    assert http.get("/api/me").status_code == 200
    response = http.get("/api/me", headers=bearer("gr_revoked"))
    assert response.status_code == 401


def test_token_use_is_recorded(http, users):
    token, raw = create_api_token(users["dispatcher"], "pytest")
    assert token.last_used_at is None
    assert http.get("/api/me", headers=bearer(raw)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


# --- /api/me ---------------------------------------------------------------------------


def test_me_for_community_staff(http, users):
    User.objects.filter(pk=users["community_staff"].pk).update(phone="13812341234")
    _, raw = create_api_token(users["community_staff"], "pytest")
    body = http.get("/api/me", headers=bearer(raw)).json()
    assert body == {
        "username": "cs_a",
        "full_name": "李社区",
        "phone": "138****1234",
        "role": {"code": "community_staff", "label": "社区（村）工作人员"},
        "scope": {"code": "110101001001", "name": "多福巷社区", "level": "community", "level_label": "社区/村"},
        "sees_everything": False,
        "department": None,
        "actions": [
            {"code": "territory.view", "label": "查看辖区"},
            {"code": "territory.export", "label": "导出辖区"},
            {"code": "api.use", "label": "使用接口"},
            {"code": "case.report", "label": "反映问题"},
            {"code": "case.enter", "label": "登记来电来信"},
            {"code": "case.handle", "label": "办理事件"},
            {"code": "case.view", "label": "查看事件"},
            {"code": "case.export", "label": "导出事件"},
            {"code": "ledger.view", "label": "查看台账"},
            {"code": "ledger.edit", "label": "维护台账"},
            {"code": "ledger.import", "label": "导入台账"},
            {"code": "ledger.export", "label": "导出台账"},
            {"code": "ledger.full", "label": "查看完整个人信息"},
            {"code": "ledger.visit", "label": "走访登记"},
            {"code": "ledger.care", "label": "认定关爱/重点人群"},
            {"code": "dispute.view", "label": "查看矛盾纠纷"},
            {"code": "dispute.register", "label": "登记矛盾纠纷"},
            {"code": "dispute.mediate", "label": "调解矛盾纠纷"},
            {"code": "dispute.screen", "label": "矛盾纠纷排查"},
        ],
    }
    assert "13812341234" not in json.dumps(body)


def test_me_for_a_department_handler(http, users):
    _, raw = create_api_token(users["handler"], "pytest")
    body = http.get("/api/me", headers=bearer(raw)).json()
    assert body["role"] == {"code": "handler", "label": "职能部门承办人"}
    # A department-only account sees its department's district.
    assert body["scope"]["code"] == "110101" and body["scope"]["level"] == "district"
    assert body["department"] == {"code": "chengguan", "name": "城市管理综合执法局", "district_code": "110101"}


def test_me_for_admin_leader_and_resident(http, users):
    for who, scope in [("admin", "110101"), ("leader", "110101"), ("resident", None)]:
        _, raw = create_api_token(users[who], "pytest")
        body = http.get("/api/me", headers=bearer(raw)).json()
        assert body["role"]["code"] == who
        assert (body["scope"] or {}).get("code") == scope
        assert {a["code"] for a in body["actions"]} == set(PERMISSIONS[who]), who
    assert body["actions"] == [
        {"code": Action.USE_API.value, "label": "使用接口"},
        {"code": Action.REPORT_CASE.value, "label": "反映问题"},
        {"code": Action.EVALUATE_CASE.value, "label": "回访评价"},
    ]
    assert body["department"] is None and body["sees_everything"] is False


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812341234", "138****1234"), ("138 1234 1234", "138****1234"), ("+8613812341234", "+86138****1234"),
     ("65123456", "65****56"), ("12345", "*****"), ("", ""), (None, "")],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


# --- tokens through the session, with and without CSRF ---------------------------------


def login(http: httpx.Client, username: str) -> None:
    page = http.get("/accounts/login/")
    assert page.status_code == 200
    response = http.post(
        "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": http.cookies["csrftoken"]},
    )
    assert response.status_code == 302, response.text[:500]
    assert "sessionid" in http.cookies


def test_session_token_lifecycle_requires_csrf(http, users):
    login(http, "cs_a")
    csrf = {"X-CSRFToken": http.cookies["csrftoken"]}  # rotated at login: read it afterwards

    # Reading through the session needs no CSRF token.
    assert http.get("/api/me").json()["username"] == "cs_a"

    refused = http.post("/api/tokens", json={"name": "数据同步"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"] and "X-CSRFToken" in refused.json()["detail"]
    assert not ApiToken.objects.filter(user=users["community_staff"]).exists()

    created = http.post("/api/tokens", json={"name": "数据同步", "days": 30}, headers=csrf)
    assert created.status_code == 201, created.text
    body = created.json()
    raw = body["token"]
    assert raw.startswith("gr_") and body["name"] == "数据同步" and body["active"] is True
    assert body["prefix"] == raw[3:11] and body["expires_at"] is not None
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_CREATED, user=users["community_staff"]).exists()

    # The new token works on its own, without the session.
    with httpx.Client(base_url=str(http.base_url), timeout=30) as script:
        assert script.get("/api/me", headers=bearer(raw)).json()["username"] == "cs_a"

    listing = http.get("/api/tokens")
    assert listing.status_code == 200
    rows = listing.json()
    assert [r["id"] for r in rows] == [body["id"]]
    assert "token" not in rows[0] and "digest" not in rows[0]
    assert raw not in listing.text and raw[11:] not in listing.text

    assert http.delete(f"/api/tokens/{body['id']}").status_code == 403  # no CSRF
    assert http.delete(f"/api/tokens/{body['id']}", headers=csrf).status_code == 204
    assert http.get("/api/me", headers=bearer(raw)).status_code == 401
    row = http.get("/api/tokens").json()[0]
    assert row["active"] is False and row["revoked_at"] is not None
    assert http.delete(f"/api/tokens/{body['id']}", headers=csrf).status_code == 404  # already revoked


def test_token_creation_validates_in_chinese(http, users):
    login(http, "cs_a")
    csrf = {"X-CSRFToken": http.cookies["csrftoken"]}
    too_long = http.post("/api/tokens", json={"name": "长" * 61}, headers=csrf)
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == "字段 name 不能超过 60 个字符"
    blank = http.post("/api/tokens", json={"name": "   "}, headers=csrf)
    assert blank.status_code == 422 and blank.json()["detail"] == "请填写令牌用途"
    days = http.post("/api/tokens", json={"name": "x", "days": 0}, headers=csrf)
    assert days.status_code == 422 and "字段 days 应不小于 1" in days.json()["detail"]
    broken = http.post("/api/tokens", content=b"{not json", headers={**csrf, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["detail"] == "请求体不是有效的 JSON"


def test_a_token_cannot_mint_tokens_but_can_revoke_its_own(http, users):
    token, raw = create_api_token(users["leader"], "pytest")
    assert http.post("/api/tokens", json={"name": "more"}, headers=bearer(raw)).status_code == 401
    assert ApiToken.objects.filter(user=users["leader"]).count() == 1
    # DELETE with a token needs no CSRF (a header is not sent by a browser on its own).
    assert http.delete(f"/api/tokens/{token.id}", headers=bearer(raw)).status_code == 204
    assert http.get("/api/me", headers=bearer(raw)).status_code == 401


def test_nobody_can_revoke_or_list_someone_elses_token(http, users):
    theirs, their_raw = create_api_token(users["leader"], "pytest")
    _, mine = create_api_token(users["leader_x"], "pytest")
    response = http.delete(f"/api/tokens/{theirs.id}", headers=bearer(mine))
    assert response.status_code == 404 and response.json() == {"detail": "令牌不存在或已吊销"}
    assert http.get("/api/me", headers=bearer(their_raw)).status_code == 200
    assert [t["name"] for t in http.get("/api/tokens", headers=bearer(mine)).json()] == ["pytest"]
    assert len(http.get("/api/tokens", headers=bearer(mine)).json()) == 1


def test_role_refusal_is_a_chinese_403(http, users, monkeypatch):
    """A role without api.use is refused everywhere, whatever the credential."""
    _, raw = create_api_token(users["mediator"], "pytest")
    monkeypatch.setitem(PERMISSIONS, "mediator", frozenset({Action.VIEW_TERRITORY}))
    response = http.get("/api/me", headers=bearer(raw))
    assert response.status_code == 403
    assert response.json() == {"detail": "您的角色无权执行此操作"}
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users["mediator"]).exists()


# --- docs ------------------------------------------------------------------------------


def test_openapi_schema_lists_the_paths(http, users):
    _, raw = create_api_token(users["grid_worker"], "pytest")
    response = http.get("/api/openapi.json", headers=bearer(raw))  # not public by default: test_api_contract.py
    assert response.status_code == 200
    schema = json.loads(response.text)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= {
        "/api/me", "/api/regions", "/api/regions/{code}", "/api/regions/{code}/subtree",
        "/api/regions/{code}/geojson", "/api/grids/lookup", "/api/departments", "/api/tokens",
        "/api/tokens/{token_id}",
    }
    tags = {tag for item in schema["paths"].values() for op in item.values() for tag in op.get("tags", [])}
    # Every operation is filed under a tag the schema describes, and each part has its own.
    assert {"辖区", "网格", "部门", "账户", "事件", "矛盾纠纷与信访"} <= tags <= {t["name"] for t in schema["tags"]}
    lookup = schema["paths"]["/api/grids/lookup"]["get"]
    lon = next(p for p in lookup["parameters"] if p["name"] == "lon")
    assert lon["schema"]["minimum"] == -180 and lon["schema"]["maximum"] == 180 and "经度" in lon["description"]
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    assert schema["paths"]["/api/me"]["get"]["security"]


def test_docs_page_loads_with_local_assets(http, users):
    _, raw = create_api_token(users["grid_worker"], "pytest")
    page = http.get("/api/docs", headers=bearer(raw))
    assert page.status_code == 200
    assert "swagger-ui" in page.text and "cdn" not in page.text.lower()
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.svg"):
        asset = http.get(f"/api/docs/assets/{name}")
        assert asset.status_code == 200, name
        assert len(asset.content) > 100
    assert http.get("/api/docs/assets/swagger-ui-bundle.js").headers["content-type"].endswith("javascript")
    assert http.get("/api/docs/assets/redoc.standalone.js.map").status_code == 404
    assert http.get("/api/docs/assets/..%2F__init__.py").status_code == 404


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"detail": "接口不存在"}
