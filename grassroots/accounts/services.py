"""Writes for accounts: staff accounts and API tokens."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from grassroots.accounts.models import ApiToken, AuditEvent, User
from grassroots.accounts.permissions import audit
from grassroots.accounts.roles import Role

TOKEN_PREFIX = "gr_"


def create_api_token(user: User, name: str, *, days: int | None = None, request=None) -> tuple[ApiToken, str]:
    """Create a token for USER; returns the record and the raw token (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("请填写令牌用途")
    if len(name) > 60:
        raise ValueError("令牌用途不能超过 60 个字")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[len(TOKEN_PREFIX):][:8],
        digest=ApiToken.digest_of(raw),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    audit(AuditEvent.Kind.TOKEN_CREATED, user=user, request=request, detail=f"{name} ({token.prefix}…)")
    return token, raw


def revoke_api_token(user: User, token_id: int, request=None) -> bool:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        audit(AuditEvent.Kind.TOKEN_REVOKED, user=user, request=request, detail=f"token {token_id}")
    return bool(updated)


def user_for_token(raw: str) -> User | None:
    """The active user a raw token belongs to, or None. Marks the token as used."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def create_staff(username: str, password: str | None, role: str, *, full_name: str = "", region=None,
                 department=None, phone: str = "", password_hash: str | None = None) -> User:
    """Create an account. PASSWORD_HASH (from make_password) skips hashing again, for bulk creation."""
    if role not in Role.values:
        raise ValueError(f"未知角色：{role}")
    if role != Role.RESIDENT and role != Role.ADMIN and region is None and department is None:
        raise ValueError("工作人员账户必须有辖区范围或所属部门")
    user = User(username=username, role=role, full_name=full_name, region=region, department=department, phone=phone)
    if password_hash:
        user.password = password_hash
    else:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user
