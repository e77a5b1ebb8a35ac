"""Which address a request came from, behind our own reverse proxies: one answer for the rate
limits (lib/ratelimit.py), the login lockout (django-axes, AXES_CLIENT_IP_CALLABLE) and the
audit log (accounts.permissions.audit).

PROXY_COUNT (setting and environment variable, default 0) says how many reverse proxies of
our own stand in front of the platform. With 0, X-Forwarded-For is ignored: anyone can write
anything there, so the address is REMOTE_ADDR. With N > 0, each proxy appends the address it
saw to X-Forwarded-For, so the client's real address is the N-th entry counted from the right
(the one our outermost proxy wrote); entries further left are whatever the client sent and are
never believed. When the header has fewer entries than N (a request that came in through an
inner proxy only) its leftmost entry is the one our first proxy wrote, and that is used.
Anything that is not an IP address falls back to REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings


def _valid(text: str) -> str | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "198.51.100.7:51234"
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def proxy_count() -> int:
    return max(0, int(getattr(settings, "PROXY_COUNT", 0) or 0))


def client_ip(request) -> str | None:
    """The client's address (see the module docstring), or None without a request or address."""
    if request is None:
        return None
    meta = request.META
    remote = _valid(meta.get("REMOTE_ADDR", "") or "")
    proxies = proxy_count()
    if proxies:
        forwarded = [part for part in (meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",") if part.strip()]
        if forwarded:
            chosen = forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
            return _valid(chosen) or remote
    return remote
