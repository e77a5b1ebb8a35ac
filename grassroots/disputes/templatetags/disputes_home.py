"""The disputes block of the role home pages: `{% load disputes_home %}{% disputes_home_card %}`."""

from django import template

from grassroots.accounts.permissions import can
from grassroots.accounts.roles import Action, Role

register = template.Library()

# Whose home shows which lists: mediators and community staff mediate; dispatchers (综治中心 and
# the petition office) see petitions and the disputes of their territory; leaders both, to read.
DISPUTE_HOMES = {Role.MEDIATOR, Role.COMMUNITY_STAFF, Role.DISPATCHER, Role.LEADER}
PETITION_HOMES = {Role.DISPATCHER, Role.LEADER}


@register.inclusion_tag("disputes/_home_card.html", takes_context=True)
def disputes_home_card(context):
    from grassroots.disputes import queries, screening

    user = context["request"].user
    out = {"dispute_lists": [], "petition_lists": [], "overdue_rounds": []}
    if not user.is_authenticated:
        return out
    if user.role in DISPUTE_HOMES and can(user, Action.VIEW_DISPUTES):
        out["dispute_lists"] = [w for w in queries.dispute_summary(user) if w["count"] or w["key"] in ("to_accept", "mediating")]
        if user.region_id and user.region.level not in ("community", "grid"):
            out["overdue_rounds"] = screening.overdue_rollup(user)
    if user.role in PETITION_HOMES and can(user, Action.VIEW_PETITIONS):
        out["petition_lists"] = [w for w in queries.petition_summary(user) if w["count"] or w["key"] == "to_accept"]
    return out
