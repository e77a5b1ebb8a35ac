"""Navigation entries of the disputes part (called by grassroots.front.context)."""

from django.urls import reverse

from grassroots.accounts.permissions import can
from grassroots.accounts.roles import Action


def nav_items(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    items = []
    if can(user, Action.VIEW_DISPUTES):
        items.append({"label": "矛盾纠纷", "url": reverse("disputes:list"), "key": "disputes"})
    if can(user, Action.VIEW_PETITIONS):
        items.append({"label": "信访", "url": reverse("disputes:petitions"), "key": "petitions"})
    return items
