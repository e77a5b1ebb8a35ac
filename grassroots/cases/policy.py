"""Who may do what to a case, in one table. Scope comes from accounts.permissions.

Each action lists the states it starts from and the relation the actor must have to the
case: `dispatcher` (a dispatcher whose territory holds the case), `lead` (a member of the
lead unit: its department, or a territorial account whose scope holds the lead unit),
`reporter` (the person who reported it), `grid` (the grid worker of the case's grid).
"""

from dataclasses import dataclass

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, records_q, sees_everything
from grassroots.accounts.roles import Action, Role
from grassroots.cases.models import Case, State

S = State


@dataclass(frozen=True)
class Rule:
    label: str
    from_states: frozenset
    who: tuple[str, ...]


RULES: dict[str, Rule] = {
    "accept": Rule("受理", frozenset({S.SUBMITTED}), ("dispatcher",)),
    "dispatch": Rule("派遣", frozenset({S.SUBMITTED, S.ACCEPTED, S.RETURNED, S.REOPENED}), ("dispatcher",)),
    "start": Rule("签收", frozenset({S.DISPATCHED}), ("lead",)),
    "respond": Rule("联系反映人", frozenset({S.DISPATCHED, S.IN_PROGRESS}), ("lead", "dispatcher")),
    "resolve": Rule("办结", frozenset({S.DISPATCHED, S.IN_PROGRESS}), ("lead",)),
    "resolve_on_spot": Rule("就地处置", frozenset({S.SUBMITTED, S.ACCEPTED}), ("grid",)),
    "return": Rule("退单", frozenset({S.DISPATCHED, S.IN_PROGRESS}), ("lead",)),
    "arbitrate": Rule("退单裁定", frozenset({S.RETURNED}), ("dispatcher",)),
    "request_extension": Rule("申请延期", frozenset({S.DISPATCHED, S.IN_PROGRESS}), ("lead",)),
    "decide_extension": Rule("审批延期", frozenset({S.DISPATCHED, S.IN_PROGRESS}), ("dispatcher",)),
    "evaluate": Rule("回访评价", frozenset({S.RESOLVED}), ("reporter", "dispatcher")),
    "reopen": Rule("重办", frozenset({S.RESOLVED, S.CLOSED}), ("dispatcher",)),
    "merge": Rule("合并", frozenset({S.SUBMITTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED}), ("dispatcher",)),
    "reject": Rule("作废", frozenset({S.SUBMITTED, S.ACCEPTED}), ("dispatcher",)),
    "supervise": Rule("督办", frozenset({S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.REOPENED}), ("supervisor",)),
}

HANDLER_ROLES = frozenset({Role.HANDLER, Role.COMMUNITY_STAFF, Role.GRID_WORKER, Role.DISPATCHER})


def visible_cases_q(user: User):
    return records_q(
        user,
        path_field="region_path",
        department_fields=("lead_department", "assists__department"),
        owner_field="reporter",
    )


def can_see(user: User, case: Case) -> bool:
    if sees_everything(user):
        return True
    if not user.is_authenticated:
        return False
    if case.reporter_id == user.pk:
        return True
    if user.role == Role.RESIDENT:
        return False
    if user.region_id and case.region_path.startswith(user.region.path):
        return True
    if user.department_id:
        return case.lead_department_id == user.department_id or case.assists.filter(department_id=user.department_id).exists()
    return False


def in_territory(user: User, path: str) -> bool:
    return bool(sees_everything(user) or (user.region_id and path.startswith(user.region.path)))


def in_lead_unit(user: User, case: Case) -> bool:
    """Is USER a member of the lead unit: its department, or an account whose territory holds it?"""
    if case.lead_department_id:
        return user.department_id == case.lead_department_id
    return bool(case.lead_region_id and user.region_id and case.lead_region.path.startswith(user.region.path))


def relations(user: User, case: Case) -> set[str]:
    """How USER stands to CASE: dispatcher, lead, reporter, grid, supervisor."""
    out = set()
    if not user.is_authenticated or not user.is_active:
        return out
    if case.reporter_id == user.pk:
        out.add("reporter")
    if can(user, Action.DISPATCH_CASE) and in_territory(user, case.region_path):
        out.add("dispatcher")
    if can(user, Action.SUPERVISE_CASE) and in_territory(user, case.region_path):
        out.add("supervisor")
    if user.role in HANDLER_ROLES and in_lead_unit(user, case):
        out.add("lead")
    if user.role == Role.GRID_WORKER and case.grid_id and user.region_id == case.grid_id:
        out.add("grid")
    return out


def refusal(user: User, case: Case, action: str) -> str | None:
    """Why USER may not perform ACTION on CASE now (Chinese), or None when they may."""
    rule = RULES[action]
    if not relations(user, case) & set(rule.who):
        return f"您无权对该事件执行“{rule.label}”"
    if case.state not in rule.from_states:
        return f"事件当前为“{case.get_state_display()}”，不能{rule.label}"
    return None


def allowed_actions(user: User, case: Case) -> list[str]:
    return [name for name in RULES if refusal(user, case, name) is None]


def may_reveal_phone(user, case: Case) -> bool:
    """Who needs the whole number: the case's own dispatchers (they take in, call back for the
    evaluation, verify and reopen — in any state), and members of the lead unit while they may
    still record the contact with the reporter (联系反映人: dispatched or in progress). Assisting
    units, leaders, admins and grid workers of the grid do not call the reporter."""
    if not case.reporter_phone or case.anonymous:
        return False
    rel = relations(user, case)
    if "dispatcher" in rel:
        return True
    return "lead" in rel and case.state in RULES["respond"].from_states
