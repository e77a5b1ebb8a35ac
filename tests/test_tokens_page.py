"""API tokens from the profile page: shown once, stored as a digest, revocable, validated."""

import pytest

from grassroots.accounts.models import ApiToken, AuditEvent
from grassroots.accounts.services import user_for_token

pytestmark = pytest.mark.django_db


def test_create_use_and_revoke_a_token(client, users):
    client.force_login(users["dispatcher"])
    html = client.post("/accounts/profile/", {"name": "12345 热线对接", "days": ""}).content.decode()
    raw = html.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert raw.startswith("gr_")
    token = ApiToken.objects.get(user=users["dispatcher"])
    assert raw not in (token.digest, token.prefix) and token.digest == ApiToken.digest_of(raw)
    assert user_for_token(raw) == users["dispatcher"]
    assert raw not in client.get("/accounts/profile/").content.decode()  # shown once only
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert user_for_token(raw) is None
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REVOKED).exists()


def test_bad_token_form_input_is_explained_and_nothing_created(client, users):
    client.force_login(users["dispatcher"])
    for data, message in [
        ({"name": "", "days": ""}, "请填写令牌用途"),
        ({"name": "x" * 61, "days": ""}, "用途不能超过 60 个字"),
        ({"name": "ok", "days": "0"}, "有效天数至少为 1"),
        ({"name": "ok", "days": "abc"}, "有效天数应为整数"),
    ]:
        assert message in client.post("/accounts/profile/", data).content.decode()
    assert not ApiToken.objects.exists()


def test_cannot_revoke_someone_elses_token(client, users):
    from grassroots.accounts.services import create_api_token

    token, raw = create_api_token(users["leader"], "dashboard")
    client.force_login(users["dispatcher"])
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert user_for_token(raw) == users["leader"]
