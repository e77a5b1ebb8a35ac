"""Rate limits that hold across processes and servers: fixed windows counted in a shared store.

Why: a tracking code (查询码) is the only key to a case's public timeline, the Open311 reads
are open to anyone, and an API token can be guessed like a password. Without limits a script
could guess codes, copy the public record, or try tokens; with limits counted per web process
(as before 2026-12) four gunicorn workers let four times the limit through.

The interface (every caller uses only these)
--------------------------------------------
    check(request, name, setting, *, who=None, misses=False) -> Verdict
        Count one request in bucket NAME under the rate in SETTING ("30/m"…) for the caller
        (WHO, or caller(request)). With MISSES, also refuse while the caller's misses of NAME
        are spent (see miss()). verdict.allowed False: answer 429 with Retry-After =
        verdict.retry_after and message(verdict) as the Chinese explanation.
    enforce(request, name, setting, *, who=None, misses=False, what="请求")
        check(), raising Throttled instead of returning a refusal. The middleware
        (lib/middleware.py), the API and Open311 turn Throttled into a 429 in their format.
    miss(request, name, *, who=None)
        Record a failed lookup (a tracking code or request id that does not exist) in NAME's
        miss bucket (RATE_LIMIT_MISS): once spent, check(..., misses=True) refuses that caller
        in that family only — even a right guess must not shine through — until the window ends.
    guard_token(request, raw) / token_result(request, raw, ok)
        Bad-token throttling for Bearer tokens and Open311 api_keys (RATE_LIMIT_BAD_TOKEN),
        counted per client address, checked before the token is looked up.
    hit(name, who, limit) / peek(name, who, limit) for callers with their own Rate.
Count outside transaction.atomic(): in the database store a rolled-back transaction takes
its counts with it.

Who is counted (caller()): a valid API key per key, a signed-in user per account, and only
anonymous callers per client address (lib/net.client_ip, IPv6 per /64, the block one
subscriber usually holds). So anonymous misses from an office's shared address never lock
out the staff signed in behind it, nor their keys.

Settings (see settings.py)
--------------------------
    RATE_LIMIT_TRACK      lookups on /track/ per caller                       (default "30/m")
    RATE_LIMIT_OPEN311    Open311 reads (GET requests, requests/{id}, tokens/{token}) ("60/m")
    RATE_LIMIT_MISS       failed lookups per caller and family (track, open311) ("20/10m")
    RATE_LIMIT_BAD_TOKEN  invalid, revoked or expired tokens per client address ("20/10m")
    RATE_LIMIT_REDIS_URL  count in Redis (redis://host:6379/2) instead of the database
    PROXY_COUNT           reverse proxies of our own in front (lib/net.py)

A rate is "COUNT/PERIOD" with PERIOD one of s, m, h, d, optionally with a multiplier
("10/5m" = 10 per five minutes). An empty value, "0" or "off" switches that limit off.

The stores. By default the database: one RateCounter row per (bucket, window), incremented
with a single INSERT … ON CONFLICT DO UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35), which
the database applies atomically, so concurrent processes never lose a count; `grassroots
worker` deletes ended windows every ten minutes. With RATE_LIMIT_REDIS_URL: INCR and EXPIRE
in one MULTI/EXEC pipeline; keys expire on their own. If Redis cannot be reached the database
counts instead (logged), so an outage of Redis neither opens nor closes the doors.

Fixed windows let a client spend up to twice the rate across a window boundary; for guessing
40-bit codes or 256-bit tokens that is irrelevant, and it keeps each request to one round trip.
No address or account is stored in clear: the bucket holds a keyed digest of the caller.
"""

import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from grassroots.lib.net import client_ip

log = logging.getLogger(__name__)

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


class Throttled(Exception):
    """A refusal for being over a limit: 429 with Retry-After, in the caller's format."""

    def __init__(self, verdict: Verdict, message: str):
        super().__init__(message)
        self.verdict = verdict
        self.message = message
        self.retry_after = verdict.retry_after


# --- who is counted ----------------------------------------------------------------------


def client_key(request) -> str:
    """The address to count an anonymous REQUEST against: lib/net.client_ip, IPv6 per /64."""
    import ipaddress

    addr = client_ip(request) or ""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def key_caller(raw_key: str) -> str:
    """The caller name of a valid API key (a digest: the key itself never reaches the store)."""
    return "key:" + hashlib.sha256(raw_key.encode()).hexdigest()[:32]


def caller(request) -> str:
    """Whom REQUEST counts against: the signed-in user, else the client address. (A valid API
    key is named by its caller, key_caller(raw), passed as WHO.)"""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "ip:" + client_key(request)


# --- the stores --------------------------------------------------------------------------


class DatabaseStore:
    """lib.RateCounter rows; one atomic upsert per hit."""

    name = "database"

    def incr(self, bucket: str, window_start: int, expires_at: int, ttl: int) -> int:
        from grassroots.lib.models import RateCounter

        table = connection.ops.quote_name(RateCounter._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (bucket, window_start, expires_at, hits) VALUES (%s, %s, %s, 1) "
                f"ON CONFLICT (bucket, window_start) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
                [bucket, window_start, expires_at],
            )
            return int(cursor.fetchone()[0])

    def get(self, bucket: str, window_start: int) -> int:
        from grassroots.lib.models import RateCounter

        found = RateCounter.objects.filter(bucket=bucket, window_start=window_start).values_list("hits", flat=True)
        return int(next(iter(found), 0))

    def purge(self, now: float) -> int:
        from grassroots.lib.models import RateCounter

        deleted, _ = RateCounter.objects.filter(expires_at__lt=int(now)).delete()
        return deleted


class RedisStore:
    """INCR + EXPIRE in one MULTI/EXEC; keys expire with their window."""

    name = "redis"
    _clients: dict[str, object] = {}
    _lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url

    def _client(self):
        with self._lock:
            client = self._clients.get(self.url)
            if client is None:
                import redis

                client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
                self._clients[self.url] = client
            return client

    @staticmethod
    def _key(bucket: str, window_start: int) -> str:
        return f"grassroots:rl:{bucket}:{window_start}"

    def incr(self, bucket: str, window_start: int, expires_at: int, ttl: int) -> int:
        key = self._key(bucket, window_start)
        pipe = self._client().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, ttl + 1)
        count, _ = pipe.execute()
        return int(count)

    def get(self, bucket: str, window_start: int) -> int:
        value = self._client().get(self._key(bucket, window_start))
        return int(value or 0)

    def purge(self, now: float) -> int:
        return 0  # Redis expires the keys itself


_database = DatabaseStore()


def store():
    """The configured store: Redis when RATE_LIMIT_REDIS_URL is set, else the database."""
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "") or ""
    return RedisStore(url) if url else _database


def _with_store(operation: str, *args):
    chosen = store()
    if chosen is _database:
        return getattr(chosen, operation)(*args)
    try:
        return getattr(chosen, operation)(*args)
    except Exception as exc:  # redis.RedisError, OSError: count in the database meanwhile
        log.warning("限流计数：Redis 不可用（%s），改用数据库计数", exc)
        return getattr(_database, operation)(*args)


# --- counting ------------------------------------------------------------------------------


def _clock() -> float:
    return time.time()


def _digest(who: str) -> str:
    key = hashlib.sha256(("grassroots.ratelimit:" + settings.SECRET_KEY).encode()).digest()
    return hashlib.blake2s(who.encode(), key=key, digest_size=12).hexdigest()


def _slot(name: str, who: str, limit: Rate, now: float) -> tuple[str, int, int, int]:
    """(bucket, window start, window end, seconds until the end) of WHO in NAME at NOW."""
    window_start = int(now // limit.period) * limit.period
    window_end = window_start + limit.period
    retry = max(1, math.ceil(window_end - now))
    return f"{name}:{limit.period}:{_digest(who)}", window_start, window_end, retry


def hit(name: str, who: str, limit: Rate | None, *, now: float | None = None) -> Verdict:
    """Count one request of WHO in NAME; refused once the count passes the limit."""
    if limit is None:
        return ALLOW
    now = _clock() if now is None else now
    bucket, start, end, retry = _slot(name, who, limit, now)
    count = _with_store("incr", bucket, start, end, retry)
    return Verdict(count <= limit.count, count, retry if count > limit.count else 0)


def peek(name: str, who: str, limit: Rate | None, *, now: float | None = None) -> Verdict:
    """Is NAME already spent for WHO? Counts nothing."""
    if limit is None:
        return ALLOW
    now = _clock() if now is None else now
    bucket, start, _end, retry = _slot(name, who, limit, now)
    count = _with_store("get", bucket, start)
    return Verdict(count < limit.count, count, retry if count >= limit.count else 0)


def check(request, name: str, setting: str, *, who: str | None = None, misses: bool = False) -> Verdict:
    """Count REQUEST in bucket NAME under the rate of SETTING for WHO (default caller(request));
    with MISSES, also refuse while WHO's misses of NAME (RATE_LIMIT_MISS) are spent."""
    who = who or caller(request)
    verdict = hit(name, who, rate(setting))
    if not verdict.allowed or not misses:
        return verdict
    return peek(f"{name}.miss", who, rate("RATE_LIMIT_MISS"))


def miss(request, name: str, *, who: str | None = None) -> None:
    """Record a failed lookup of WHO (default caller(request)) in NAME's miss bucket."""
    hit(f"{name}.miss", who or caller(request), rate("RATE_LIMIT_MISS"))


def enforce(request, name: str, setting: str, *, who: str | None = None, misses: bool = False,
            what: str = "请求") -> None:
    """check(), raising Throttled (429 in the caller's format) when refused."""
    verdict = check(request, name, setting, who=who, misses=misses)
    if not verdict.allowed:
        raise Throttled(verdict, message(verdict, what))


def message(verdict: Verdict, what: str = "查询") -> str:
    """"查询过于频繁，请 50 秒后再试" / "…请 5 分钟后（19:42 以后）再试"."""
    wait = max(1, verdict.retry_after)
    if wait < 120:
        return f"{what}过于频繁，请 {wait} 秒后再试"
    until = timezone.localtime(datetime.fromtimestamp(_clock(), tz=timezone.get_current_timezone())
                               + timedelta(seconds=wait))
    if wait < 2 * 3600:
        return f"{what}过于频繁，请 {math.ceil(wait / 60)} 分钟后（{until:%H:%M} 以后）再试"
    return f"{what}过于频繁，请 {math.ceil(wait / 3600)} 小时后（{until:%m-%d %H:%M} 以后）再试"


def purge(*, now: float | None = None) -> int:
    """Delete ended windows from the store (the worker's job, every ten minutes)."""
    return _with_store("purge", _clock() if now is None else now)


# --- bad tokens ----------------------------------------------------------------------------

BAD_TOKEN = "badtoken"
GOOD_TOKEN = "goodtoken"
_KNOWN_GOOD = Rate(10**9, 86400)  # a marker: a token that worked while its address had failures
BAD_TOKEN_WHAT = "无效的接口令牌尝试"


def guard_token(request, raw: str) -> None:
    """Before RAW is looked up: Throttled when this client address has spent RATE_LIMIT_BAD_TOKEN,
    unless RAW worked within the last day while failures came from this address (so a colleague
    spraying bad tokens from the same office does not lock out a working script)."""
    limit = rate("RATE_LIMIT_BAD_TOKEN")
    who = "ip:" + client_key(request)
    verdict = peek(BAD_TOKEN, who, limit)
    request._ratelimit_bad_tokens = verdict.count
    if verdict.allowed:
        return
    if raw:
        now, who = _clock(), key_caller(raw)
        if any(peek(GOOD_TOKEN, who, _KNOWN_GOOD, now=at).count for at in (now, now - _KNOWN_GOOD.period)):
            return  # remembered in today's window or yesterday's: for a day at least
    raise Throttled(verdict, message(verdict, BAD_TOKEN_WHAT))


def token_result(request, raw: str, ok: bool) -> None:
    """After the lookup: count a bad token against the client address; remember a good one
    while that address has failures in the current window."""
    if not ok:
        hit(BAD_TOKEN, "ip:" + client_key(request), rate("RATE_LIMIT_BAD_TOKEN"))
    elif getattr(request, "_ratelimit_bad_tokens", 0):
        hit(GOOD_TOKEN, key_caller(raw), _KNOWN_GOOD)
