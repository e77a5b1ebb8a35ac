"""Navigation: each role sees only its own work."""

from django.conf import settings
from django.urls import reverse

from grassroots.accounts.permissions import can, home_region
from grassroots.accounts.roles import Action, Role

ROLE_HOME_TITLES = {
    Role.GRID_WORKER: "网格员工作台",
    Role.COMMUNITY_STAFF: "社区工作台",
    Role.DISPATCHER: "指挥调度工作台",
    Role.HANDLER: "部门承办工作台",
    Role.MEDIATOR: "人民调解工作台",
    Role.LEADER: "领导驾驶舱",
    Role.RESIDENT: "居民服务",
    Role.ADMIN: "系统管理",
}


def nav_items(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    items = [{"label": "首页", "url": reverse("home"), "key": "home"}]
    items.extend(case_nav_items(user))
    from grassroots.disputes.nav import nav_items as dispute_nav_items
    from grassroots.ledger.nav import nav_items as ledger_nav_items

    items.extend(ledger_nav_items(user))
    items.extend(dispute_nav_items(user))
    region = home_region(user)
    if can(user, Action.VIEW_TERRITORY) and region is not None:
        label = "我的网格" if user.role == Role.GRID_WORKER else "辖区地图"
        items.append({"label": label, "url": reverse("territory:region", args=[region.code]), "key": "territory"})
    if can(user, Action.CHECK_GRIDS) and region is not None:
        items.append({"label": "网格检查", "url": reverse("territory:check", args=[region.code]), "key": "check"})
    if can(user, Action.EDIT_TERRITORY):
        items.append({"label": "导入辖区", "url": reverse("territory:import"), "key": "import"})
    if can(user, Action.MANAGE_ACCOUNTS):
        items.append({"label": "账户", "url": reverse("accounts:list"), "key": "accounts"})
    if can(user, Action.VIEW_AUDIT):
        items.append({"label": "审计日志", "url": reverse("accounts:audit"), "key": "audit"})
    items.append({"label": "个人设置", "url": reverse("accounts:profile"), "key": "profile"})
    return items


def case_nav_items(user) -> list[dict]:
    """事件上报 / 来件登记, the worklist, 三率, 事项清单 and 通知 (with the unread count)."""
    from grassroots.cases.notify import unread_count

    items = []
    if can(user, Action.DISPATCH_CASE):
        items.append({"label": "来件登记", "url": reverse("cases:new"), "key": "case_new"})
    elif can(user, Action.REPORT_CASE):
        label = "我要反映" if user.role == Role.RESIDENT else "事件上报"
        url = reverse("cases:report") + ("?channel=grid" if user.role == Role.GRID_WORKER else "")
        items.append({"label": label, "url": url, "key": "case_report"})
    if user.role == Role.RESIDENT:
        items.append({"label": "我反映的问题", "url": reverse("cases:list"), "key": "cases"})
    elif can(user, Action.VIEW_CASES):
        items.append({"label": "事件待办", "url": reverse("cases:list"), "key": "cases"})
    if can(user, Action.VIEW_RATES):
        items.append({"label": "三率", "url": reverse("cases:rates"), "key": "rates"})
    if can(user, Action.EDIT_CATALOG):
        items.append({"label": "事项清单", "url": reverse("cases:catalog"), "key": "catalog"})
    unread = unread_count(user)
    items.append({"label": f"通知（{unread}）" if unread else "通知", "url": reverse("cases:inbox"), "key": "inbox"})
    return items


def navigation(request) -> dict:
    user = request.user
    from grassroots.cases.views import worklist_summary

    return {
        "nav_items": nav_items(user),
        # Counted only when a page shows them (the role homes): the template calls it.
        "case_worklists": lambda: worklist_summary(user),
        "role_home_title": ROLE_HOME_TITLES.get(getattr(user, "role", ""), ""),
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
