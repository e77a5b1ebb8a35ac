"""Writes for accounts: staff accounts, their management by administrators within their scope,
passwords, residents' SMS registration and sign-in, and API tokens.

Who may manage whom (docs/accounts.md "Managing accounts"): an account with accounts.manage (an
administrator) manages the accounts whose scope lies inside its own — a street's administrator
the accounts of that street's communities and grids, a district's also those of the district's
departments — and grants only roles and scopes it could hold itself. A global administrator
(no region, no department) manages every account, residents and other global administrators
included. Anything else is answered as if the account did not exist (404), and audited.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone, translation

from grassroots.accounts.models import ApiToken, AuditEvent, PhoneCode, User
from grassroots.accounts.permissions import NOTHING, audit, audit_denial, can, require, sees_everything
from grassroots.accounts.roles import Action, Role
from grassroots.lib import privacy
from grassroots.territory.models import Department, Region
from grassroots.territory.queries import path_prefix_q

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
    """Create an account. PASSWORD_HASH (from make_password) skips hashing again, for bulk creation.
    A PASSWORD must pass the password validators (AccountError otherwise); None leaves the account
    without a usable password (it signs in once an administrator resets it)."""
    if role not in Role.values:
        raise AccountError(f"未知角色：{role}", "role")
    if role != Role.RESIDENT and role != Role.ADMIN and region is None and department is None:
        raise AccountError("工作人员账户必须有辖区范围或所属部门", "region")
    user = User(username=username, role=role, full_name=full_name, region=region, department=department, phone=phone)
    if password_hash:
        user.password = password_hash
    else:
        if password is not None:
            check_password(password, user)
        user.set_password(password)
    with translation.override(settings.LANGUAGE_CODE):
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise AccountError("；".join(messages), field) from exc
    user.save()
    return user


# --- errors ------------------------------------------------------------------------------------


class AccountError(ValueError):
    """Bad input for an account (the message is for the user, in Chinese); FIELD names the input."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


# --- passwords ---------------------------------------------------------------------------------


def password_problems(password: str, user: User | None = None) -> list[str]:
    """What AUTH_PASSWORD_VALIDATORS say about PASSWORD for USER, in Chinese (Django's zh-hans
    translations, active whatever language the caller runs in: a command, the worker, a test)."""
    if not password:
        return ["请填写密码"]
    with translation.override(settings.LANGUAGE_CODE):
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            return [str(m) for m in exc.messages]
    return []


def check_password(password: str, user: User | None = None, field: str = "password") -> None:
    problems = password_problems(password, user)
    if problems:
        raise AccountError("".join(p if p.endswith(("。", "！")) else p + "。" for p in problems), field)


# No 0/O, 1/l/I: a temporary password is read aloud or copied from paper.
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def temporary_password(user: User | None = None) -> str:
    """A random 12-character password that passes the validators (shown once, changed at first sign-in)."""
    while True:
        candidate = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(12))
        if (any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate)
                and not password_problems(candidate, user)):
            return candidate


def change_own_password(user: User, old: str, new: str, *, request=None) -> None:
    """The signed-in person changes their own password (also the forced change after a reset)."""
    if user.has_usable_password() and not user.check_password(old or ""):
        raise AccountError("原密码不正确", "old_password")
    if old and new == old:
        raise AccountError("新密码不能与原密码相同", "new_password")
    check_password(new, user, "new_password")
    user.set_password(new)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    audit(AuditEvent.Kind.PASSWORD_CHANGED, user=user, request=request)


# --- who may manage whom -----------------------------------------------------------------------


def may_manage_accounts(actor: User) -> bool:
    return can(actor, Action.MANAGE_ACCOUNTS)


def manageable_departments(actor: User) -> QuerySet[Department]:
    """Departments whose accounts ACTOR may manage and grant: those of the districts inside the
    actor's region (a district's administrator or above), and the actor's own department."""
    qs = Department.objects.select_related("district")
    if sees_everything(actor):
        return qs
    if not may_manage_accounts(actor):
        return qs.none()
    q = NOTHING
    if actor.region_id:
        q |= path_prefix_q("district__path", actor.region.path)
    if actor.department_id:
        q |= Q(pk=actor.department_id)
    return qs.filter(q)


def manageable_accounts(actor: User) -> QuerySet[User]:
    """Every account ACTOR may see and manage (see the module docstring)."""
    qs = User.objects.select_related("region", "department", "department__district")
    if not may_manage_accounts(actor):
        return qs.none()
    if not actor.is_superuser:
        qs = qs.exclude(is_superuser=True)
    if sees_everything(actor):
        return qs
    departments = manageable_departments(actor)
    in_region = path_prefix_q("region__path", actor.region.path) if actor.region_id else NOTHING
    return qs.filter(
        (in_region & (Q(department__isnull=True) | Q(department__in=departments)))
        | (Q(region__isnull=True) & Q(department__in=departments))
    )


def get_account_or_404(actor: User, pk, request=None) -> User:
    """The account PK if ACTOR may manage it; 404 (audited) otherwise, as if it did not exist."""
    require(actor, Action.MANAGE_ACCOUNTS, request)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("账户不存在") from None
    user = manageable_accounts(actor).filter(pk=pk).first()
    if user is None:
        if User.objects.filter(pk=pk).exists():
            audit_denial(actor, request, f"account {pk} outside scope")
        raise Http404("账户不存在")
    return user


def _region_allowed(actor: User, region: Region) -> bool:
    if sees_everything(actor):
        return True
    return bool(actor.region_id) and region.path.startswith(actor.region.path)


def resolve_region(actor: User, code: str) -> Region | None:
    """The territory node of CODE if ACTOR may grant it; AccountError otherwise (unknown and
    outside the scope read the same, so codes outside it cannot be probed)."""
    code = (code or "").strip()
    if not code:
        return None
    region = Region.objects.filter(code=code).first()
    if region is None or not _region_allowed(actor, region):
        raise AccountError(f"辖区代码“{code}”不存在或不在您的管理范围内", "region")
    return region


def resolve_department(actor: User, ref: str) -> Department | None:
    """A department written "区县代码/部门代码" (110101/chengguan), or the department code alone
    when it names one department among those ACTOR may grant; its id is accepted too."""
    ref = (ref or "").strip()
    if not ref:
        return None
    allowed = manageable_departments(actor)
    district, sep, code = ref.rpartition("/")
    if sep:
        found = list(allowed.filter(district__code=district.strip(), code=code.strip())[:2])
    else:
        found = list(allowed.filter(code=ref)[:2])
        if not found and ref.isdigit():
            found = list(allowed.filter(pk=int(ref))[:2])
    if len(found) > 1:
        raise AccountError(f"部门代码“{ref}”在多个区县都有，请写成“区县代码/部门代码”，如 {found[0].district.code}/{ref}",
                           "department")
    if not found:
        raise AccountError(f"部门“{ref}”不存在或不在您的管理范围内", "department")
    return found[0]


def department_ref(department: Department | None) -> str:
    return f"{department.district.code}/{department.code}" if department is not None else ""


def parse_role(text: str) -> str:
    """A role by its code (grid_worker) or its Chinese name (网格员)."""
    text = (text or "").strip()
    if text in Role.values:
        return text
    for value, label in Role.choices:
        if text == label:
            return value
    if not text:
        raise AccountError("请选择角色", "role")
    raise AccountError(f"未知角色“{text}”，应为：{'、'.join(label for _v, label in Role.choices)}", "role")


def check_grant(actor: User, role: str, region: Region | None, department: Department | None,
                target: User | None = None) -> None:
    """May ACTOR give an account ROLE with this scope? Only a role and scope ACTOR could hold:
    the scope inside the actor's own, a global administrator only from a global administrator."""
    if role not in Role.values:
        raise AccountError(f"未知角色“{role}”", "role")
    if region is not None and not _region_allowed(actor, region):
        raise AccountError(f"辖区代码“{region.code}”不存在或不在您的管理范围内", "region")
    if department is not None and not manageable_departments(actor).filter(pk=department.pk).exists():
        raise AccountError(f"部门“{department_ref(department)}”不存在或不在您的管理范围内", "department")
    if role == Role.RESIDENT:
        if region is not None or department is not None:
            raise AccountError("居民账户没有辖区范围和所属部门", "region")
        if not sees_everything(actor):
            raise AccountError("居民账户不属于任何辖区，只能由全局系统管理员管理", "role")
        return
    if region is None and department is None:
        if role != Role.ADMIN:
            raise AccountError("工作人员账户必须有辖区范围或所属部门", "region")
        if not sees_everything(actor):
            raise AccountError("不能授予全局系统管理员：请为管理员指定您辖区内的辖区范围", "region")
    if region is None and department is not None and not sees_everything(actor) and not actor.region_id:
        raise AccountError("您只能管理本部门的账户", "department")
    if target is not None and target.pk == actor.pk and (
            role != actor.role or region != actor.region or department != actor.department):
        raise AccountError("不能修改自己的角色、辖区范围或部门，请联系上级管理员", "role")


# --- account management ------------------------------------------------------------------------

_USERNAME = re.compile(r"^[\w.@+-]+$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def clean_phone(text: str, field: str = "phone") -> str:
    """A mainland mobile number (11 digits, "+86" and separators allowed), or ""."""
    text = (text or "").strip()
    if not text:
        return ""
    digits = privacy.phone_digits(text)
    if not _MOBILE.match(digits):
        raise AccountError("手机号应为 11 位手机号码，如 13812345678", field)
    return digits


def clean_username(text: str, *, exclude_pk=None) -> str:
    username = (text or "").strip()
    if not username:
        raise AccountError("请填写用户名", "username")
    if len(username) > 150:
        raise AccountError("用户名不能超过 150 个字符", "username")
    if not _USERNAME.match(username):
        raise AccountError("用户名只能包含字母、数字、汉字和 @ . + - _", "username")
    if User.objects.filter(username__iexact=username).exclude(pk=exclude_pk).exists():
        raise AccountError(f"用户名“{username}”已被使用", "username")
    return username


def clean_full_name(text: str) -> str:
    name = (text or "").strip()
    if len(name) > 50:
        raise AccountError("姓名不能超过 50 个字", "full_name")
    return name


@dataclass
class AccountInput:
    """What an administrator types for one account (a form, an API body, a sheet row)."""

    username: str = ""
    full_name: str = ""
    phone: str = ""
    role: str = ""
    region: str = ""  # a region code
    department: str = ""  # "区县代码/部门代码"
    password: str = ""  # empty: a temporary password is generated


def _scope_words(user: User) -> str:
    parts = [user.get_role_display()]
    if user.region_id:
        parts.append(f"{user.region.name}（{user.region.code}）")
    if user.department_id:
        parts.append(f"{user.department.district.name}{user.department.name}")
    return "，".join(parts)


def _audit_account(kind: str, actor: User, target: User, request, detail: str) -> None:
    path = target.region.path if target.region_id else (target.department.district.path if target.department_id else "")
    audit(kind, user=actor, request=request, detail=f"{target.username}：{detail}"[:500], region_path=path)


def validate_account(actor: User, data: AccountInput, *, target: User | None = None) -> dict:
    """Every check of DATA, as a dict of clean values; AccountError on the first problem."""
    values = {
        "full_name": clean_full_name(data.full_name),
        "phone": clean_phone(data.phone),
        "role": parse_role(data.role),
        "region": resolve_region(actor, data.region),
        "department": resolve_department(actor, data.department),
    }
    if target is None:
        values["username"] = clean_username(data.username)
    check_grant(actor, values["role"], values["region"], values["department"], target)
    return values


@transaction.atomic
def create_account(actor: User, data: AccountInput, *, request=None) -> tuple[User, str]:
    """ACTOR creates an account within their scope. Returns it and its first password — DATA's, or a
    generated temporary one — which the person must change at first sign-in."""
    require(actor, Action.MANAGE_ACCOUNTS, request)
    values = validate_account(actor, data)
    user = User(**values, must_change_password=True)
    password = data.password or temporary_password(user)
    if data.password:
        check_password(data.password, user)
    user.set_password(password)
    user.save()
    _audit_account(AuditEvent.Kind.ACCOUNT_CREATED, actor, user, request, _scope_words(user))
    return user, password


@transaction.atomic
def update_account(actor: User, target: User, data: AccountInput, *, request=None) -> User:
    """ACTOR changes TARGET's name, phone, role and scope (within ACTOR's scope)."""
    require(actor, Action.MANAGE_ACCOUNTS, request)
    values = validate_account(actor, data, target=target)
    before = _scope_words(target)
    old_phone = privacy.plain_of(target.phone)
    changes = []
    if values["full_name"] != target.full_name:
        changes.append(f"姓名 {target.full_name or '—'} → {values['full_name'] or '—'}")
    if values["phone"] != old_phone:
        changes.append("手机号已修改")
    for name, value in values.items():
        setattr(target, name, value)
    after = _scope_words(target)
    if after != before:
        changes.append(f"{before} → {after}")
    target.save()
    if changes:
        _audit_account(AuditEvent.Kind.ACCOUNT_CHANGED, actor, target, request, "；".join(changes))
    return target


def disable_account(actor: User, target: User, *, request=None) -> None:
    """Stop TARGET signing in: sessions end at their next request, API tokens stop working."""
    require(actor, Action.MANAGE_ACCOUNTS, request)
    if target.pk == actor.pk:
        raise AccountError("不能停用自己的账户")
    if not target.is_active:
        raise AccountError("该账户已是停用状态")
    target.is_active = False
    target.save(update_fields=["is_active"])
    _audit_account(AuditEvent.Kind.ACCOUNT_DISABLED, actor, target, request, "停用")


def enable_account(actor: User, target: User, *, request=None) -> None:
    require(actor, Action.MANAGE_ACCOUNTS, request)
    if target.is_active:
        raise AccountError("该账户已是启用状态")
    target.is_active = True
    target.save(update_fields=["is_active"])
    _audit_account(AuditEvent.Kind.ACCOUNT_ENABLED, actor, target, request, "重新启用")


def lockouts(usernames) -> set[str]:
    """Which of USERNAMES django-axes holds locked out now (from any address)."""
    from axes.models import AccessAttempt

    limit = settings.AXES_FAILURE_LIMIT
    since = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    return set(AccessAttempt.objects.filter(username__in=list(usernames), failures_since_start__gte=limit,
                                            attempt_time__gte=since).values_list("username", flat=True))


def locked_usernames_q() -> Q:
    from axes.models import AccessAttempt

    since = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    locked = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
                                          attempt_time__gte=since).values("username")
    return Q(username__in=locked)


def is_locked(user: User) -> bool:
    return bool(lockouts([user.username]))


def unlock_account(actor: User, target: User, *, request=None) -> int:
    """Lift django-axes' lockout of TARGET (every address); returns how many records were cleared."""
    from axes.utils import reset

    require(actor, Action.MANAGE_ACCOUNTS, request)
    cleared = reset(username=target.username)
    _audit_account(AuditEvent.Kind.ACCOUNT_UNLOCKED, actor, target, request, "解除登录锁定")
    return cleared


@transaction.atomic
def reset_password(actor: User, target: User, *, request=None) -> str:
    """Give TARGET a temporary password (returned, shown once) that must be changed at the next
    sign-in; the lockout is lifted and the sessions signed in with the old password end."""
    from axes.utils import reset

    require(actor, Action.MANAGE_ACCOUNTS, request)
    if target.pk == actor.pk:
        raise AccountError("请在“修改密码”页面修改自己的密码")
    password = temporary_password(target)
    target.set_password(password)
    target.must_change_password = True
    target.save(update_fields=["password", "must_change_password"])
    reset(username=target.username)
    _audit_account(AuditEvent.Kind.PASSWORD_RESET, actor, target, request, "重置为临时密码，须在下次登录时修改")
    return password


def audit_events(actor: User) -> QuerySet[AuditEvent]:
    """The audit log an administrator reads: everything for a global one; for a scoped one the events
    of records inside their territory and the events of (or by) the accounts they manage."""
    events = AuditEvent.objects.all()
    if sees_everything(actor):
        return events
    managed = manageable_accounts(actor).values("pk")
    q = Q(user__in=managed)
    if actor.region_id:
        q |= path_prefix_q("region_path", actor.region.path)
    return events.filter(q)


def account_list(actor: User, *, q: str = "", role: str = "", status: str = "", locked: bool = False) -> QuerySet[User]:
    """The accounts ACTOR manages, filtered: Q matches username, name or the whole phone number."""
    users = manageable_accounts(actor).order_by("role", "username")
    q = (q or "").strip()
    if q:
        match = Q(username__icontains=q) | Q(full_name__icontains=q)
        digits = privacy.phone_digits(q)
        if len(digits) == 11:
            match |= Q(phone_digest__in=privacy.digests("phone", digits))
        users = users.filter(match)
    if role in Role.values:
        users = users.filter(role=role)
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "disabled":
        users = users.filter(is_active=False)
    elif status == "must_change":
        users = users.filter(must_change_password=True)
    if locked:
        users = users.filter(locked_usernames_q())
    return users


# --- residents: SMS codes, registration and sign-in --------------------------------------------


class CodeRefused(AccountError):
    """A code could not be sent or was not accepted (the message is for the user)."""


def _code_hash(phone_digest: str, purpose: str, code: str) -> str:
    key = hashlib.sha256(f"phone-code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{phone_digest}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _resident_of(digits: str) -> User | None:
    return User.objects.filter(phone_digest__in=privacy.digests("phone", digits), role=Role.RESIDENT).first()


def send_code(phone: str, purpose: str, *, request=None) -> None:
    """Text a one-time code to PHONE for PURPOSE (register / login). Limited per phone and per
    address (RATE_LIMIT_SMS_PHONE, RATE_LIMIT_SMS_ADDRESS) and at most one every
    SMS_RESEND_SECONDS. A phone without an account is told so only when it asks to register."""
    from grassroots.lib import ratelimit, sms

    digits = clean_phone(phone)
    if not digits:
        raise CodeRefused("请填写手机号", "phone")
    if purpose not in PhoneCode.Purpose.values:
        raise CodeRefused("未知的验证码用途", "phone")
    existing = _resident_of(digits)
    if purpose == PhoneCode.Purpose.REGISTER and existing is not None:
        raise CodeRefused("该手机号已注册，请直接用短信验证码登录", "phone")
    if purpose == PhoneCode.Purpose.LOGIN and existing is None:
        raise CodeRefused("该手机号还没有注册居民账户，请先注册", "phone")
    digest = privacy.digest("phone", digits)
    now = timezone.now()
    last = PhoneCode.objects.filter(phone_digest=digest, purpose=purpose).first()
    wait = settings.SMS_RESEND_SECONDS
    if last is not None and (now - last.created_at).total_seconds() < wait:
        left = wait - int((now - last.created_at).total_seconds())
        raise CodeRefused(f"验证码已发送，请 {left} 秒后再重新获取", "phone")
    # lib.ratelimit's public entry point: per phone (its digest), then per caller (the client address).
    for bucket, who, setting in (("sms-phone", digest, "RATE_LIMIT_SMS_PHONE"),
                                 ("sms-address", None, "RATE_LIMIT_SMS_ADDRESS")):
        if request is None:
            verdict = ratelimit.hit(bucket, who or "console", ratelimit.rate(setting))
        else:
            verdict = ratelimit.check(request, bucket, setting, who=who)
        if not verdict.allowed:
            minutes = max(1, -(-verdict.retry_after // 60))
            raise CodeRefused(f"获取验证码过于频繁，请 {minutes} 分钟后再试", "phone")
    code = f"{secrets.randbelow(1_000_000):06d}"
    PhoneCode.objects.filter(phone_digest=digest, purpose=purpose, used_at__isnull=True).update(used_at=now)
    PhoneCode.objects.create(phone_digest=digest, purpose=purpose, code_hash=_code_hash(digest, purpose, code),
                             expires_at=now + timedelta(minutes=settings.SMS_CODE_MINUTES))
    words = "注册" if purpose == PhoneCode.Purpose.REGISTER else "登录"
    try:
        sms.send(digits, f"【基层治理平台】您的{words}验证码是 {code}，{settings.SMS_CODE_MINUTES} 分钟内有效。"
                         "请勿告诉他人。")
    except sms.SmsFailed as exc:
        raise CodeRefused(str(exc), "phone") from exc


def check_code(phone: str, purpose: str, code: str, *, request=None) -> str:
    """Accept CODE for PHONE once: the latest unused, unexpired code, at most SMS_CODE_ATTEMPTS
    tries. Returns the phone's digits; CodeRefused otherwise (each failure audited)."""
    digits = clean_phone(phone)
    code = (code or "").strip()
    if not digits:
        raise CodeRefused("请填写手机号", "phone")
    if not re.fullmatch(r"\d{6}", code):
        raise CodeRefused("验证码应为 6 位数字", "code")
    digest = privacy.digest("phone", digits)
    now = timezone.now()
    refusal = None
    with transaction.atomic():  # the failed attempt is counted even though the caller is refused
        record = (PhoneCode.objects.select_for_update()
                  .filter(phone_digest=digest, purpose=purpose, used_at__isnull=True).first())
        if record is None:
            refusal = "请先获取验证码"
        elif record.expires_at <= now:
            refusal = "验证码已过期，请重新获取"
        elif record.attempts >= settings.SMS_CODE_ATTEMPTS:
            refusal = "验证码错误次数过多，请重新获取"
        elif not hmac.compare_digest(record.code_hash, _code_hash(digest, purpose, code)):
            record.attempts += 1
            record.save(update_fields=["attempts"])
            left = settings.SMS_CODE_ATTEMPTS - record.attempts
            audit(AuditEvent.Kind.SMS_FAILED, request=request, detail=f"{privacy.mask_phone(digits)} {purpose}")
            refusal = f"验证码不正确，还可以再试 {left} 次" if left > 0 else "验证码错误次数过多，请重新获取"
        else:
            record.used_at = now
            record.save(update_fields=["used_at"])
    if refusal:
        raise CodeRefused(refusal, "code")
    return digits


def register_resident(phone: str, code: str, full_name: str = "", *, request=None) -> User:
    """A resident registers with their phone and its SMS code. The account holds the phone sealed
    and its digest, which is how 我的信息 (/me/) finds their records; it has no password (the
    resident signs in with a code) until they set one."""
    name = clean_full_name(full_name)
    digits = check_code(phone, PhoneCode.Purpose.REGISTER, code, request=request)  # counts a failure: not atomic
    if _resident_of(digits) is not None:
        raise CodeRefused("该手机号已注册，请直接用短信验证码登录", "phone")
    while True:
        username = "r" + secrets.token_hex(5)
        if not User.objects.filter(username=username).exists():
            break
    user = User(username=username, role=Role.RESIDENT, full_name=name, phone=digits)
    user.set_unusable_password()
    user.save()
    audit(AuditEvent.Kind.RESIDENT_REGISTERED, user=user, request=request, detail=privacy.mask_phone(digits))
    return user


def resident_by_code(phone: str, code: str, *, request=None) -> User:
    """The resident account of PHONE, once its SMS code is accepted; disabled accounts are refused."""
    digits = check_code(phone, PhoneCode.Purpose.LOGIN, code, request=request)
    user = _resident_of(digits)
    if user is None:
        raise CodeRefused("该手机号还没有注册居民账户，请先注册", "phone")
    if not user.is_active:
        raise CodeRefused("该账户已停用", "phone")
    audit(AuditEvent.Kind.SMS_LOGIN, user=user, request=request, detail=privacy.mask_phone(digits))
    return user
