"""Text messages (短信) for one-time codes, through the backend named by SMS_BACKEND.

    log      (the default, used by the demo) writes the message to the platform log under
             "grassroots.sms": the code is readable there, the phone only masked (138****1234).
    gateway  POSTs {"phone", "text"} as JSON to SMS_GATEWAY_URL, the deployment's own SMS
             gateway (a provider's HTTP API behind a small adapter of the operator's).
    a dotted path to a class with send(phone, text), for anything else.

A backend raises SmsFailed with a Chinese message when the message could not be sent.
"""

import json
import logging
import urllib.request

from django.conf import settings
from django.utils.module_loading import import_string

from grassroots.lib.privacy import mask_phone

log = logging.getLogger("grassroots.sms")


class SmsFailed(RuntimeError):
    """The message could not be sent (the text is for the user)."""


class LogBackend:
    def send(self, phone: str, text: str) -> None:
        log.info("短信 → %s：%s", mask_phone(phone), text)


class GatewayBackend:
    def send(self, phone: str, text: str) -> None:
        url = getattr(settings, "SMS_GATEWAY_URL", "")
        if not url:
            raise SmsFailed("未配置短信网关（SMS_GATEWAY_URL），暂时无法发送验证码")
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the deployment's own URL
                if response.status >= 300:
                    raise SmsFailed("短信发送失败，请稍后再试")
        except OSError as exc:
            log.warning("短信网关不可用（%s）：%s", mask_phone(phone), exc)
            raise SmsFailed("短信发送失败，请稍后再试") from exc


BACKENDS = {"log": LogBackend, "gateway": GatewayBackend}


def backend():
    name = getattr(settings, "SMS_BACKEND", "log") or "log"
    cls = BACKENDS.get(name) or import_string(name)
    return cls()


def send(phone: str, text: str) -> None:
    """Send TEXT to PHONE (11 digits) through the configured backend; SmsFailed when it cannot."""
    backend().send(phone, text)
