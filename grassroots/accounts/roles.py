"""Roles (DESIGN.md "Who uses it") and what each may do, in one table."""

from django.db import models


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", "网格员"
    COMMUNITY_STAFF = "community_staff", "社区（村）工作人员"
    DISPATCHER = "dispatcher", "派单员"
    HANDLER = "handler", "职能部门承办人"
    MEDIATOR = "mediator", "人民调解员"
    LEADER = "leader", "领导"
    RESIDENT = "resident", "居民"
    ADMIN = "admin", "系统管理员"


STAFF_ROLES = frozenset(r for r in Role if r != Role.RESIDENT)


class Action(models.TextChoices):
    VIEW_TERRITORY = "territory.view", "查看辖区"
    EXPORT_TERRITORY = "territory.export", "导出辖区"
    EDIT_TERRITORY = "territory.edit", "维护辖区与网格"
    CHECK_GRIDS = "territory.check", "检查网格覆盖"
    MANAGE_ACCOUNTS = "accounts.manage", "管理账户"
    VIEW_AUDIT = "accounts.audit", "查看审计日志"
    USE_API = "api.use", "使用接口"


_ALL_STAFF = {Action.VIEW_TERRITORY, Action.EXPORT_TERRITORY, Action.USE_API}

PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: frozenset(_ALL_STAFF),
    Role.COMMUNITY_STAFF: frozenset(_ALL_STAFF),
    Role.DISPATCHER: frozenset(_ALL_STAFF | {Action.CHECK_GRIDS}),
    Role.HANDLER: frozenset(_ALL_STAFF),
    Role.MEDIATOR: frozenset(_ALL_STAFF),
    Role.LEADER: frozenset(_ALL_STAFF | {Action.CHECK_GRIDS}),
    Role.RESIDENT: frozenset({Action.USE_API}),
    Role.ADMIN: frozenset(
        _ALL_STAFF | {Action.EDIT_TERRITORY, Action.CHECK_GRIDS, Action.MANAGE_ACCOUNTS, Action.VIEW_AUDIT}
    ),
}
