"""Residents register and sign in with their phone and a one-time SMS code (lib/sms.py, log backend):
codes stored hashed, expiring, with limited attempts and limited resends; the account finds the
resident's own records on /me/ through the phone digest; the log shows the code, never the phone."""

import logging
import re
from datetime import timedelta

import pytest
from django.test import Client

from grassroots.accounts.models import AuditEvent, PhoneCode, User
from grassroots.accounts.roles import Role
from grassroots.lib import privacy
from tests.ledger_helpers import ELDER_ID, household_in, person

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


def send(client, path, phone=PHONE):
    return client.post(path, {"phone": phone, "send": "1"})


def last_code(caplog) -> str:
    messages = [r.getMessage() for r in caplog.records if r.name == "grassroots.sms"]
    assert messages, "no SMS was logged"
    return re.search(r"验证码是 (\d{6})", messages[-1])[1]


def time_passes(seconds: int) -> None:
    """Move every stored code back in time, as if SECONDS had passed."""
    for code in PhoneCode.objects.all():
        PhoneCode.objects.filter(pk=code.pk).update(created_at=code.created_at - timedelta(seconds=seconds),
                                                    expires_at=code.expires_at - timedelta(seconds=seconds))


def test_register_then_my_records_then_sms_sign_in(users, caplog):
    caplog.set_level(logging.INFO, logger="grassroots.sms")
    person(users["community_staff"], household_in(users["grid_worker"].region), ELDER_ID, "王大爷", phone=PHONE)
    c = Client()
    assert "居民注册" in c.get("/accounts/register/").content.decode()
    sent = send(c, "/accounts/register/")
    assert sent.status_code == 200 and 'id="code-sent"' in sent.content.decode()
    logged = [r.getMessage() for r in caplog.records if r.name == "grassroots.sms"]
    assert "139****5678" in logged[-1] and PHONE not in logged[-1]
    code = last_code(caplog)
    stored = PhoneCode.objects.get()
    assert code not in stored.code_hash and PHONE not in stored.phone_digest
    wrong = c.post("/accounts/register/", {"phone": PHONE, "code": "000000" if code != "000000" else "111111",
                                           "full_name": "王大爷"})
    assert wrong.status_code == 400 and "验证码不正确，还可以再试 4 次" in wrong.content.decode()
    assert f'value="{PHONE}"' in wrong.content.decode()  # what was typed is kept
    done = c.post("/accounts/register/", {"phone": PHONE, "code": code, "full_name": "王大爷"})
    assert done.status_code == 302 and done["Location"] == "/me/"
    resident = User.objects.get(role=Role.RESIDENT, full_name="王大爷")
    assert privacy.plain_of(resident.phone) == PHONE and not resident.has_usable_password()
    me = c.get("/me/").content.decode()
    assert "王大爷" in me and "139****5678" in me and ELDER_ID not in me and "110101********" in me
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.RESIDENT_REGISTERED, user=resident).exists()
    # the code is single use
    c.post("/accounts/logout/")
    assert c.post("/accounts/register/", {"phone": PHONE, "code": code}).status_code == 400
    # registering again is refused; signing in by code works
    again = send(Client(), "/accounts/register/")
    assert "该手机号已注册" in again.content.decode()
    login = Client()
    send(login, "/accounts/login/sms/")
    signed = login.post("/accounts/login/sms/", {"phone": PHONE, "code": last_code(caplog)})
    assert signed.status_code == 302 and login.get("/home/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SMS_LOGIN, user=resident).exists()


def _resident():
    user = User(username="r_wang", role=Role.RESIDENT, full_name="王居民", phone=PHONE)
    user.set_unusable_password()
    user.save()
    return user


def test_a_phone_without_an_account_cannot_sign_in(tree, caplog):
    response = send(Client(), "/accounts/login/sms/")
    assert response.status_code == 400 and "还没有注册居民账户" in response.content.decode()
    assert not PhoneCode.objects.exists()
    bad = send(Client(), "/accounts/login/sms/", phone="12345")
    assert "手机号应为 11 位手机号码" in bad.content.decode()


def test_an_expired_code_is_refused(tree, caplog, settings):
    caplog.set_level(logging.INFO, logger="grassroots.sms")
    _resident()
    c = Client()
    send(c, "/accounts/login/sms/")
    code = last_code(caplog)
    time_passes(settings.SMS_CODE_MINUTES * 60 + 1)
    response = c.post("/accounts/login/sms/", {"phone": PHONE, "code": code})
    assert response.status_code == 400 and "验证码已过期，请重新获取" in response.content.decode()
    assert "_auth_user_id" not in c.session


def test_too_many_attempts_spend_the_code(tree, caplog, settings):
    caplog.set_level(logging.INFO, logger="grassroots.sms")
    _resident()
    c = Client()
    send(c, "/accounts/login/sms/")
    code = last_code(caplog)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in range(settings.SMS_CODE_ATTEMPTS - 1, 0, -1):
        assert f"还可以再试 {left} 次" in c.post("/accounts/login/sms/", {"phone": PHONE, "code": wrong}).content.decode()
    assert "错误次数过多" in c.post("/accounts/login/sms/", {"phone": PHONE, "code": wrong}).content.decode()
    # now even the right code is refused
    response = c.post("/accounts/login/sms/", {"phone": PHONE, "code": code})
    assert response.status_code == 400 and "错误次数过多，请重新获取" in response.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SMS_FAILED).count() == settings.SMS_CODE_ATTEMPTS
    # a new code (after the resend wait) works
    assert "秒后再重新获取" in send(c, "/accounts/login/sms/").content.decode()
    time_passes(settings.SMS_RESEND_SECONDS)
    send(c, "/accounts/login/sms/")
    assert c.post("/accounts/login/sms/", {"phone": PHONE, "code": last_code(caplog)}).status_code == 302


def test_resends_are_limited_per_phone(tree, caplog, settings):
    settings.RATE_LIMIT_SMS_PHONE = "3/h"
    _resident()
    for _ in range(3):
        assert send(Client(), "/accounts/login/sms/").status_code == 200
        time_passes(settings.SMS_RESEND_SECONDS)
    refused = send(Client(), "/accounts/login/sms/")
    assert refused.status_code == 400 and "获取验证码过于频繁" in refused.content.decode()
    assert PhoneCode.objects.count() == 3


def test_resends_are_limited_per_address(tree, settings):
    settings.RATE_LIMIT_SMS_ADDRESS = "2/h"
    for n in range(2):
        _resident_with(f"1390000000{n}")
        assert send(Client(), "/accounts/login/sms/", phone=f"1390000000{n}").status_code == 200
    _resident_with("13900000009")
    refused = send(Client(), "/accounts/login/sms/", phone="13900000009")
    assert refused.status_code == 400 and "获取验证码过于频繁" in refused.content.decode()


def _resident_with(phone):
    user = User(username=f"r_{phone}", role=Role.RESIDENT, phone=phone)
    user.set_unusable_password()
    user.save()
    return user


def test_a_disabled_resident_cannot_sign_in_by_code(tree, caplog):
    caplog.set_level(logging.INFO, logger="grassroots.sms")
    user = _resident()
    c = Client()
    send(c, "/accounts/login/sms/")
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = c.post("/accounts/login/sms/", {"phone": PHONE, "code": last_code(caplog)})
    assert response.status_code == 400 and "该账户已停用" in response.content.decode()


def test_the_login_page_links_to_both(tree):
    html = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/login/sms/"' in html and 'href="/accounts/register/"' in html
