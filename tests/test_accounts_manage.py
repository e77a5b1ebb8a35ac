"""Accounts an office can run (issue 12, part 6): the 账户 pages, strictly within the administrator's
scope; disabling, re-enabling, unlocking, password resets and the forced change; one's own password;
the password rules on every path (page, sheet, create_staff); the sheet import."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from grassroots.lib import privacy
from tests.account_helpers import sheet, sign_in
from tests.conftest import PASSWORD, create_staff

pytestmark = pytest.mark.django_db

NEW = {"username": "gw_new", "full_name": "新网格员", "phone": "13912340001", "role": "grid_worker",
       "region": "110101001001001", "department": "", "password": ""}


def admin_client(username):
    return sign_in(Client(), username)


def page_text(response) -> str:
    return response.content.decode()


# --- the list ---------------------------------------------------------------------------------------


def test_a_street_admin_lists_only_the_accounts_of_their_street(users, admins):
    page = page_text(admin_client("admin_st").get("/accounts/users/"))
    for inside in ("gw_a1", "cs_a", "md_a", "gw_b1", "cs_b", "dp_street", "admin_st"):
        assert f'data-username="{inside}"' in page
    for outside in ("ld_dc", "admin_dc", "hd_cg", "ld_xc", "hd_cg_x", "admin_x", "admin_all", "res"):
        assert f'data-username="{outside}"' not in page


def test_a_district_admin_also_sees_the_district_departments(users, admins):
    page = page_text(admin_client("admin_dc").get("/accounts/users/"))
    assert 'data-username="hd_cg"' in page and 'data-username="admin_st"' in page
    assert 'data-username="hd_cg_x"' not in page and 'data-username="admin_x"' not in page


def test_search_and_filters(users, admins):
    c = admin_client("admin_all")
    User.objects.filter(username="cs_b").update(is_active=False)
    users["mediator"].phone = "13700001111"
    users["mediator"].save()
    assert 'data-username="cs_a"' in page_text(c.get("/accounts/users/?q=李社区"))
    found = page_text(c.get("/accounts/users/?q=13700001111"))
    assert 'data-username="md_a"' in found and 'data-username="cs_a"' not in found
    assert "137****1111" in found and "13700001111" not in found.split("<table")[1]
    disabled = page_text(c.get("/accounts/users/?status=disabled"))
    assert 'data-username="cs_b"' in disabled and 'data-username="cs_a"' not in disabled
    leaders = page_text(c.get("/accounts/users/?role=leader"))
    assert 'data-username="ld_dc"' in leaders and 'data-username="cs_a"' not in leaders


def test_the_locked_filter_and_unlock(users, admins, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "cs_a", "password": "wrong-password"})
    assert Client().post("/accounts/login/", {"username": "cs_a", "password": PASSWORD}).status_code == 429
    c = admin_client("admin_st")
    locked = page_text(c.get("/accounts/users/?locked=on"))
    assert 'data-username="cs_a"' in locked and 'data-username="gw_a1"' not in locked
    detail = page_text(c.get(f"/accounts/users/{users['community_staff'].pk}/"))
    assert 'id="account-locked"' in detail
    assert c.post(f"/accounts/users/{users['community_staff'].pk}/unlock/").status_code == 302
    assert Client().post("/accounts/login/", {"username": "cs_a", "password": PASSWORD}).status_code == 302
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ACCOUNT_UNLOCKED, username="admin_st",
                                     detail__startswith="cs_a：").exists()


# --- create and edit --------------------------------------------------------------------------------


def test_a_street_admin_creates_an_account_in_their_street(users, admins):
    c = admin_client("admin_st")
    response = c.post("/accounts/users/new/", NEW)
    assert response.status_code == 200, page_text(response)[:2000]
    text = page_text(response)
    password = text.split('id="temporary-password">')[1].split("<")[0]
    user = User.objects.get(username="gw_new")
    assert user.region.code == "110101001001001" and user.role == Role.GRID_WORKER and user.must_change_password
    assert user.check_password(password)
    assert privacy.plain_of(user.phone) == "13912340001" and user.phone_digest
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.ACCOUNT_CREATED)
    assert event.username == "admin_st" and event.detail.startswith("gw_new：网格员")
    assert "13912340001" not in event.detail


@pytest.mark.parametrize("change, field, message", [
    ({"region": "110102001001"}, "region", "不存在或不在您的管理范围内"),  # another street's community
    ({"region": "110101"}, "region", "不存在或不在您的管理范围内"),  # above the admin's own scope
    ({"region": "", "role": "admin"}, "region", "不能授予全局系统管理员"),
    ({"region": "", "department": "110101/chengguan", "role": "handler"}, "department", "不在可用的选项中"),
    ({"role": "resident", "region": ""}, "role", "不在可用的选项中"),  # not even offered
    ({"role": "chief"}, "role", "选择一个有效的选项"),
    ({"username": "cs_b"}, "username", "已被使用"),
    ({"phone": "12345"}, "phone", "手机号应为 11 位手机号码"),
    ({"password": "1"}, "password", "密码太短，至少需要 8 个字符。"),
    ({"password": "12345678"}, "password", "密码不能全部是数字。"),
    ({"password": "password123"}, "password", "这个密码太常见了"),
    ({"password": "gw_new_2026", "username": "gw_new_2026x"}, "password", "密码与用户名太相似了。"),
])
def test_create_refusals_name_the_field_in_chinese_and_create_nothing(users, admins, change, field, message):
    c = admin_client("admin_st")
    before = User.objects.count()
    response = c.post("/accounts/users/new/", {**NEW, **change})
    assert response.status_code == 400
    text = page_text(response)
    section = text.split(f'data-field="{field}"')[1].split("</p>")[0]
    assert message in section, section
    assert User.objects.count() == before
    if field != "password":  # what the admin typed is kept (but never a password)
        assert f'value="{NEW["full_name"]}"' in text


def test_a_district_admin_grants_a_department_of_their_district(users, admins):
    c = admin_client("admin_dc")
    response = c.post("/accounts/users/new/", {**NEW, "username": "hd_new", "role": "handler", "region": "",
                                                "department": "110101/chengguan"})
    assert response.status_code == 200
    assert User.objects.get(username="hd_new").department == users["handler"].department
    refused = c.post("/accounts/users/new/", {**NEW, "username": "hd_new2", "role": "handler", "region": "",
                                               "department": "110102/chengguan"})
    assert refused.status_code == 400 and not User.objects.filter(username="hd_new2").exists()


def test_edit_within_the_scope_and_the_audit(users, admins):
    c = admin_client("admin_st")
    gw = users["grid_worker"]
    response = c.post(f"/accounts/users/{gw.pk}/", {"full_name": "张网格改", "phone": "13800001234",
                                                     "role": "community_staff", "region": "110101001002",
                                                     "department": ""})
    assert response.status_code == 302
    gw.refresh_from_db()
    assert gw.full_name == "张网格改" and gw.role == Role.COMMUNITY_STAFF and gw.region.code == "110101001002"
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.ACCOUNT_CHANGED)
    assert "手机号已修改" in event.detail and "社区（村）工作人员" in event.detail and "13800001234" not in event.detail
    # the whole number is never shown back: its mask as a hint; left empty it stays, ticked it goes
    form = page_text(c.get(f"/accounts/users/{gw.pk}/"))
    assert "13800001234" not in form and 'placeholder="138****1234"' in form
    kept = {"full_name": "张网格改", "phone": "", "role": "community_staff", "region": "110101001002", "department": ""}
    assert c.post(f"/accounts/users/{gw.pk}/", kept).status_code == 302
    gw.refresh_from_db()
    assert privacy.plain_of(gw.phone) == "13800001234"
    assert c.post(f"/accounts/users/{gw.pk}/", {**kept, "clear_phone": "on"}).status_code == 302
    gw.refresh_from_db()
    assert not gw.phone and not gw.phone_digest
    # moving the account out of the admin's own street is refused
    refused = c.post(f"/accounts/users/{gw.pk}/", {"full_name": "x", "phone": "", "role": "community_staff",
                                                    "region": "110102001001", "department": ""})
    assert refused.status_code == 400 and "不在您的管理范围内" in page_text(refused)
    gw.refresh_from_db()
    assert gw.region.code == "110101001002" and gw.full_name == "张网格改"


def test_an_admin_cannot_raise_their_own_role_or_scope(users, admins):
    c = admin_client("admin_st")
    me = admins["street"]
    refused = c.post(f"/accounts/users/{me.pk}/", {"full_name": "x", "phone": "", "role": "admin",
                                                    "region": "110101001001", "department": ""})
    assert refused.status_code == 400 and "不能修改自己的角色" in page_text(refused)
    assert c.post(f"/accounts/users/{me.pk}/disable/").status_code == 302
    me.refresh_from_db()
    assert me.is_active and me.region.code == "110101001000"


@pytest.mark.parametrize("action", ["", "disable/", "enable/", "unlock/", "reset-password/"])
def test_accounts_of_another_street_do_not_exist_for_a_street_admin(users, admins, action):
    c = admin_client("admin_x")
    before = {u.pk: (u.is_active, u.password) for u in User.objects.all()}
    for target in ("gw_a1", "admin_dc", "admin_all", "res"):
        pk = User.objects.get(username=target).pk
        response = c.post(f"/accounts/users/{pk}/{action}") if action else c.get(f"/accounts/users/{pk}/")
        assert response.status_code == 404, (target, action)
    assert {u.pk: (u.is_active, u.password) for u in User.objects.all()} == before
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, username="admin_x").count() == 4


def test_other_roles_may_not_manage_accounts(users):
    c = sign_in(Client(), "ld_dc")
    assert c.get("/accounts/users/").status_code == 403
    assert c.get("/accounts/users/new/").status_code == 403
    assert c.post(f"/accounts/users/{users['grid_worker'].pk}/disable/").status_code == 403
    assert users["grid_worker"].__class__.objects.get(pk=users["grid_worker"].pk).is_active


# --- disable, enable, reset, forced change ------------------------------------------------------------


def test_a_disabled_account_cannot_sign_in_and_its_tokens_stop(users, admins):
    gw = users["grid_worker"]
    _, raw = create_api_token(gw, "手机端")
    session = sign_in(Client(), "gw_a1")
    assert session.get("/home/").status_code == 200
    c = admin_client("admin_st")
    assert c.post(f"/accounts/users/{gw.pk}/disable/").status_code == 302
    assert session.get("/home/").status_code == 302  # the open session ends
    refused = Client().post("/accounts/login/", {"username": "gw_a1", "password": PASSWORD})
    assert refused.status_code == 200 and "用户名或密码不正确" in page_text(refused)
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert c.post(f"/accounts/users/{gw.pk}/enable/").status_code == 302
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    sign_in(Client(), "gw_a1")
    kinds = list(AuditEvent.objects.filter(username="admin_st", detail__startswith="gw_a1：")
                 .values_list("kind", flat=True))
    assert AuditEvent.Kind.ACCOUNT_DISABLED in kinds and AuditEvent.Kind.ACCOUNT_ENABLED in kinds


def test_reset_password_forces_a_change_at_next_sign_in(users, admins):
    gw = users["grid_worker"]
    _, raw = create_api_token(gw, "手机端")
    old_session = sign_in(Client(), "gw_a1")
    response = admin_client("admin_st").post(f"/accounts/users/{gw.pk}/reset-password/")
    temp = page_text(response).split('id="temporary-password">')[1].split("<")[0]
    assert old_session.get("/home/").status_code == 302  # signed in with the old password: out
    assert Client().post("/accounts/login/", {"username": "gw_a1", "password": PASSWORD}).status_code == 200
    c = sign_in(Client(), "gw_a1", temp)
    for path in ("/home/", "/cases/", "/me/", "/accounts/profile/"):
        response = c.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/password/"), path
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200  # tokens unaffected
    weak = c.post("/accounts/password/", {"old_password": temp, "new_password": "12345678",
                                          "new_password2": "12345678"})
    assert weak.status_code == 400 and "密码不能全部是数字" in page_text(weak)
    done = c.post("/accounts/password/", {"old_password": temp, "new_password": "Zhang-wangge-88",
                                          "new_password2": "Zhang-wangge-88", "next": "/cases/"})
    assert done.status_code == 302 and done["Location"] == "/cases/"
    assert c.get("/home/").status_code == 200  # still signed in, no longer led to the form
    gw.refresh_from_db()
    assert not gw.must_change_password and gw.check_password("Zhang-wangge-88")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET, username="admin_st").exists()


def test_everyone_changes_their_own_password(users):
    c = sign_in(Client(), "res")
    assert 'id="change-password"' in page_text(c.get("/me/"))
    wrong = c.post("/accounts/password/", {"old_password": "nope", "new_password": "Lv-shui-qing-shan",
                                           "new_password2": "Lv-shui-qing-shan"})
    assert wrong.status_code == 400 and "原密码不正确" in page_text(wrong)
    mismatch = c.post("/accounts/password/", {"old_password": PASSWORD, "new_password": "Lv-shui-qing-shan",
                                              "new_password2": "Lv-shui-qing-shan2"})
    assert "两次输入的新密码不一致" in page_text(mismatch)
    short = c.post("/accounts/password/", {"old_password": PASSWORD, "new_password": "1", "new_password2": "1"})
    assert "密码太短" in page_text(short)
    ok = c.post("/accounts/password/", {"old_password": PASSWORD, "new_password": "Lv-shui-qing-shan",
                                        "new_password2": "Lv-shui-qing-shan", "next": "https://evil.example/"})
    assert ok.status_code == 302 and ok["Location"] == "/home/"
    sign_in(Client(), "res", "Lv-shui-qing-shan")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_CHANGED, username="res").exists()


# --- create_staff ---------------------------------------------------------------------------------------


def test_create_staff_refuses_weak_passwords_in_chinese(tree):
    with pytest.raises(CommandError, match="密码太短"):
        call_command("create_staff", "boss", role="admin", password="1")
    with pytest.raises(CommandError, match="这个密码太常见了"):
        call_command("create_staff", "boss", role="admin", password="password")
    with pytest.raises(CommandError, match="与用户名太相似"):
        call_command("create_staff", "zhangsan2026", role="admin", password="zhangsan2026")
    assert not User.objects.filter(username__in=["boss", "zhangsan2026"]).exists()
    out = io.StringIO()
    call_command("create_staff", "boss", role="admin", full_name="第一任管理员", password="Qing-shan-lv-shui", stdout=out)
    assert "已创建账户 boss" in out.getvalue()
    boss = User.objects.get(username="boss")
    assert boss.check_password("Qing-shan-lv-shui") and boss.role == Role.ADMIN and boss.region is None
    call_command("create_staff", "gw_cmd", role="grid_worker", region="110101001001001", password="Qing-shan-lv-shui")
    with pytest.raises(CommandError, match="辖区代码“999”不存在"):
        call_command("create_staff", "gw_cmd2", role="grid_worker", region="999", password="Qing-shan-lv-shui")


def test_the_service_refuses_a_weak_password_too(tree):
    from grassroots.accounts.services import AccountError
    from grassroots.accounts.services import create_staff as service_create_staff

    with pytest.raises(AccountError, match="密码太短"):
        service_create_staff("boss", "1", Role.ADMIN)


# --- the sheet ----------------------------------------------------------------------------------------------


def rows_ok():
    return [
        ["gw_s1", "网格员一", "13900000001", "网格员", "110101001001001", "", ""],
        ["gw_s2", "网格员二", "13900000002", "grid_worker", "110101001002001", "", "Dong-hua-men-2026"],
        ["cs_s3", "社区三", "", "社区（村）工作人员", "110101001002", "", ""],
    ]


def test_one_bad_row_creates_nothing_and_errors_are_listed_by_row(users, admins):
    c = admin_client("admin_st")
    bad = rows_ok() + [
        ["gw_s1", "重复", "", "网格员", "110101001001001", "", ""],
        ["x1", "", "12345", "队长", "", "", ""],
        ["x2", "", "", "网格员", "110102001001", "", "12345678"],
        ["x3", "", "", "系统管理员", "110101", "", ""],
    ]
    response = c.post("/accounts/users/import/", {"file": io.BytesIO(sheet(bad))})
    assert response.status_code == 400
    text = page_text(response)
    table = text.split('id="import-errors"')[1]
    for expected in ("用户名“gw_s1”与第 2 行重复", "手机号应为 11 位手机号码", "未知角色“队长”",
                     "辖区代码“110102001001”不存在或不在您的管理范围内", "密码不能全部是数字",
                     "辖区代码“110101”不存在或不在您的管理范围内"):
        assert expected in table, expected
    assert "<td>5</td><td>用户名</td>" in table and "<td>6</td><td>手机号</td>" in table
    assert "<td>6</td><td>角色</td>" in table and "<td>7</td><td>初始密码</td>" in table
    assert not User.objects.filter(username__in=["gw_s1", "gw_s2", "cs_s3", "x1", "x2", "x3"]).exists()


def test_preview_then_import_with_temporary_passwords(users, admins):
    c = admin_client("admin_st")
    preview = c.post("/accounts/users/import/", {"file": io.BytesIO(sheet(rows_ok())), "dry_run": "on"})
    assert preview.status_code == 200 and 'id="preview"' in page_text(preview)
    assert not User.objects.filter(username="gw_s1").exists()
    done = c.post("/accounts/users/import/", {"file": io.BytesIO(sheet(rows_ok()))})
    text = page_text(done)
    assert done.status_code == 200 and 'id="created-count">3<' in text
    created = {u.username: u for u in User.objects.filter(username__in=["gw_s1", "gw_s2", "cs_s3"])}
    assert len(created) == 3 and all(u.must_change_password for u in created.values())
    assert created["gw_s2"].check_password("Dong-hua-men-2026")
    assert privacy.plain_of(created["gw_s1"].phone) == "13900000001"
    shown = text.split('data-username="gw_s1"')[1].split("<code>")[1].split("</code>")[0]
    assert created["gw_s1"].check_password(shown)
    url = text.split('id="passwords-workbook"')[0].rsplit('href="', 1)[1].split('"')[0]
    download = c.get(url)
    wb = load_workbook(io.BytesIO(download.content))
    rows = [list(r) for r in wb.active.iter_rows(min_row=2, max_row=3, values_only=True)]
    assert {r[0] for r in rows} == {"gw_s1", "cs_s3"}
    assert created["cs_s3"].check_password(next(r[3] for r in rows if r[0] == "cs_s3"))
    assert c.get(url).status_code == 404  # once only
    assert admin_client("admin_dc").get(url).status_code == 404
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ACCOUNT_CREATED, username="admin_st").count() == 3
    # the same sheet again: every username is taken now, nothing changes
    again = c.post("/accounts/users/import/", {"file": io.BytesIO(sheet(rows_ok()))})
    assert again.status_code == 400 and "已被使用" in page_text(again)


def test_the_template_and_a_file_that_is_not_a_workbook(users, admins):
    c = admin_client("admin_st")
    template = c.get("/accounts/users/import/template/")
    wb = load_workbook(io.BytesIO(template.content))
    assert wb.sheetnames == ["填写说明", "账户"]
    assert [cell.value for cell in wb["账户"][1]] == ["用户名*", "姓名", "手机号", "角色*", "辖区代码", "部门", "初始密码"]
    refused = c.post("/accounts/users/import/", {"file": io.BytesIO(b"not a workbook")})
    assert refused.status_code == 400 and "不是有效的 Excel 工作簿" in page_text(refused)
    header_only = c.post("/accounts/users/import/", {"file": io.BytesIO(sheet([], header=["姓名"]))})
    assert "缺少必填列：用户名、角色" in page_text(header_only)


def test_create_staff_fixture_accounts_are_not_forced_to_change(users):
    assert not User.objects.filter(must_change_password=True).exists()
    create_staff("plain", PASSWORD, Role.RESIDENT)
    assert sign_in(Client(), "plain").get("/home/").status_code == 200


def test_a_street_admin_reads_the_audit_of_their_street_only(users, admins):
    sign_in(Client(), "ld_xc")  # 西城区's leader signs in: not this street's business
    sign_in(Client(), "gw_a1")
    admin_client("admin_x").post(f"/accounts/users/{User.objects.get(username='ld_xc').pk}/")  # 404, audited
    html = page_text(admin_client("admin_st").get("/accounts/audit/"))
    assert "gw_a1" in html and "ld_xc" not in html and "admin_x" not in html
    everything = page_text(admin_client("admin_all").get("/accounts/audit/"))
    assert "gw_a1" in everything and "ld_xc" in everything and "admin_x" in everything
