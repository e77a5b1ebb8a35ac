"""The background worker: built-in session clean-up, claims, failures and graceful stops."""

import io
import os
import signal
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from grassroots.lib.worker import Job, Worker, claim


def make_session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["who"] = "someone"
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    return store.session_key


def test_worker_once_removes_expired_sessions_and_keeps_live_ones(db):
    expired = make_session(timedelta(minutes=-5))
    live = make_session(timedelta(hours=1))
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert not Session.objects.filter(pk=expired).exists()
    assert Session.objects.filter(pk=live).exists()
    assert "清理过期会话：处理 1 项" in out.getvalue()


def test_a_conditional_update_claims_a_row_once(db):
    key = make_session(timedelta(hours=1))
    seen = Session.objects.get(pk=key).expire_date
    later = seen + timedelta(minutes=1)
    assert claim(Session.objects.filter(pk=key, expire_date=seen), expire_date=later) is True
    # A second worker that read the same row loses the race.
    assert claim(Session.objects.filter(pk=key, expire_date=seen), expire_date=later) is False


def test_a_failing_job_does_not_stop_the_others(db):
    ran = []

    def broken():
        raise RuntimeError("故意失败")

    def fine():
        ran.append("fine")
        return 3

    worker = Worker([Job("a", "会失败的任务", broken, 60), Job("b", "正常任务", fine, 60)], say=lambda _: None)
    results = worker.run_once()
    assert [r.error is not None for r in results] == [True, False]
    assert ran == ["fine"] and results[1].handled == 3


def test_sigterm_lets_the_current_job_finish_then_stops(db):
    done = []

    def long_job():
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the job is running
        done.append("finished")
        return 1

    def never():
        done.append("should not run")

    lines = []
    worker = Worker([Job("a", "长任务", long_job, 60), Job("b", "后一个任务", never, 60)], interval=0.01, say=lines.append)
    restore = worker.handle_signals()
    try:
        worker.run_forever()
    finally:
        restore()
    assert done == ["finished"]
    assert any("SIGTERM" in line for line in lines) and lines[-1] == "后台任务进程已停止"


def test_interval_must_be_positive(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("worker", "--interval", "0")
