"""The disputes' deadline sweep (矛盾纠纷与信访时限检查), run by `grassroots worker`.

Three kinds of rows carry an indexed `next_due_at` (partial indexes dispute_next_due,
petition_next_due, round_next_due); a run reads only the rows whose moment has passed,
oldest first, in batches — never a scan of all open records:

* disputes: mediation overdue (DISPUTE_MEDIATION_DAYS after acceptance) → mediators told;
  judicial confirmation window (人民调解法 第33条, 30 days from the agreement's effect)
  closing in DISPUTE_CONFIRM_WARN_DAYS → reminder; closed unapplied → "逾期未申请";
  follow-up due (第31条) → reminder;
* petitions: a limit (受理 15 / 办理 60(+30) / 复查复核答复 30 days) about to pass → reminder to
  the office, the case leader and the responsible person; passed → overdue, told again;
  a reply's request window passed → closed (办结);
* screening rounds: still open at their due time → overdue, the tier above told.

Each row is claimed with a conditional UPDATE on the next_due_at (and version) this worker
read, so with several workers each reminder goes out once; on PostgreSQL the batch is also
selected FOR UPDATE SKIP LOCKED (lib.worker.locked). Notifications go through
cases.notify.deliver (disputes.notify.tell).
"""

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from grassroots.disputes import petitions as petition_services
from grassroots.disputes import services
from grassroots.disputes.models import (
    Confirmation,
    Dispute,
    DisputeEvent,
    Petition,
    PetitionEvent,
    ScreeningRound,
    Stage,
)
from grassroots.disputes.notify import dispute_link, mediators_of, offices_for, petition_link, staff_of, tell
from grassroots.lib.worker import claim, job, locked
from grassroots.territory.models import Region

BATCH_SIZE = 200
SYSTEM = "系统"


@job("disputes.deadlines", label="矛盾纠纷与信访时限检查", every=60)
def sweep_deadlines() -> int:
    return sweep()


@job("disputes.screening", label="矛盾纠纷排查排期", every=3600)
def schedule_rounds() -> int:
    from grassroots.disputes.screening import schedule

    return schedule()


def sweep(now: datetime | None = None) -> int:
    now = now or timezone.now()
    return sweep_disputes(now) + sweep_petitions(now) + sweep_rounds(now)


# --- disputes -------------------------------------------------------------------------------


def sweep_disputes(now: datetime) -> int:
    return _sweep_due(Dispute.objects.filter(next_due_at__lte=now).order_by("next_due_at", "pk")
                      .select_related("handling_region"), _dispute_due, now)


def _sweep_due(due, handle, now: datetime) -> int:
    """The rows of DUE (ordered oldest first) in locked batches, each row handed to
    HANDLE(row, NOW, outbox) inside the batch's transaction (True: handled); the outbox is sent
    after the batch commits. Returns how many were handled."""
    handled = 0
    while True:
        outbox: list[tuple] = []
        with transaction.atomic():
            batch = locked(due, BATCH_SIZE)
            handled += sum(1 for row in batch if handle(row, now, outbox))
        _send(outbox)
        if len(batch) < BATCH_SIZE:
            return handled


def _send(outbox: list[tuple]) -> None:
    """The batch's notifications, after its transaction committed and let go of its row locks:
    a backend (webhook, SMS) may take seconds, and a rolled-back batch must not have told anyone."""
    for users, kind, text, link in outbox:
        tell(users, kind, text, link)


def _dispute_due(d: Dispute, now: datetime, outbox: list[tuple]) -> bool:
    seen_due, seen_version = d.next_due_at, d.version
    changes, messages = {}, []
    if d.stage in (Stage.ACCEPTED, Stage.MEDIATING) and d.mediation_due_at and now >= d.mediation_due_at \
            and not d.overdue:
        changes["overdue"] = True
        messages.append(("overdue", f"矛盾纠纷 {d.number}（{d.title}）调解已超过 {timezone.localtime(d.mediation_due_at):%Y-%m-%d} 的期限"))
    if d.stage in (Stage.AGREED, Stage.FOLLOW_UP) and d.confirmation == Confirmation.NONE and d.confirm_due_at:
        if now >= d.confirm_due_at:
            changes["confirmation"] = Confirmation.LAPSED
            messages.append(("confirm_lapsed", f"矛盾纠纷 {d.number} 的调解协议已超过司法确认申请期限（生效之日起 30 日）"))
        elif not d.confirm_warned and now >= services.confirm_warn_at(d):
            changes["confirm_warned"] = True
            messages.append(("confirm_warn", f"矛盾纠纷 {d.number} 的调解协议司法确认申请期限将于 "
                             f"{timezone.localtime(d.confirm_due_at):%Y-%m-%d %H:%M} 届满，需要申请的请提醒当事人"))
    if d.stage == Stage.AGREED and d.follow_up_due_at and now >= d.follow_up_due_at and not d.overdue:
        changes["overdue"] = True
        messages.append(("follow_up_due", f"矛盾纠纷 {d.number} 的调解协议履行期限已过，请进行履行回访"))
    for key, value in changes.items():
        setattr(d, key, value)
    d.next_due_at = services.next_due(d)
    # Claim: only if nobody acted on the dispute (version) and no other worker handled it (next_due_at).
    if not claim(Dispute.objects.filter(pk=d.pk, version=seen_version, next_due_at=seen_due),
                 next_due_at=d.next_due_at, **changes):
        return False
    mediators = mediators_of(d.handling_region) if messages else []
    for kind, text in messages:
        DisputeEvent.objects.create(dispute=d, actor_name=SYSTEM, action=kind, from_stage=d.stage, to_stage=d.stage,
                                    note=text)
        outbox.append((mediators, f"dispute_{kind}", text, dispute_link(d)))
    return True


# --- petitions ------------------------------------------------------------------------------


def sweep_petitions(now: datetime) -> int:
    # No select_related of the nullable leader/responsible: FOR UPDATE refuses outer joins.
    return _sweep_due(Petition.objects.filter(next_due_at__lte=now).order_by("next_due_at", "pk"), _petition_due, now)


def _petition_due(p: Petition, now: datetime, outbox: list[tuple]) -> bool:
    clock, due = petition_services.current_due(p)
    if clock == "request":
        try:
            petition_services.close_after_window(p, p.version)
        except petition_services.Conflict:
            return False
        return True
    if due is None:
        return bool(Petition.objects.filter(pk=p.pk, next_due_at=p.next_due_at).update(next_due_at=None))
    seen_due, seen_version = p.next_due_at, p.version
    label = petition_services.CLOCK_LABELS[clock]
    changes = {}
    if now >= due:
        changes = {"overdue": True, "warned_for": due}
        kind, text = "overdue", f"信访件 {p.number}（{p.title}）已超过{label}（{timezone.localtime(due):%Y-%m-%d}）"
    else:
        changes = {"warned_for": due}
        kind, text = "warn", f"信访件 {p.number}（{p.title}）的{label}将于 {timezone.localtime(due):%Y-%m-%d %H:%M} 届满"
    for key, value in changes.items():
        setattr(p, key, value)
    p.next_due_at = petition_services.next_due(p)
    if not claim(Petition.objects.filter(pk=p.pk, version=seen_version, next_due_at=seen_due),
                 next_due_at=p.next_due_at, **changes):
        return False
    PetitionEvent.objects.create(petition=p, actor_name=SYSTEM, action=kind, from_state=p.state, to_state=p.state,
                                 note=text, data={"clock": clock})
    outbox.append((offices_for(p.region_path) + [p.case_leader, p.responsible], f"petition_{kind}", text,
                   petition_link(p)))
    return True


# --- screening rounds -----------------------------------------------------------------------


def sweep_rounds(now: datetime) -> int:
    handled = 0
    while True:
        outbox: list[tuple] = []
        with transaction.atomic():
            batch = locked(ScreeningRound.objects.filter(next_due_at__lte=now).order_by("next_due_at", "pk")
                           .select_related("region"), BATCH_SIZE)
            # (not select_related("region__parent"): FOR UPDATE refuses the outer join of a nullable parent)
            above_of = Region.objects.in_bulk({rnd.region.parent_id for rnd in batch} - {None})
            for rnd in batch:
                if not claim(ScreeningRound.objects.filter(pk=rnd.pk, next_due_at=rnd.next_due_at, closed_at__isnull=True),
                             overdue=True, next_due_at=None):
                    continue
                handled += 1
                above: Region | None = above_of.get(rnd.region.parent_id)
                if above is not None:
                    outbox.append((staff_of(above, ["dispatcher", "mediator", "leader"]) + mediators_of(rnd.region),
                                   "screening_overdue", f"{rnd.region.name}的“{rnd.title}”已逾期未完成",
                                   reverse("disputes:rounds")))
        _send(outbox)
        if len(batch) < BATCH_SIZE:
            return handled


