"""How an API caller proves who they are: a per-user Bearer token, or the browser session.

Scripts and other systems use `Authorization: Bearer gr_…` (tokens are created on the
profile page or with POST /api/tokens). The web pages' own JavaScript and the /api/docs
page use the session cookie; because a cookie is sent by the browser on its own, unsafe
methods through the session must carry the CSRF token, exactly as a form post does.

Either way, request.user is the caller afterwards, so accounts.permissions works the
same for API calls as for pages; and the role must allow api.use.
"""

from django.http import HttpRequest
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth as NinjaSessionAuth

from grassroots.accounts.models import AuditEvent, User
from grassroots.accounts.permissions import audit, require
from grassroots.accounts.roles import Action
from grassroots.accounts.services import TOKEN_PREFIX, user_for_token
from grassroots.lib import ratelimit

BAD_TOKEN_MESSAGE = "接口令牌无效、已吊销或已过期"
BAD_SCHEME_MESSAGE = "请求头 Authorization 应为“Bearer 令牌”的形式"
CSRF_MESSAGE = "CSRF 校验失败：通过浏览器会话调用接口时，请在请求头 X-CSRFToken 中提供 csrftoken"


def _token_hint(raw: str) -> str:
    """What of a presented token may go into the audit log: the public prefix, never the secret."""
    if raw.startswith(TOKEN_PREFIX):
        return raw[len(TOKEN_PREFIX) :][:8] + "…"
    return "（格式不符）"


def _allow(request: HttpRequest, user: User) -> User:
    """Make USER the caller of this request and check that the role may use the API at all."""
    request.user = user
    require(user, Action.USE_API, request)
    return user


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`.

    A request that presents a token is judged by the token alone: a bad one is refused
    at once (401, audited) rather than falling back to the session, so a script with a
    revoked token fails loudly instead of working by accident in a logged-in browser.
    Bad tokens count against the client address (RATE_LIMIT_BAD_TOKEN, lib/ratelimit.py);
    past that limit tokens from there get 429 before they are looked up.
    """

    def __call__(self, request: HttpRequest) -> User | None:
        header = request.headers.get(self.header)
        if not header:
            return None  # no token offered: let the session try
        scheme, _, raw = header.strip().partition(" ")
        if scheme.lower() != self.openapi_scheme:
            audit(AuditEvent.Kind.API_AUTH_FAILED, request=request, detail=f"unsupported scheme {scheme[:20]}")
            raise AuthenticationError(401, BAD_SCHEME_MESSAGE)
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        ratelimit.guard_token(request, token)  # 429 before any lookup once this address failed too often
        user = user_for_token(token)
        ratelimit.token_result(request, token, user is not None)
        if user is None:
            audit(AuditEvent.Kind.API_AUTH_FAILED, request=request, detail=f"token {_token_hint(token)}")
            raise AuthenticationError(401, BAD_TOKEN_MESSAGE)
        return _allow(request, user)


class SessionAuth(NinjaSessionAuth):
    """The Django session (ninja's django_auth), with CSRF enforced for unsafe methods.

    CSRF is checked only once we know there is a signed-in session: an anonymous call
    should hear "please authenticate" (401), not a confusing CSRF refusal.
    """

    def __call__(self, request: HttpRequest) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        try:
            self._get_key(request)  # runs ninja's CSRF check unless the operation is exempt
        except HttpError as exc:
            raise HttpError(403, CSRF_MESSAGE) from exc
        return _allow(request, user)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:  # pragma: no cover
        return None  # __call__ does the work; kept because the base class requires it


token_auth = TokenAuth()
session_auth = SessionAuth()

# Token first: when both are present the explicit credential decides.
ANY_AUTH = [token_auth, session_auth]
