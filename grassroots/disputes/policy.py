"""Who may do what to a dispute or a petition, in one table each. Scope comes from accounts.permissions.

Relations of a user to a dispute:
  * `registrar` — may register disputes (grid workers, community staff, dispatchers, mediators)
    and the dispute lies in their territory;
  * `mediator`  — may mediate (mediators, community staff) and the mediating committee
    (handling_region) lies in their territory: a community's mediators work their
    committee's disputes; a street's mediators also those of its communities;
  * `coordinator` — a dispatcher (综治中心) whose territory holds the dispute: may escalate
    it and flag 民转刑.
Of a user to a petition: `office` — may handle petitions (dispatchers: 综治中心 and the
petition office) and the petition lies in their territory; `leader` — the petition's case
leader (包案领导).
"""


from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, records_q
from grassroots.accounts.roles import Action
from grassroots.cases.policy import Rule, in_territory  # the same rule shape and territory test as cases
from grassroots.disputes.models import Dispute, Petition, PetitionState, Stage

S = Stage
P = PetitionState


_OPEN = frozenset({S.REGISTERED, S.ACCEPTED, S.MEDIATING, S.AGREED, S.FAILED, S.FOLLOW_UP})

RULES: dict[str, Rule] = {
    "accept": Rule("受理（双方同意调解）", frozenset({S.REGISTERED}), ("mediator",)),
    "refuse": Rule("当事人不同意调解", frozenset({S.REGISTERED, S.ACCEPTED}), ("mediator",)),
    "record_session": Rule("记录调解", frozenset({S.ACCEPTED, S.MEDIATING}), ("mediator",)),
    "agree": Rule("达成调解协议", frozenset({S.MEDIATING}), ("mediator",)),
    "sign": Rule("协议签名生效", frozenset({S.AGREED}), ("mediator",)),
    "fail": Rule("调解不成", frozenset({S.ACCEPTED, S.MEDIATING}), ("mediator",)),
    "escalate": Rule("提级调解", frozenset({S.REGISTERED, S.ACCEPTED, S.MEDIATING, S.FAILED}), ("mediator", "coordinator")),
    "refer": Rule("引导分流", frozenset({S.FAILED}), ("mediator",)),
    "confirm": Rule("司法确认", frozenset({S.AGREED, S.FOLLOW_UP}), ("mediator",)),
    "follow_up": Rule("履行回访", frozenset({S.AGREED, S.FOLLOW_UP}), ("mediator",)),
    "close": Rule("结案", frozenset({S.FOLLOW_UP}), ("mediator",)),
    "assess_risk": Rule("风险研判", frozenset({S.REGISTERED, S.ACCEPTED, S.MEDIATING, S.FAILED}),
                        ("mediator", "registrar", "coordinator")),
    "flag_criminal": Rule("标记民转刑", _OPEN | {S.CLOSED, S.REFERRED}, ("mediator", "coordinator")),
}

PETITION_RULES: dict[str, Rule] = {
    "accept": Rule("受理", frozenset({P.REGISTERED}), ("office",)),
    "not_accept": Rule("不予受理", frozenset({P.REGISTERED}), ("office",)),
    "extend": Rule("延期", frozenset({P.ACCEPTED}), ("office",)),
    "reply": Rule("书面答复", frozenset({P.ACCEPTED}), ("office", "leader")),
    "request_review": Rule("申请复查", frozenset({P.REPLIED}), ("office",)),
    "answer_review": Rule("复查答复", frozenset({P.REVIEWING}), ("office", "leader")),
    "request_recheck": Rule("申请复核", frozenset({P.REVIEWED}), ("office",)),
    "answer_recheck": Rule("复核答复", frozenset({P.RECHECKING}), ("office", "leader")),
    "assign": Rule("确定包案领导和责任人",
                   frozenset({P.REGISTERED, P.ACCEPTED, P.REPLIED, P.REVIEWING, P.REVIEWED, P.RECHECKING}), ("office",)),
    "plan": Rule("一案一策",
                 frozenset({P.REGISTERED, P.ACCEPTED, P.REPLIED, P.REVIEWING, P.REVIEWED, P.RECHECKING}),
                 ("office", "leader")),
}


def visible_disputes_q(user: User):
    return records_q(user, path_field="region_path")


def relations(user: User, dispute: Dispute) -> set[str]:
    out: set[str] = set()
    if not user.is_authenticated or not user.is_active:
        return out
    if can(user, Action.REGISTER_DISPUTE) and in_territory(user, dispute.region_path):
        out.add("registrar")
    if can(user, Action.MEDIATE) and in_territory(user, dispute.handling_region.path):
        out.add("mediator")
    if can(user, Action.HANDLE_PETITION) and in_territory(user, dispute.region_path):
        out.add("coordinator")
    return out


def petition_relations(user: User, petition: Petition) -> set[str]:
    out: set[str] = set()
    if not user.is_authenticated or not user.is_active:
        return out
    if can(user, Action.HANDLE_PETITION) and in_territory(user, petition.region_path):
        out.add("office")
    if petition.case_leader_id == user.pk:
        out.add("leader")
    return out


def refusal(user: User, dispute: Dispute, action: str) -> str | None:
    """Why USER may not do ACTION to DISPUTE now (Chinese), or None when they may."""
    rule = RULES[action]
    if not relations(user, dispute) & set(rule.who):
        return f"您无权对该纠纷执行“{rule.label}”"
    if dispute.stage not in rule.from_states:
        return f"纠纷当前为“{dispute.get_stage_display()}”，不能{rule.label}"
    return None


def petition_refusal(user: User, petition: Petition, action: str) -> str | None:
    rule = PETITION_RULES[action]
    if not petition_relations(user, petition) & set(rule.who):
        return f"您无权对该信访件执行“{rule.label}”"
    if petition.state not in rule.from_states:
        return f"信访件当前为“{petition.get_state_display()}”，不能{rule.label}"
    return None


def may_reveal_party(user: User, dispute: Dispute) -> bool:
    """Who may read a party's whole ID number and phone (to call them, to draw up the agreement):
    the mediators of the dispute's committee. Everyone else sees them masked."""
    return "mediator" in relations(user, dispute)


def may_reveal_petitioner(user: User, petition: Petition) -> bool:
    """Who may read a petitioner's whole ID number and phone: the petition office holding it, and
    its case leader (包案领导), who receives and calls the petitioner."""
    return bool(petition_relations(user, petition) & {"office", "leader"})


def allowed_actions(user: User, dispute: Dispute) -> list[str]:
    return [name for name in RULES if refusal(user, dispute, name) is None]


def allowed_petition_actions(user: User, petition: Petition) -> list[str]:
    return [name for name in PETITION_RULES if petition_refusal(user, petition, name) is None]
