"""Signing in: Argon2 hashes, lockout after repeated failures, session expiry, CSRF, audit."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from grassroots.accounts.models import AuditEvent, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_passwords_are_stored_with_argon2(users):
    assert User.objects.get(username="gw_a1").password.startswith("argon2$")


def test_login_lands_on_home_and_is_audited(client, users):
    response = login(client, "cs_a", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/home/"
    page = client.get("/home/")
    assert "社区工作台" in page.content.decode()
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN)
    assert event.username == "cs_a" and event.ip == "127.0.0.1"


def test_wrong_password_gives_chinese_message_and_audit(client, users):
    response = login(client, "cs_a", "wrong-password")
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED, username="cs_a").count() == 1


def test_lockout_after_repeated_failures_even_with_the_right_password(client, users, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "cs_a", "wrong-password")
    locked = login(client, "cs_a", PASSWORD)
    assert locked.status_code == 429
    assert "账户已暂时锁定" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOCKED_OUT, username="cs_a").exists()
    # Another account from the same address is not locked.
    assert login(Client(), "gw_a1", PASSWORD).status_code == 302


def test_pages_require_login(client, users):
    response = client.get("/home/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/territory/110101001001/").status_code == 302


def test_session_expires_after_idle_time(client, users, settings):
    assert login(client, "cs_a", PASSWORD).status_code == 302
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert client.session.get_expire_at_browser_close()
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/home/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_forms_require_csrf_token(users):
    strict = Client(enforce_csrf_checks=True)
    assert login(strict, "cs_a", PASSWORD).status_code == 403
    page = strict.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/accounts/login/", {"username": "cs_a", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_logout_is_a_post_and_is_audited(client, users):
    login(client, "cs_a", PASSWORD)
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/home/").status_code == 302
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT, username="cs_a").exists()


def test_inactive_account_cannot_sign_in(client, users):
    User.objects.filter(username="cs_a").update(is_active=False)
    response = login(client, "cs_a", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
