"""Tables of the shared mechanisms (lib is a Django app, label `lib`, for these only)."""

from django.db import models
from django.utils import timezone


class RateCounter(models.Model):
    """One rate-limit window of one caller in one bucket (lib/ratelimit.py, the database store).

    BUCKET names the limit and the caller ("track:60:<keyed digest of the caller>"; no address
    or account is stored in clear). Rows are incremented with one INSERT … ON CONFLICT DO
    UPDATE … RETURNING, so concurrent processes never lose a count, and the worker deletes
    windows that have ended (EXPIRES_AT, seconds since the epoch)."""

    bucket = models.CharField(max_length=120)
    window_start = models.BigIntegerField()
    expires_at = models.BigIntegerField(db_index=True)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "window_start"], name="lib_ratecounter_slot")]
        verbose_name = "限流计数"

    def __str__(self) -> str:
        return f"{self.bucket}@{self.window_start}: {self.hits}"


class IdempotencyKey(models.Model):
    """One create request that must happen once (lib.idempotency): a form's one-time token or an
    API `Idempotency-Key`, per caller and endpoint, with the answer the first request got.

    The answer may hold personal data (a masked phone, a name): it is stored sealed
    (lib.privacy.seal), never in clear. Rows older than IDEMPOTENCY_KEEP_HOURS are purged by
    the worker (job `lib.idempotency_purge`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "处理中"
        DONE = "done", "已完成"

    caller = models.CharField(max_length=80)  # "user:<pk>"
    endpoint = models.CharField(max_length=60)  # "cases.report", "api.cases.create", …
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # sha256 of what was sent (the body, minus tokens)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    answer = models.TextField(blank=True)  # sealed JSON: {"status", "content_type", "body"} or {"location"}
    ref = models.CharField(max_length=120, blank=True)  # what was created: "cases.case:42"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "幂等键"
        constraints = [models.UniqueConstraint(fields=["caller", "endpoint", "key"], name="lib_idempotency_once")]
        indexes = [models.Index(fields=["created_at"], name="lib_idempotency_age")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key[:12]}"
