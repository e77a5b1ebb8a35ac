"""Sign-ins, failures, lockouts and sign-outs go to the audit log."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.permissions import audit


@receiver(user_logged_in)
def logged_in(sender, request, user, **kwargs):
    audit(AuditEvent.Kind.LOGIN, user=user, request=request)


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit(AuditEvent.Kind.LOGOUT, user=user, request=request)


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    audit(AuditEvent.Kind.LOGIN_FAILED, username=str(credentials.get("username", ""))[:150], request=request)


@receiver(user_locked_out)
def locked_out(sender, request, username=None, ip_address=None, **kwargs):
    audit(AuditEvent.Kind.LOCKED_OUT, username=str(username or "")[:150], request=request, detail="连续登录失败，账户暂时锁定")
