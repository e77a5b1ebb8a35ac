"""{% ledger_home_card %}: the ledger block of the role homes (overdue visits of the user's scope)."""

from django import template
from django.utils import timezone

from grassroots.accounts.permissions import can
from grassroots.accounts.roles import Action, Role

register = template.Library()


@register.inclusion_tag("ledger/_home_card.html", takes_context=True)
def ledger_home_card(context):
    user = context["request"].user
    if not user.is_authenticated or user.role == Role.RESIDENT or not can(user, Action.VIEW_LEDGER):
        return {"show": False}
    from grassroots.ledger import queries

    today = timezone.localdate()
    qs = queries.overdue(user, today=today)
    grid_worker = user.role == Role.GRID_WORKER
    return {
        "show": True,
        "overdue": list(qs[:10]) if grid_worker or user.role == Role.COMMUNITY_STAFF else [],
        "overdue_count": qs.count(),
        "communities": [] if grid_worker else queries.overdue_by_community(user, today=today)[:10],
        "today": today,
    }
