"""Notifications: an in-app inbox, and the same message through pluggable backends.

Backends form a registry (code → class), like healthchecks' integrations: `log` (the
default: the platform log), `webhook` (POST JSON to NOTIFICATION_WEBHOOK_URL) and `sms`
(a gateway of the deployment's own, NOTIFICATION_SMS_URL). A backend that fails is
recorded on the notification and never stops the work that caused it.
"""

import json
import logging
import urllib.request

from django.conf import settings

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.cases.models import Case, Notification
from grassroots.lib import privacy

log = logging.getLogger("grassroots.notifications")


class Backend:
    code = ""

    def send(self, note: Notification) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class LogBackend(Backend):
    code = "log"

    def send(self, note: Notification) -> None:
        log.info("通知 %s：%s", note.recipient.username, note.text)


class WebhookBackend(Backend):
    code = "webhook"

    def send(self, note: Notification) -> None:
        url = settings.NOTIFICATION_WEBHOOK_URL
        if not url:
            raise RuntimeError("未配置 NOTIFICATION_WEBHOOK_URL")
        body = json.dumps({
            "recipient": note.recipient.username, "kind": note.kind, "text": note.text,
            "case": note.case.number if note.case_id else None,
        }, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the deployment's own URL
            if response.status >= 300:
                raise RuntimeError(f"webhook 返回 {response.status}")


class SmsBackend(Backend):
    """Posts {phone, text} to the deployment's SMS gateway (NOTIFICATION_SMS_URL)."""

    code = "sms"

    def send(self, note: Notification) -> None:
        url = getattr(settings, "NOTIFICATION_SMS_URL", "")
        if not url:
            raise RuntimeError("未配置短信网关 NOTIFICATION_SMS_URL")
        if not note.recipient.phone:
            raise RuntimeError("收件人没有手机号")
        body = json.dumps({"phone": privacy.plain_of(note.recipient.phone), "text": note.text},
                          ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            if response.status >= 300:
                raise RuntimeError(f"短信网关返回 {response.status}")


BACKENDS: dict[str, type[Backend]] = {b.code: b for b in (LogBackend, WebhookBackend, SmsBackend)}


def notify(users, case: Case | None, kind: str, text: str, link: str = "") -> list[Notification]:
    """Tell USERS (each once; None skipped) about CASE — or, with no case, about the page LINK."""
    recipients = {u.pk: u for u in users if u is not None}.values()
    notes = Notification.objects.bulk_create(
        [Notification(recipient=u, case=case, kind=kind, text=text[:300], link=link[:200]) for u in recipients]
    )
    for note in notes:
        note.delivered = deliver(note)
    Notification.objects.bulk_update(notes, ["delivered"])
    return notes


def deliver(note) -> dict[str, str]:
    """Send NOTE through every configured backend; backend code → "ok" or the error.

    A failed backend is logged and recorded, and never fails the work that caused it.
    """
    results = {}
    for code in settings.NOTIFICATION_BACKENDS:
        backend = BACKENDS.get(code)
        if backend is None:
            results[code] = "未知的通知方式"
            continue
        try:
            backend().send(note)
            results[code] = "ok"
        except Exception as exc:  # a failed backend must not fail the case or the sweep
            log.warning("通知发送失败（%s）：%s", code, exc)
            results[code] = str(exc)[:200]
    return results


def unit_members(case: Case) -> list[User]:
    """The accounts of the case's lead unit: its department's handlers, or the staff of its lead territory."""
    if case.lead_department_id:
        return list(User.objects.filter(department_id=case.lead_department_id, role=Role.HANDLER, is_active=True))
    if case.lead_region_id:
        roles = [Role.GRID_WORKER] if case.lead_region.level == "grid" else [Role.COMMUNITY_STAFF, Role.DISPATCHER]
        return list(User.objects.filter(region_id=case.lead_region_id, role__in=roles, is_active=True))
    return []


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
