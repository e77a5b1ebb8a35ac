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
    # ledger (一标三实)
    VIEW_LEDGER = "ledger.view", "查看台账"
    EDIT_LEDGER = "ledger.edit", "维护台账"
    IMPORT_LEDGER = "ledger.import", "导入台账"
    EXPORT_LEDGER = "ledger.export", "导出台账"
    VIEW_FULL_PERSON = "ledger.full", "查看完整个人信息"
    CALL_PERSON = "ledger.phone", "查看完整联系电话（走访联系）"
    RECORD_VISIT = "ledger.visit", "走访登记"
    ASSIGN_CARE = "ledger.care", "认定关爱/重点人群"
    # disputes and petitions (矛盾纠纷、信访)
    VIEW_DISPUTES = "dispute.view", "查看矛盾纠纷"
    REGISTER_DISPUTE = "dispute.register", "登记矛盾纠纷"
    MEDIATE = "dispute.mediate", "调解矛盾纠纷"
    SCREEN_DISPUTES = "dispute.screen", "矛盾纠纷排查"
    VIEW_PETITIONS = "petition.view", "查看信访"
    HANDLE_PETITION = "petition.handle", "办理信访"


_ALL_STAFF = {Action.VIEW_TERRITORY, Action.EXPORT_TERRITORY, Action.USE_API, Action.VIEW_CASES, Action.EXPORT_CASES}
_HANDLES = {Action.HANDLE_CASE, Action.REPORT_CASE}
# Who keeps the ledgers of their own territory: grid workers and community staff.
_KEEPS_LEDGER = {Action.VIEW_LEDGER, Action.EDIT_LEDGER, Action.IMPORT_LEDGER, Action.EXPORT_LEDGER,
                 Action.RECORD_VISIT, Action.ASSIGN_CARE}
# Who finds and mediates disputes at the grass roots.
_MEDIATES = {Action.VIEW_DISPUTES, Action.REGISTER_DISPUTE, Action.MEDIATE, Action.SCREEN_DISPUTES}

PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: frozenset(_ALL_STAFF | _HANDLES | _KEEPS_LEDGER | {Action.VIEW_DISPUTES, Action.REGISTER_DISPUTE,
                                                                         Action.SCREEN_DISPUTES, Action.CALL_PERSON}),
    Role.COMMUNITY_STAFF: frozenset(
        _ALL_STAFF | _HANDLES | _KEEPS_LEDGER | _MEDIATES | {Action.ENTER_CASE, Action.VIEW_FULL_PERSON}
    ),
    Role.DISPATCHER: frozenset(
        _ALL_STAFF | _HANDLES | {Action.CHECK_GRIDS, Action.ENTER_CASE, Action.DISPATCH_CASE, Action.EVALUATE_CASE,
                                 Action.SUPERVISE_CASE, Action.VIEW_RATES, Action.VIEW_LEDGER,
                                 Action.VIEW_DISPUTES, Action.REGISTER_DISPUTE, Action.SCREEN_DISPUTES,
                                 Action.VIEW_PETITIONS, Action.HANDLE_PETITION}
    ),
    Role.HANDLER: frozenset(_ALL_STAFF | {Action.HANDLE_CASE}),
    Role.MEDIATOR: frozenset(_ALL_STAFF | _MEDIATES | {Action.VIEW_LEDGER}),
    Role.LEADER: frozenset(_ALL_STAFF | {Action.CHECK_GRIDS, Action.SUPERVISE_CASE, Action.VIEW_RATES,
                                         Action.VIEW_LEDGER, Action.VIEW_DISPUTES, Action.VIEW_PETITIONS}),
    Role.RESIDENT: frozenset({Action.USE_API, Action.REPORT_CASE, Action.EVALUATE_CASE}),
    Role.ADMIN: frozenset(
        _ALL_STAFF
        | {Action.EDIT_TERRITORY, Action.CHECK_GRIDS, Action.MANAGE_ACCOUNTS, Action.VIEW_AUDIT, Action.EDIT_CATALOG,
           Action.VIEW_RATES, Action.VIEW_LEDGER, Action.IMPORT_LEDGER, Action.EXPORT_LEDGER}
    ),
}
