"""Navigation entries of the ledger part (called by grassroots.front.context)."""

from django.urls import reverse

from grassroots.accounts.permissions import can
from grassroots.accounts.roles import Action, Role


def nav_items(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    if user.role == Role.RESIDENT and not user.is_superuser:
        return [{"label": "我的信息", "url": reverse("me"), "key": "ledger_me"}]
    items = []
    if can(user, Action.VIEW_LEDGER):
        items.append({"label": "台账", "url": reverse("ledger:index"), "key": "ledger"})
    if can(user, Action.IMPORT_LEDGER):
        items.append({"label": "台账导入", "url": reverse("ledger:import"), "key": "ledger_import"})
    if can(user, Action.VIEW_AUDIT):
        items.append({"label": "个人信息查看记录", "url": reverse("ledger:access_log"), "key": "ledger_access"})
    return items
