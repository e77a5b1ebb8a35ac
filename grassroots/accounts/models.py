import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models

from grassroots.accounts.roles import STAFF_ROLES, Role
from grassroots.lib.privacy import DigestField, SealedField
from grassroots.territory.models import PathField


class User(AbstractUser):
    """A person who signs in. Staff have a scope: a territory node (with its subtree)
    and/or a department; residents have none and see only what is theirs."""

    full_name = models.CharField("姓名", max_length=50, blank=True)
    # Sealed like every phone (lib.privacy); the digest finds the account of a phone (sign-in by
    # SMS code, a resident's own records) without the number in clear.
    phone = SealedField("手机号", kind="phone")
    phone_digest = DigestField(of="phone", part="phone", db_index=True)
    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.RESIDENT)
    region = models.ForeignKey(
        "territory.Region", verbose_name="辖区范围", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    department = models.ForeignKey(
        "territory.Department", verbose_name="所属部门", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    # Set when an administrator chose the password (a new account, a reset): every page then leads
    # to the change form until the person picks their own (accounts.middleware). API tokens are unaffected.
    must_change_password = models.BooleanField("须修改密码", default=False)

    class Meta:
        verbose_name = "用户"
        indexes = [models.Index(fields=["role", "region"], name="user_role_region")]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES


class ApiToken(models.Model):
    """A per-user API token. Only a SHA-256 digest is kept; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("用途", max_length=60)
    prefix = models.CharField(max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "接口令牌"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class AuditEvent(models.Model):
    """Append-only log of sign-ins, lockouts, permission denials and sensitive reads."""

    class Kind(models.TextChoices):
        LOGIN = "login", "登录成功"
        LOGIN_FAILED = "login_failed", "登录失败"
        LOCKED_OUT = "locked_out", "账户锁定"
        LOGOUT = "logout", "退出登录"
        DENIED = "denied", "越权访问被拒绝"
        TOKEN_CREATED = "token_created", "创建接口令牌"
        TOKEN_REVOKED = "token_revoked", "吊销接口令牌"
        API_AUTH_FAILED = "api_auth_failed", "接口令牌无效"
        CASE_PHONE = "case_phone", "查看反映人完整电话"  # before 2026-12: now PERSONAL_DATA
        LEDGER_FULL = "ledger_full", "查看台账完整个人信息"  # before 2026-12: now PERSONAL_DATA
        PERSONAL_DATA = "personal_data", "查看完整个人信息"
        ACCOUNT_CREATED = "account_created", "创建账户"
        ACCOUNT_CHANGED = "account_changed", "修改账户"
        ACCOUNT_DISABLED = "account_disabled", "停用账户"
        ACCOUNT_ENABLED = "account_enabled", "启用账户"
        ACCOUNT_UNLOCKED = "account_unlocked", "解除登录锁定"
        PASSWORD_RESET = "password_reset", "重置密码"
        PASSWORD_CHANGED = "password_changed", "修改本人密码"
        ACCOUNTS_IMPORTED = "accounts_imported", "批量导入账户"
        RESIDENT_REGISTERED = "resident_registered", "居民注册"
        SMS_LOGIN = "sms_login", "短信验证码登录"
        SMS_FAILED = "sms_failed", "短信验证码错误"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    # A read of personal data in full (lib.privacy.reveal): which record, which fields, why, from
    # where, and the record's territory (so an admin sees the reads of their own scope and a
    # resident the reads of their own records).
    subject = models.CharField("记录类型", max_length=40, blank=True)  # "ledger.person", "cases.case"…
    subject_id = models.BigIntegerField(null=True, blank=True)
    subject_label = models.CharField("记录", max_length=100, blank=True)
    fields = models.CharField("字段", max_length=100, blank=True)  # "id_number,phone"
    reason = models.CharField("事由", max_length=300, blank=True)
    channel = models.CharField("途径", max_length=8, blank=True)  # page / api / export
    region_path = PathField(max_length=255, blank=True)

    class Meta:
        verbose_name = "审计事件"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["kind", "at"], name="audit_kind_at"),
            models.Index(fields=["subject", "subject_id", "at"], name="audit_subject",
                         condition=models.Q(subject_id__isnull=False)),
            models.Index(fields=["kind", "region_path", "at"], name="audit_kind_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()} {self.username}"


class PhoneCode(models.Model):
    """A one-time SMS code (居民注册、短信登录). Only a keyed hash of the code is kept, and the phone
    only as its digest; a code expires (SMS_CODE_MINUTES) and allows SMS_CODE_ATTEMPTS tries."""

    class Purpose(models.TextChoices):
        REGISTER = "register", "注册"
        LOGIN = "login", "登录"

    phone_digest = models.CharField(max_length=64, db_index=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "短信验证码"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.created_at:%Y-%m-%d %H:%M}"
