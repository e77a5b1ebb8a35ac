"""Account management (账户管理): administrators manage the accounts inside their own scope.

The rules are accounts.services' (the same as the 账户 pages): an account outside the caller's
scope is answered 404 as if it did not exist; a role or scope the caller could not hold is refused
with 422 naming the field. A first password or a reset returns the temporary password once.
"""

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from grassroots.accounts import services
from grassroots.accounts.permissions import require
from grassroots.accounts.roles import Action, Role
from grassroots.api.params import PageIn, id_path, page_of
from grassroots.api.schemas import ERRORS, ValidationErrorOut
from grassroots.lib import privacy

router = Router(tags=["账户管理"])


class LabelOut(Schema):
    code: str = Field(description="代码")
    label: str = Field(description="中文名称")


class AccountOut(Schema):
    id: int = Field(description="账户编号")
    username: str = Field(description="用户名")
    full_name: str = Field(description="姓名")
    phone: str = Field(description="手机号（已脱敏，如 138****1234）；未登记时为空字符串")
    role: LabelOut = Field(description="角色")
    region: str | None = Field(description="辖区范围的区划或网格代码；无时为 null")
    region_name: str | None = Field(description="辖区范围名称")
    department: str | None = Field(description="所属部门，“区县代码/部门代码”；无时为 null")
    department_name: str | None = Field(description="所属部门名称")
    active: bool = Field(description="是否启用（停用的账户不能登录，接口令牌失效）")
    locked: bool = Field(description="是否因连续登录失败被暂时锁定")
    must_change_password: bool = Field(description="下次登录时是否必须修改密码")
    last_login: str | None = Field(description="最近登录时间（ISO 8601）")


class AccountPageOut(Schema):
    items: list[AccountOut] = Field(description="本页账户")
    count: int = Field(description="符合条件的账户总数（仅限调用者管理范围内）")


class AccountListIn(PageIn):
    q: str = Field("", max_length=50, description="用户名、姓名包含该文字，或完整的 11 位手机号")
    role: Role | None = Field(None, description="只列出该角色")
    status: str = Field("", pattern="^(|active|disabled|must_change)$",
                        description="active 启用 / disabled 停用 / must_change 待修改密码；空为全部")
    locked: bool = Field(False, description="只列出登录锁定的账户")


class AccountIn(Schema):
    username: str = Field(min_length=1, max_length=150, description="用户名（字母、数字、汉字和 @ . + - _）")
    full_name: str = Field("", max_length=50, description="姓名")
    phone: str = Field("", max_length=20, description="11 位手机号码，保存时加密")
    role: str = Field(description="角色代码（如 grid_worker）或中文名（如 网格员）")
    region: str = Field("", max_length=20, description="辖区范围的区划或网格代码，须在调用者的管理范围内")
    department: str = Field("", max_length=60, description="所属部门，“区县代码/部门代码”，如 110101/chengguan")
    password: str = Field("", max_length=128,
                          description="初始密码；不填则生成临时密码。无论哪种，首次登录时都必须修改")


class AccountPatch(Schema):
    full_name: str | None = Field(None, max_length=50, description="姓名")
    phone: str | None = Field(None, max_length=20, description="11 位手机号码；空字符串表示删除")
    role: str | None = Field(None, description="角色代码或中文名")
    region: str | None = Field(None, max_length=20, description="辖区代码；空字符串表示无")
    department: str | None = Field(None, max_length=60, description="“区县代码/部门代码”；空字符串表示无")


class NewAccountOut(AccountOut):
    password: str = Field(description="初始或临时密码，只在此次响应中返回一次；首次登录时必须修改")


class PasswordOut(Schema):
    account: AccountOut
    password: str = Field(description="临时密码，只在此次响应中返回一次；下次登录时必须修改")


def _row(user, locked: set[str] | None = None) -> dict:
    locked = services.lockouts([user.username]) if locked is None else locked
    return {
        "id": user.pk, "username": user.username, "full_name": user.full_name, "phone": str(user.phone),
        "role": {"code": user.role, "label": Role(user.role).label},
        "region": user.region.code if user.region_id else None,
        "region_name": user.region.name if user.region_id else None,
        "department": services.department_ref(user.department) or None,
        "department_name": user.department.name if user.department_id else None,
        "active": user.is_active, "locked": user.username in locked,
        "must_change_password": user.must_change_password,
        "last_login": user.last_login.isoformat() if user.last_login else None,
    }


def _invalid(exc: services.AccountError):
    field = exc.field or ""
    return Status(422, {"detail": exc.message, "errors": [{"field": field, "message": exc.message}]})


ACCOUNT_ERRORS = {**ERRORS, 422: ValidationErrorOut}


@router.get("/accounts/users", response={200: AccountPageOut, **ERRORS}, summary="列出账户")
def list_accounts(request: HttpRequest, filters: Query[AccountListIn]):
    """调用者管理范围内的账户（系统管理员）：街道管理员只看到本街道各社区、网格的账户。"""
    require(request.user, Action.MANAGE_ACCOUNTS, request)
    qs = services.account_list(request.user, q=filters.q, role=filters.role or "", status=filters.status,
                               locked=filters.locked)
    page = list(page_of(qs, filters))  # AccountListIn is a PageIn: the shared, bounded limit/offset
    locked = services.lockouts(u.username for u in page)
    return {"items": [_row(u, locked) for u in page], "count": qs.count()}


@router.post("/accounts/users", response={201: NewAccountOut, **ACCOUNT_ERRORS}, summary="创建账户")
def create_account(request: HttpRequest, payload: AccountIn):
    """在调用者的管理范围内创建账户。不能授予调用者自己不能拥有的角色或范围。响应中的密码只返回一次。"""
    data = services.AccountInput(**payload.dict())
    try:
        user, password = services.create_account(request.user, data, request=request)
    except services.AccountError as exc:
        return _invalid(exc)
    return Status(201, {**_row(user, set()), "password": password})


@router.get("/accounts/users/{int:user_id}", response={200: AccountOut, **ERRORS}, summary="查看账户")
def get_account(request: HttpRequest, user_id: int = id_path("账户编号")):
    """管理范围之外的账户与不存在的账户一样返回 404。"""
    return _row(services.get_account_or_404(request.user, user_id, request))


@router.patch("/accounts/users/{int:user_id}", response={200: AccountOut, **ACCOUNT_ERRORS}, summary="修改账户")
def update_account(request: HttpRequest, payload: AccountPatch, user_id: int = id_path("账户编号")):
    """修改姓名、手机号、角色、辖区范围或部门；未提供的字段保持不变。"""
    user = services.get_account_or_404(request.user, user_id, request)
    given = payload.dict(exclude_unset=True)
    current = services.AccountInput(
        full_name=user.full_name, phone=privacy.plain_of(user.phone), role=user.role,
        region=user.region.code if user.region_id else "", department=services.department_ref(user.department))
    for name, value in given.items():
        setattr(current, name, value or "")
    try:
        services.update_account(request.user, user, current, request=request)
    except services.AccountError as exc:
        return _invalid(exc)
    return _row(user)


def _act(request, user_id: int, action):
    user = services.get_account_or_404(request.user, user_id, request)
    try:
        action(request.user, user, request=request)
    except services.AccountError as exc:
        return _invalid(exc)
    user.refresh_from_db()
    return _row(user)


@router.post("/accounts/users/{int:user_id}/disable", response={200: AccountOut, **ACCOUNT_ERRORS},
             summary="停用账户")
def disable_account(request: HttpRequest, user_id: int = id_path("账户编号")):
    """停用后不能再登录，已登录的会话在下次请求时结束，接口令牌立即失效。"""
    return _act(request, user_id, services.disable_account)


@router.post("/accounts/users/{int:user_id}/enable", response={200: AccountOut, **ACCOUNT_ERRORS},
             summary="重新启用账户")
def enable_account(request: HttpRequest, user_id: int = id_path("账户编号")):
    return _act(request, user_id, services.enable_account)


@router.post("/accounts/users/{int:user_id}/unlock", response={200: AccountOut, **ACCOUNT_ERRORS},
             summary="解除登录锁定")
def unlock_account(request: HttpRequest, user_id: int = id_path("账户编号")):
    """清除该用户名在所有地址上的连续登录失败记录。"""
    return _act(request, user_id, services.unlock_account)


@router.post("/accounts/users/{int:user_id}/reset-password", response={200: PasswordOut, **ACCOUNT_ERRORS},
             summary="重置密码")
def reset_password(request: HttpRequest, user_id: int = id_path("账户编号")):
    """设置临时密码（只在此次响应中返回一次），对方下次登录时必须修改；同时解除登录锁定。"""
    user = services.get_account_or_404(request.user, user_id, request)
    try:
        password = services.reset_password(request.user, user, request=request)
    except services.AccountError as exc:
        return _invalid(exc)
    return {"account": _row(user), "password": password}
