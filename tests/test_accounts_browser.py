"""The operator story in a real headless Chromium: a street's administrator creates the street's
accounts from a sheet (one bad row → nothing created, errors by row; fixed → all created, temporary
passwords shown once), a new account is led to change its password at first sign-in, the
administrator disables one (it can no longer sign in, its token stops), re-enables it and resets its
password; another street's accounts do not exist for them; a resident registers with an SMS code."""

import io
import logging
import re

import httpx
import pytest
from openpyxl import load_workbook

from grassroots.accounts.models import User
from grassroots.accounts.services import create_api_token
from tests.account_helpers import sheet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def other(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def upload(page, data: bytes):
    page.set_input_files("#id_file", files=[{"name": "账户.xlsx", "mimeType": XLSX, "buffer": data}])
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result")


ROWS = [
    ["gw_df1", "多福巷网格员", "13900000011", "网格员", "110101001001001", "", ""],
    ["gw_yz1", "银闸网格员", "13900000012", "网格员", "110101001002001", "", ""],
    ["cs_df2", "多福巷社工", "", "社区（村）工作人员", "110101001001", "", ""],
]


def test_a_street_admin_runs_the_street_accounts(page, other, live_server, users, admins):
    url = live_server.url
    sign_in(page, url, "admin_st", "Test-pass-2026")
    page.click("nav.nav >> text=账户")
    page.click("#import-accounts")
    with page.expect_download() as template:
        page.click("#template-link")
    with open(template.value.path(), "rb") as f:
        assert load_workbook(io.BytesIO(f.read())).sheetnames == ["填写说明", "账户"]

    # one bad row (another street's community): nothing is created, the row is named
    upload(page, sheet(ROWS + [["gw_x9", "越界", "", "网格员", "110102001001", "", ""]]))
    assert "未导入" in page.locator("#import-result h2").inner_text()
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t")[:2] == ["5", "辖区代码"]
    assert "不在您的管理范围内" in errors.first.inner_text()
    assert not User.objects.filter(username__in=["gw_df1", "gw_yz1", "cs_df2"]).exists()

    # the fixed sheet: all three created, their temporary passwords shown once
    upload(page, sheet(ROWS))
    assert page.locator("#created-count").inner_text() == "3"
    temp = page.locator("tr[data-username=gw_df1] .password code").inner_text()
    with page.expect_download() as passwords:
        page.click("#passwords-workbook")
    with open(passwords.value.path(), "rb") as f:
        rows = list(load_workbook(io.BytesIO(f.read())).active.iter_rows(min_row=2, max_row=4, values_only=True))
    assert ("gw_df1", "多福巷网格员", "网格员", temp) in rows

    # first sign-in: every page leads to the change form; a weak password is refused in Chinese
    sign_in(other, url, "gw_df1", temp)
    assert "/accounts/password/" in other.url and other.locator("#forced").is_visible()
    other.goto(f"{url}/cases/")
    assert "/accounts/password/" in other.url
    other.fill("#id_old_password", temp)
    other.fill("#id_new_password", "12345678")
    other.fill("#id_new_password2", "12345678")
    other.click("#password-form button[type=submit]")
    assert "密码不能全部是数字" in other.locator("[data-field=new_password]").inner_text()
    other.fill("#id_old_password", temp)
    other.fill("#id_new_password", "Duo-fu-xiang-1")
    other.fill("#id_new_password2", "Duo-fu-xiang-1")
    other.click("#password-form button[type=submit]")
    other.wait_for_url(re.compile(r".*/cases/$"))
    gw = User.objects.get(username="gw_df1")
    _, raw = create_api_token(gw, "手机端")
    assert httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200

    # disable: the open session ends, signing in fails, the token stops
    page.goto(f"{url}/accounts/users/?q=gw_df1")
    page.click("tr[data-username=gw_df1] a")
    page.click("#disable")
    assert page.locator("#account-status").inner_text() == "停用"
    other.goto(f"{url}/home/")
    assert "/accounts/login/" in other.url
    sign_in(other, url, "gw_df1", "Duo-fu-xiang-1")
    assert "用户名或密码不正确" in other.locator(".error").inner_text()
    assert httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401

    # re-enable, then reset the password: a temporary one, changed at the next sign-in
    page.click("#enable")
    assert page.locator("#account-status").inner_text() == "启用"
    assert httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    page.click("#reset-password")
    reset = page.locator("#temporary-password").inner_text()
    sign_in(other, url, "gw_df1", "Duo-fu-xiang-1")
    assert "用户名或密码不正确" in other.locator(".error").inner_text()
    sign_in(other, url, "gw_df1", reset)
    assert "/accounts/password/" in other.url
    other.fill("#id_old_password", reset)
    other.fill("#id_new_password", "Yin-zha-hu-tong-2")
    other.fill("#id_new_password2", "Yin-zha-hu-tong-2")
    other.click("#password-form button[type=submit]")
    other.wait_for_url(re.compile(r".*/home/$"))

    # another street's account does not exist for this administrator
    outsider = User.objects.get(username="admin_x")
    response = page.goto(f"{url}/accounts/users/{outsider.pk}/")
    assert response.status == 404
    page.goto(f"{url}/accounts/users/?q=admin_x")
    assert page.locator("tr[data-username=admin_x]").count() == 0

    # one's own password, from the header link
    page.goto(f"{url}/home/")
    page.click("#change-password")
    page.fill("#id_old_password", "Test-pass-2026")
    page.fill("#id_new_password", "1")
    page.fill("#id_new_password2", "1")
    page.click("#password-form button[type=submit]")
    assert "密码太短，至少需要 8 个字符" in page.locator("[data-field=new_password]").inner_text()


def test_a_resident_registers_and_signs_in_with_an_sms_code(page, live_server, tree, caplog, settings):
    caplog.set_level(logging.INFO, logger="grassroots.sms")
    settings.RATE_LIMIT_SMS_ADDRESS = "1000/h"  # other tests' sends from 127.0.0.1 may share the window
    url = live_server.url
    page.goto(f"{url}/accounts/login/")
    page.click("#register-link")
    page.fill("#id_phone", "13698765432")
    page.click("#send-code")
    page.wait_for_selector("#code-sent")
    message = [r.getMessage() for r in caplog.records if r.name == "grassroots.sms"][-1]
    assert "136****5432" in message and "13698765432" not in message
    code = re.search(r"验证码是 (\d{6})", message)[1]
    page.fill("#id_code", "000000" if code != "000000" else "111111")
    page.click("#submit-code")
    assert "验证码不正确" in page.locator("[data-field=code]").inner_text()
    assert page.input_value("#id_phone") == "13698765432"
    page.fill("#id_code", code)
    page.fill("#id_full_name", "钱居民")
    page.click("#submit-code")
    page.wait_for_url(f"{url}/me/")
    assert "136****5432" in page.content()
    page.click("button:has-text('退出')")
    page.goto(f"{url}/accounts/login/sms/")
    page.fill("#id_phone", "13698765432")
    page.click("#send-code")
    page.wait_for_selector("#code-sent")
    code = re.search(r"验证码是 (\d{6})", [r.getMessage() for r in caplog.records if r.name == "grassroots.sms"][-1])[1]
    page.fill("#id_code", code)
    page.click("#submit-code")
    page.wait_for_url(f"{url}/home/")
    assert "居民服务" in page.content()
