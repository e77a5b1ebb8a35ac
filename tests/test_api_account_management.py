"""/api/accounts/users: the account pages' rules over the API — scoped identically, refusals in
Chinese as {"detail", "errors"}, 4xx never 5xx."""

import pytest
from django.test import Client

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BODY = {"username": "gw_api", "full_name": "接口网格员", "phone": "13912340002", "role": "网格员",
        "region": "110101001001002"}


@pytest.fixture
def api(admins):
    """A client per administrator, authenticated with a Bearer token."""

    def make(user):
        _, raw = create_api_token(user, "账户同步")
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return {"street": make(admins["street"]), "street_x": make(admins["street_x"]), "all": make(admins["all"])}


def test_list_is_paged_and_scoped(users, api):
    response = api["street"].get("/api/accounts/users?limit=3")
    assert response.status_code == 200
    body = response.json()
    names = {r["username"] for r in api["street"].get("/api/accounts/users?limit=1000").json()["items"]}
    assert body["count"] == len(names) and len(body["items"]) == 3
    assert {"gw_a1", "cs_a", "gw_b1", "admin_st"} <= names
    assert not names & {"ld_dc", "admin_dc", "hd_cg", "gw_c1", "admin_x", "admin_all", "res"}
    row = next(r for r in api["street"].get("/api/accounts/users?q=gw_a1").json()["items"])
    assert row["region"] == "110101001001001" and row["role"] == {"code": "grid_worker", "label": "网格员"}
    assert row["active"] and not row["locked"]
    leaders = api["all"].get("/api/accounts/users?role=leader").json()
    assert {r["username"] for r in leaders["items"]} == {"ld_dc", "ld_xc"}


def test_create_returns_the_temporary_password_once(users, api):
    response = api["street"].post("/api/accounts/users", BODY, content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    user = User.objects.get(username="gw_api")
    assert user.check_password(body["password"]) and user.must_change_password
    assert body["phone"] == "139****0002" and body["region"] == "110101001001002"
    assert api["street"].get(f"/api/accounts/users/{user.pk}").json()["username"] == "gw_api"
    assert "password" not in api["street"].get(f"/api/accounts/users/{user.pk}").json()


@pytest.mark.parametrize("change, field, message", [
    ({"region": "110102001001"}, "region", "辖区代码“110102001001”不存在或不在您的管理范围内"),
    ({"region": "110101"}, "region", "辖区代码“110101”不存在或不在您的管理范围内"),
    ({"region": "", "role": "admin"}, "region", "不能授予全局系统管理员：请为管理员指定您辖区内的辖区范围"),
    ({"region": "110101", "role": "admin"}, "region", "辖区代码“110101”不存在或不在您的管理范围内"),  # above theirs
    ({"region": "", "role": "handler", "department": "110101/chengguan"}, "department",
     "部门“110101/chengguan”不存在或不在您的管理范围内"),
    ({"role": "resident", "region": ""}, "role", "居民账户不属于任何辖区，只能由全局系统管理员管理"),
    ({"role": "队长"}, "role", "未知角色“队长”"),
    ({"username": "cs_a"}, "username", "用户名“cs_a”已被使用"),
    ({"phone": "1234"}, "phone", "手机号应为 11 位手机号码，如 13812345678"),
    ({"password": "1"}, "password", "密码太短，至少需要 8 个字符。"),
    ({"password": "87654321"}, "password", "密码不能全部是数字。"),
    ({"password": "qwertyuiop"}, "password", "这个密码太常见了，容易被猜到。"),
])
def test_create_refusals(users, api, change, field, message):
    before = User.objects.count()
    response = api["street"].post("/api/accounts/users", {**BODY, **change}, content_type="application/json")
    assert response.status_code == 422
    body = response.json()
    assert message in body["detail"] and body["errors"][0]["field"] == field
    assert User.objects.count() == before


def test_a_body_that_is_not_json_or_misses_fields_is_a_4xx(users, api):
    bad = api["street"].post("/api/accounts/users", "{", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["detail"] == "请求体不是有效的 JSON"
    missing = api["street"].post("/api/accounts/users", {"full_name": "x"}, content_type="application/json")
    assert missing.status_code == 422 and "缺少字段 username" in missing.json()["detail"]


def test_patch_keeps_what_is_not_given(users, api):
    cs = users["community_staff"]
    response = api["street"].patch(f"/api/accounts/users/{cs.pk}", {"full_name": "李社区长"},
                                   content_type="application/json")
    assert response.status_code == 200 and response.json()["full_name"] == "李社区长"
    cs.refresh_from_db()
    assert cs.role == Role.COMMUNITY_STAFF and cs.region.code == "110101001001"
    out = api["street"].patch(f"/api/accounts/users/{cs.pk}", {"region": "110102001001"},
                              content_type="application/json")
    assert out.status_code == 422 and out.json()["errors"][0]["field"] == "region"
    assert api["street"].patch(f"/api/accounts/users/{cs.pk}", {"role": "admin"},
                               content_type="application/json").status_code == 200  # an admin of 多福巷社区


def test_disable_enable_unlock_reset(users, api, settings):
    gw = users["grid_worker"]
    _, raw = create_api_token(gw, "手机端")
    mine = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api["street"].post(f"/api/accounts/users/{gw.pk}/disable").json()["active"] is False
    assert mine.get("/api/me").status_code == 401
    again = api["street"].post(f"/api/accounts/users/{gw.pk}/disable")
    assert again.status_code == 422 and again.json()["detail"] == "该账户已是停用状态"
    assert api["street"].post(f"/api/accounts/users/{gw.pk}/enable").json()["active"] is True
    assert mine.get("/api/me").status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "gw_a1", "password": "wrong-password"})
    assert api["street"].get(f"/api/accounts/users/{gw.pk}").json()["locked"] is True
    assert api["street"].post(f"/api/accounts/users/{gw.pk}/unlock").json()["locked"] is False
    reset = api["street"].post(f"/api/accounts/users/{gw.pk}/reset-password").json()
    assert reset["account"]["must_change_password"] is True
    gw.refresh_from_db()
    assert gw.check_password(reset["password"]) and not gw.check_password(PASSWORD)
    kinds = set(AuditEvent.objects.filter(username="admin_st", detail__startswith="gw_a1：").values_list("kind", flat=True))
    assert {AuditEvent.Kind.ACCOUNT_DISABLED, AuditEvent.Kind.ACCOUNT_ENABLED, AuditEvent.Kind.ACCOUNT_UNLOCKED,
            AuditEvent.Kind.PASSWORD_RESET} <= kinds


@pytest.mark.parametrize("method, suffix", [("get", ""), ("patch", ""), ("post", "/disable"), ("post", "/enable"),
                                            ("post", "/unlock"), ("post", "/reset-password")])
def test_accounts_of_another_street_are_404(users, api, method, suffix):
    before = {u.pk: (u.is_active, u.password, u.full_name) for u in User.objects.all()}
    for target in ("gw_a1", "admin_st", "admin_all", "res"):
        pk = User.objects.get(username=target).pk
        call = getattr(api["street_x"], method)
        response = call(f"/api/accounts/users/{pk}{suffix}", {"full_name": "x"} if method == "patch" else None,
                        content_type="application/json")
        assert response.status_code == 404 and response.json() == {"detail": "账户不存在"}, (target, suffix)
    assert {u.pk: (u.is_active, u.password, u.full_name) for u in User.objects.all()} == before
    assert api["street_x"].get("/api/accounts/users/999999").status_code == 404


def test_other_roles_are_refused_with_403(users):
    _, raw = create_api_token(users["leader"], "x")
    c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert c.get("/api/accounts/users").status_code == 403
    response = c.post("/api/accounts/users", BODY, content_type="application/json")
    assert response.status_code == 403 and response.json() == {"detail": "您的角色无权执行此操作"}
    assert Client().get("/api/accounts/users").status_code == 401
