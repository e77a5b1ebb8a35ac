"""Background work without a broker: `grassroots worker` runs registered periodic jobs.

Like healthchecks' `sendalerts`, the worker is a plain loop over the database, and any
number of copies may run at once (on one machine or several, on SQLite or PostgreSQL).

The contract for a job
----------------------
* Register it in a module named `jobs.py` inside an installed app (found automatically):

      from grassroots.lib.worker import claim, job

      @job("cases.deadlines", label="办理时限检查", every=30)
      def sweep_deadlines() -> int:
          ...
          return handled  # how many items this run handled (None if unknown)

  The function takes no arguments. EVERY is the least number of seconds between two runs
  in one worker; the worker wakes every --interval seconds to see which jobs are due.
* Find work through an indexed "next due" column (e.g. `Case.next_due_at`) and take a
  bounded batch; never scan every open record.
* Claim each unit of work before acting on it, so two workers never both act on it:
    - any database: a conditional UPDATE, `claim(Case.objects.filter(pk=pk, next_due_at=seen),
      next_due_at=new)`; False means another worker got there first: skip the row;
    - PostgreSQL, for a batch: inside `transaction.atomic()`, `locked(queryset, 100)` selects
      rows FOR UPDATE SKIP LOCKED, so rows another worker holds are skipped, not waited for.
      On SQLite it is a plain select: our SQLite transactions are IMMEDIATE (settings), so
      writers are serialised anyway.
* Keep a run short and idempotent. On SIGTERM/SIGINT the worker lets the running job finish
  and exits; a job that fails is logged and tried again when next due, the others carry on.

Built in: expired sessions are removed hourly (Django's SessionStore.clear_expired(), a
single DELETE … WHERE expire_date < now that any number of workers may run), ended
rate-limit windows every ten minutes (lib/ratelimit.purge, one DELETE … WHERE expires_at < now),
and idempotency keys older than IDEMPOTENCY_KEEP_HOURS hourly (lib.idempotency.purge, likewise).
"""

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.utils.module_loading import autodiscover_modules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    label: str
    func: Callable[[], int | None]
    every: float  # seconds between runs in one worker


_JOBS: dict[str, Job] = {}


def job(name: str, *, label: str, every: float):
    """Register the decorated function as a periodic job (see the module docstring)."""

    def register(func: Callable[[], int | None]):
        _JOBS[name] = Job(name, label, func, float(every))
        return func

    return register


def registered_jobs() -> list[Job]:
    autodiscover_modules("jobs")
    return sorted(_JOBS.values(), key=lambda j: j.name)


def claim(queryset: QuerySet, **changes) -> bool:
    """Apply CHANGES to the one row QUERYSET selects, if it still matches; False when another
    worker changed it first (the conditional UPDATE claim)."""
    return queryset.update(**changes) == 1


def locked_queryset(queryset: QuerySet, limit: int, *, of: tuple[str, ...] = ()) -> QuerySet:
    """QUERYSET's first LIMIT rows, to be locked for this transaction and skipped by other
    workers (PostgreSQL SELECT … FOR UPDATE SKIP LOCKED); for a caller that reads it its own way.
    OF: lock only these of the joined tables ("self" for the queryset's own)."""
    return queryset.select_for_update(skip_locked=True, of=of)[:limit]


def locked(queryset: QuerySet, limit: int) -> list:
    """Up to LIMIT rows of QUERYSET, locked (locked_queryset). Call inside transaction.atomic()."""
    return list(locked_queryset(queryset, limit))


def _refresh_connections() -> None:
    """Drop connections the server closed or that outlived CONN_MAX_AGE, as Django does
    around each request: a worker lives for weeks. A connection inside a transaction (the
    caller's, or a test's) is left alone."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


@dataclass
class JobResult:
    job: Job
    handled: int | None
    seconds: float
    error: str | None = None


class Worker:
    """Runs the registered jobs when due until stop() (or a signal) asks it to finish."""

    def __init__(self, jobs: list[Job] | None = None, *, interval: float = 10.0, say: Callable[[str], None] = print):
        self.jobs = registered_jobs() if jobs is None else jobs
        self.interval = interval
        self.say = say
        self.stopping = threading.Event()
        self.next_run: dict[str, float] = {j.name: 0.0 for j in self.jobs}

    def run_job(self, job_: Job) -> JobResult:
        _refresh_connections()
        started = time.monotonic()
        try:
            handled = job_.func()
        except Exception as exc:  # one failing job must not stop the others
            log.exception("后台任务 %s 失败", job_.name)
            result = JobResult(job_, None, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        else:
            result = JobResult(job_, handled, time.monotonic() - started)
        finally:
            _refresh_connections()
        self.next_run[job_.name] = time.monotonic() + job_.every
        self._report(result)
        return result

    def run_once(self) -> list[JobResult]:
        """Run every job once, now (for tests and cron-style use)."""
        results = []
        for job_ in self.jobs:
            if self.stopping.is_set():
                break
            results.append(self.run_job(job_))
        return results

    def run_forever(self) -> None:
        self.say(f"后台任务进程已启动：{'、'.join(j.label for j in self.jobs) or '（没有任务）'}；每 {self.interval:g} 秒检查一次")
        while not self.stopping.is_set():
            for job_ in self.jobs:
                if self.stopping.is_set():
                    break
                if time.monotonic() >= self.next_run[job_.name]:
                    self.run_job(job_)
            self.stopping.wait(self.interval)
        self.say("后台任务进程已停止")

    def stop(self, *_args) -> None:
        self.stopping.set()

    def handle_signals(self) -> Callable[[], None]:
        """Let SIGTERM and SIGINT finish the current job and stop; returns a function restoring the old handlers."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _on_signal(self, signum, _frame) -> None:
        self.say(f"收到信号 {signal.Signals(signum).name}，完成当前任务后退出…")
        self.stop()

    def _report(self, result: JobResult) -> None:
        if result.error:
            self.say(f"{result.job.label}：失败（{result.error}）")
        elif result.handled:
            self.say(f"{result.job.label}：处理 {result.handled} 项，用时 {result.seconds:.2f} 秒")


# --- built-in jobs ---------------------------------------------------------------------


@job("sessions.clear_expired", label="清理过期会话", every=3600)
def clear_expired_sessions() -> int | None:
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        from django.contrib.sessions.models import Session
        from django.utils import timezone

        expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
        engine.SessionStore.clear_expired()
        return expired
    engine.SessionStore.clear_expired()
    return None


@job("lib.ratelimit_purge", label="清理过期限流计数", every=600)
def purge_rate_counters() -> int:
    from grassroots.lib import ratelimit

    return ratelimit.purge()


@job("lib.idempotency_purge", label="清理过期幂等键", every=3600)
def purge_idempotency_keys() -> int:
    from grassroots.lib import idempotency

    return idempotency.purge()
