"""Small fixed-window rate limits for the public reads (tracking page, Open311), in Django's cache.

Why: a tracking code (查询码) is the only key to a case's public timeline, and the Open311
reads are open to anyone. Without a limit a script could guess codes or copy the whole
public record. The limits are per client address and per time window:

    RATE_LIMIT_TRACK    lookups on /track/                       (default "30/m")
    RATE_LIMIT_OPEN311  Open311 GET requests, requests/{id}, tokens/{token} ("60/m")
    RATE_LIMIT_MISS     failed look-ups of a tracking code or a request id, on both
                        together ("20/h") — guessing is the threat, so misses have their
                        own, much stricter bucket, and once it is spent every lookup from
                        that address is refused (a correct guess must not shine through).

A rate is "COUNT/PERIOD" with PERIOD one of s, m, h, d, optionally with a multiplier
("10/5m" = 10 per five minutes). An empty value, "0" or "off" switches that limit off.

How: one counter per (bucket, client, window) in the cache named by RATE_LIMIT_CACHE
("ratelimit", see settings). `cache.add` then `cache.incr` is atomic on Redis, Memcached and
the database cache, and per process on the in-memory cache. A fixed window lets a client
spend up to twice the rate across a window boundary; for guessing 40-bit codes that is
irrelevant, and it keeps each request to one cache round trip.

Which client: REMOTE_ADDR. Only when the deployment says how many reverse proxies it runs
(TRUSTED_PROXY_COUNT, from the PROXY_COUNT environment variable, the same one django-axes
reads) is X-Forwarded-For used: the address the outermost trusted proxy saw, counted from
the right, because anything further left is whatever the client chose to send. IPv6
clients are counted per /64, the block one subscriber usually holds.

The default cache is in process memory: each web process counts on its own. That is
enough for the single-process demo and a small deployment; with several processes or
servers point RATE_LIMIT_CACHE_URL at Redis or at the database (see settings.py).
"""

import hashlib
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    period: int  # seconds

    @classmethod
    def parse(cls, text: str | None) -> "Rate | None":
        """ "30/m" → Rate(30, 60); "10/5m" → Rate(10, 300); "", "0", "off" → None (no limit)."""
        value = (text or "").strip().lower()
        if value in ("", "0", "off", "none"):
            return None
        match = _RATE.match(value)
        if not match:
            raise ValueError(f"限流设置“{text}”应为“次数/周期”，如 30/m、10/5m、100/h")
        count, multiplier, unit = int(match[1]), int(match[2] or 1), match[3]
        if count == 0 or multiplier == 0:
            return None
        return cls(count, multiplier * UNITS[unit])


def rate(setting: str) -> Rate | None:
    """The rate configured under SETTING (read on every call, so settings overrides take effect)."""
    return Rate.parse(getattr(settings, setting, ""))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int = 0
    retry_after: int = 0  # seconds until the window ends (when refused)


ALLOW = Verdict(True)


def client_key(request) -> str:
    """The address to count REQUEST against (see the module docstring)."""
    addr = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            addr = forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _clock() -> float:
    return time.time()


def _cache():
    return caches[getattr(settings, "RATE_LIMIT_CACHE", "default")]


def _slot(bucket: str, who: str, limit: Rate, now: float) -> tuple[str, int]:
    window = int(now // limit.period)
    digest = hashlib.blake2s(who.encode(), digest_size=12).hexdigest()  # any backend accepts the key
    retry = max(1, math.ceil((window + 1) * limit.period - now))
    return f"rl:{bucket}:{limit.period}:{window}:{digest}", retry


def hit(bucket: str, who: str, limit: Rate | None, *, now: float | None = None) -> Verdict:
    """Count one request of WHO in BUCKET; refused once the count passes the limit."""
    if limit is None:
        return ALLOW
    now = _clock() if now is None else now
    key, retry = _slot(bucket, who, limit, now)
    cache = _cache()
    cache.add(key, 0, timeout=limit.period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=limit.period + 1)
        count = 1
    return Verdict(count <= limit.count, count, retry if count > limit.count else 0)


def peek(bucket: str, who: str, limit: Rate | None, *, now: float | None = None) -> Verdict:
    """Is BUCKET already spent for WHO? Counts nothing."""
    if limit is None:
        return ALLOW
    now = _clock() if now is None else now
    key, retry = _slot(bucket, who, limit, now)
    count = _cache().get(key, 0)
    return Verdict(count < limit.count, count, retry if count >= limit.count else 0)


def check(request, bucket: str, setting: str, *, who: str | None = None) -> Verdict:
    """Count REQUEST in BUCKET under the rate of SETTING, and make sure the shared miss bucket
    (RATE_LIMIT_MISS) is not spent. The first refusal found is returned."""
    who = who or client_key(request)
    verdict = hit(bucket, who, rate(setting))
    if not verdict.allowed:
        return verdict
    return peek("miss", client_key(request), rate("RATE_LIMIT_MISS"))


def miss(request) -> None:
    """Record a failed lookup (a tracking code or request id that does not exist) for REQUEST's client."""
    hit("miss", client_key(request), rate("RATE_LIMIT_MISS"))


def message(verdict: Verdict) -> str:
    wait = verdict.retry_after
    when = f"{wait} 秒" if wait < 120 else f"{math.ceil(wait / 60)} 分钟"
    return f"查询过于频繁，请 {when}后再试"
