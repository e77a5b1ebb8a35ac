from django.db import models


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
