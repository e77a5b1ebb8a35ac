"""Reads of disputes and petitions: scoped lists, worklists, indicators and monthly tables.

Everything goes through the viewer's scope (accounts.permissions via disputes.policy):
nothing outside it is listed, counted or exported.
"""

from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, records_q
from grassroots.accounts.roles import Action
from grassroots.disputes import policy
from grassroots.disputes.models import (
    FINAL_STAGES,
    PETITION_FINAL,
    Confirmation,
    Dispute,
    Petition,
    Stage,
)
from grassroots.territory.levels import Level

RELATED = ("grid", "region", "handling_region")


def disputes(user: User) -> QuerySet[Dispute]:
    if not can(user, Action.VIEW_DISPUTES):
        return Dispute.objects.none()
    return Dispute.objects.filter(policy.visible_disputes_q(user)).select_related(*RELATED)


def petitions(user: User) -> QuerySet[Petition]:
    if not can(user, Action.VIEW_PETITIONS):
        return Petition.objects.filter(case_leader=user) if user.is_authenticated else Petition.objects.none()
    # records_q: everything for those who see everything (a Q() OR-ed with the case-leader test
    # would have narrowed them to their own), else the territory or the petitions they lead.
    return Petition.objects.filter(records_q(user, path_field="region_path", owner_field="case_leader")).select_related(
        "region", "office")


def get_dispute(user: User, number: str) -> Dispute | None:
    return disputes(user).filter(number=number).first()


def get_petition(user: User, number: str) -> Petition | None:
    return petitions(user).filter(number=number).first()


# --- worklists --------------------------------------------------------------------------------

DISPUTE_LISTS = [
    ("to_accept", "待受理"),
    ("mediating", "调解中"),
    ("overdue", "超期"),
    ("confirm", "司法确认临期"),
    ("follow_up", "待回访"),
    ("failed", "调解不成待处理"),
    ("all", "全部"),
]
PETITION_LISTS = [
    ("to_accept", "待受理"),
    ("handling", "办理中"),
    ("due_soon", "临期"),
    ("overdue", "超期"),
    ("review", "复查复核"),
    ("backlog", "积案"),
    ("repeat", "重复信访"),
    ("all", "全部"),
]


def dispute_worklist(user: User, key: str, now: datetime | None = None) -> QuerySet[Dispute]:
    now = now or timezone.now()
    qs = disputes(user)
    if key == "to_accept":
        return qs.filter(stage=Stage.REGISTERED)
    if key == "mediating":
        return qs.filter(stage__in=[Stage.ACCEPTED, Stage.MEDIATING])
    if key == "overdue":
        return qs.filter(stage__in=[Stage.ACCEPTED, Stage.MEDIATING], mediation_due_at__lt=now)
    if key == "confirm":
        return qs.filter(stage__in=[Stage.AGREED, Stage.FOLLOW_UP], confirmation=Confirmation.NONE,
                         confirm_due_at__gte=now, confirm_due_at__lt=now + timedelta(days=10))
    if key == "follow_up":
        return qs.filter(stage=Stage.AGREED, agreement__effective_at__isnull=False)
    if key == "failed":
        return qs.filter(stage=Stage.FAILED)
    if key == "all":
        return qs
    raise KeyError(key)


def petition_worklist(user: User, key: str, now: datetime | None = None) -> QuerySet[Petition]:
    now = now or timezone.now()
    qs = petitions(user)
    open_ = qs.exclude(state__in=PETITION_FINAL)
    if key == "to_accept":
        return qs.filter(state="registered")
    if key == "handling":
        return qs.filter(state="accepted")
    if key == "due_soon":
        return open_.filter(Q(state="registered", accept_due_at__range=(now, now + timedelta(days=3)))
                            | Q(state="accepted", handle_due_at__range=(now, now + timedelta(days=7))))
    if key == "overdue":
        return open_.filter(Q(state="registered", accept_due_at__lt=now) | Q(state="accepted", handle_due_at__lt=now)
                            | Q(state__in=["reviewing", "rechecking"], answer_due_at__lt=now))
    if key == "review":
        return qs.filter(state__in=["reviewing", "rechecking"])
    if key == "backlog":
        return backlog(user, now)
    if key == "repeat":
        return qs.filter(Q(repeat_of__isnull=False) | Q(repeat_count__gt=0))
    if key == "all":
        return qs
    raise KeyError(key)


def backlog(user: User, now: datetime | None = None) -> QuerySet[Petition]:
    """积案: marked as such (一案一策), or open past its handling limit, or petitioned again and again."""
    now = now or timezone.now()
    return petitions(user).exclude(state__in=PETITION_FINAL).filter(
        Q(backlog=True) | Q(state="accepted", handle_due_at__lt=now) | Q(repeat_count__gte=2))


def dispute_summary(user: User) -> list[dict]:
    return [{"key": k, "label": label, "count": dispute_worklist(user, k).count()}
            for k, label in DISPUTE_LISTS if k != "all"]


def petition_summary(user: User) -> list[dict]:
    return [{"key": k, "label": label, "count": petition_worklist(user, k).count()}
            for k, label in PETITION_LISTS if k != "all"]


# --- indicators -------------------------------------------------------------------------------


def month_range(month: date) -> tuple[datetime, datetime]:
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    tz = timezone.get_current_timezone()
    return (datetime.combine(start, datetime.min.time(), tzinfo=tz), datetime.combine(end, datetime.min.time(), tzinfo=tz))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def indicators(qs: QuerySet[Dispute]) -> dict:
    """小事不出村、大事不出镇: where disputes were concluded, success and on-time rates, 民转刑."""
    concluded = qs.filter(concluded_at__isnull=False)
    by_tier = dict(concluded.values_list("tier").annotate(n=Count("id")).values_list("tier", "n"))
    total = sum(by_tier.values())
    success = qs.filter(stage__in=[Stage.AGREED, Stage.FOLLOW_UP, Stage.CLOSED]).count()
    failed = qs.filter(stage__in=[Stage.FAILED, Stage.REFERRED], consent_at__isnull=False).count()
    timed = concluded.filter(mediation_due_at__isnull=False)
    on_time = sum(1 for c, d in timed.values_list("concluded_at", "mediation_due_at") if c <= d)
    return {
        "registered": qs.count(),
        "concluded": total,
        "by_tier": {level: by_tier.get(level, 0) for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT)},
        "community_share": _share(by_tier.get(Level.COMMUNITY, 0), total),
        "within_street_share": _share(by_tier.get(Level.COMMUNITY, 0) + by_tier.get(Level.STREET, 0), total),
        "success_rate": _share(success, success + failed),
        "on_time_rate": _share(on_time, timed.count()),
        "criminal": qs.filter(criminal=True).count(),
        "open": qs.exclude(stage__in=FINAL_STAGES).count(),
    }


def monthly_table(user: User, month: date) -> list[dict]:
    """One row per mediating tier for the disputes registered in MONTH, plus a total row."""
    start, end = month_range(month)
    qs = disputes(user).filter(created_at__gte=start, created_at__lt=end)
    rows = []
    for level, label in ((Level.COMMUNITY, "社区（村）调委会"), (Level.STREET, "街道矛调中心"), (Level.DISTRICT, "区矛调中心")):
        rows.append({"tier": label, **indicators(qs.filter(tier=level))})
    rows.append({"tier": "合计", **indicators(qs)})
    return rows


def records_of_resident(user: User, limit: int = 100) -> dict:
    """What the platform holds on a resident in disputes and petitions: the parties and petitions
    registered under their (verified) phone, found by its keyed digest (lib.privacy)."""
    from grassroots.disputes.models import Party
    from grassroots.lib import privacy

    if not user.phone:
        return {"parties": [], "petitions": []}
    found = privacy.digests("phone", privacy.plain_of(user.phone))
    parties = list(Party.objects.filter(phone_digest__in=found).select_related("dispute").order_by("-id")[:limit])
    petitions = list(Petition.objects.filter(petitioner_phone_digest__in=found).order_by("-received_at")[:limit])
    return {"parties": parties, "petitions": petitions}
