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
    REPORT_CASE = "case.report", "反映问题"
    ENTER_CASE = "case.enter", "登记来电来信"
    DISPATCH_CASE = "case.dispatch", "受理派遣"
    HANDLE_CASE = "case.handle", "办理事件"
    EVALUATE_CASE = "case.evaluate", "回访评价"
    SUPERVISE_CASE = "case.supervise", "督办"
    VIEW_CASES = "case.view", "查看事件"
    EXPORT_CASES = "case.export", "导出事件"
    VIEW_RATES = "case.rates", "查看三率"
    EDIT_CATALOG = "catalog.edit", "维护事项清单"


_ALL_STAFF = {Action.VIEW_TERRITORY, Action.EXPORT_TERRITORY, Action.USE_API, Action.VIEW_CASES, Action.EXPORT_CASES}
_HANDLES = {Action.HANDLE_CASE, Action.REPORT_CASE}

PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: frozenset(_ALL_STAFF | _HANDLES),
    Role.COMMUNITY_STAFF: frozenset(_ALL_STAFF | _HANDLES | {Action.ENTER_CASE}),
    Role.DISPATCHER: frozenset(
        _ALL_STAFF | _HANDLES | {Action.CHECK_GRIDS, Action.ENTER_CASE, Action.DISPATCH_CASE, Action.EVALUATE_CASE,
                                 Action.SUPERVISE_CASE, Action.VIEW_RATES}
    ),
    Role.HANDLER: frozenset(_ALL_STAFF | {Action.HANDLE_CASE}),
    Role.MEDIATOR: frozenset(_ALL_STAFF),
    Role.LEADER: frozenset(_ALL_STAFF | {Action.CHECK_GRIDS, Action.SUPERVISE_CASE, Action.VIEW_RATES}),
    Role.RESIDENT: frozenset({Action.USE_API, Action.REPORT_CASE, Action.EVALUATE_CASE}),
    Role.ADMIN: frozenset(
        _ALL_STAFF
        | {Action.EDIT_TERRITORY, Action.CHECK_GRIDS, Action.MANAGE_ACCOUNTS, Action.VIEW_AUDIT, Action.EDIT_CATALOG,
           Action.VIEW_RATES}
    ),
}
