"""Account endpoints (账户): who am I, and my API tokens.

Tokens are created only from a signed-in browser session (with CSRF), never with another
token: a leaked token must not be able to mint fresh ones that outlive its revocation.
"""

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Router, Status

from grassroots.accounts import services
from grassroots.accounts.permissions import can, scope_root, sees_everything
from grassroots.accounts.roles import Action, Role
from grassroots.api.auth import session_auth
from grassroots.api.errors import Invalid
from grassroots.api.params import id_path
from grassroots.api.schemas import ERRORS, MeOut, NewTokenOut, TokenIn, TokenOut

router = Router(tags=["账户"])


@router.get("/me", response={200: MeOut, **ERRORS}, summary="当前用户")
def me(request: HttpRequest):
    """调用者本人：角色、辖区范围、所属部门和角色允许的操作。手机号已脱敏。"""
    user = request.user
    root = scope_root(user)
    department = user.department if user.department_id else None
    return {
        "username": user.username,
        "full_name": user.full_name,
        "phone": str(user.phone),  # lib.privacy: a sealed phone reads as its mask
        "role": {"code": user.role, "label": Role(user.role).label},
        "scope": (
            {"code": root.code, "name": root.name, "level": root.level, "level_label": root.level_label}
            if root is not None
            else None
        ),
        "sees_everything": sees_everything(user),
        "department": (
            {"code": department.code, "name": department.name, "district_code": department.district.code}
            if department is not None
            else None
        ),
        "actions": [{"code": a.value, "label": a.label} for a in Action if can(user, a)],
    }


def _token_row(token, raw: str | None = None) -> dict:
    now = timezone.now()
    row = {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "active": token.revoked_at is None and (token.expires_at is None or token.expires_at > now),
    }
    if raw is not None:
        row["token"] = raw
    return row


@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, summary="我的接口令牌")
def list_tokens(request: HttpRequest):
    """调用者本人的接口令牌（含已吊销、已过期的），不含令牌本身。"""
    return [_token_row(t) for t in request.user.api_tokens.order_by("-created_at")]


@router.post(
    "/tokens",
    auth=[session_auth],
    response={201: NewTokenOut, **ERRORS},
    summary="创建接口令牌（仅限浏览器会话）",
)
def create_token(request: HttpRequest, payload: TokenIn):
    """为调用者本人创建接口令牌。完整令牌只在此次响应中返回一次。

    只能在已登录的浏览器会话中调用，并须在请求头 X-CSRFToken 中提供 csrftoken；不能用接口令牌创建新令牌。
    """
    try:
        token, raw = services.create_api_token(request.user, payload.name, days=payload.days, request=request)
    except ValueError as exc:
        raise Invalid("name", str(exc)) from exc
    return Status(201, _token_row(token, raw))


@router.delete("/tokens/{int:token_id}", response={204: None, **ERRORS}, summary="吊销接口令牌")
def revoke_token(request: HttpRequest, token_id: int = id_path("令牌编号")):
    """吊销调用者本人的一个令牌，立即生效。令牌不存在、不属于调用者或已吊销时返回 404。"""
    if not services.revoke_api_token(request.user, token_id, request=request):
        raise Http404("令牌不存在或已吊销")
    return Status(204, None)
