"""`{% once_field %}` inside a create form: its one-time token (lib.idempotency.form_token)."""

from django import template
from django.utils.html import format_html

from grassroots.lib import idempotency

register = template.Library()


@register.simple_tag(takes_context=True)
def once_field(context) -> str:
    token = context.get("once_token") or idempotency.form_token(context["request"])
    return format_html('<input type="hidden" name="{}" value="{}">', idempotency.FORM_FIELD, token)
