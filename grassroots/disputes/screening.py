"""Screening rounds (矛盾纠纷排查): find disputes before they grow.

Regular rounds are scheduled per unit (settings.DISPUTE_SCREENING: weekly per community,
monthly per street and district); special rounds (专项排查) are opened around sensitive
dates for every community of a territory. A round is closed by listing the disputes it
found or by declaring that none were found. A round still open at its due time turns
overdue: the worker marks it and tells the tier above, whose home page lists it.
"""

from collections import Counter
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, regions_q, sees_everything
from grassroots.accounts.roles import Action
from grassroots.disputes import policy
from grassroots.disputes.models import Dispute, ScreeningRound
from grassroots.disputes.services import DisputeError, NotAllowed, _text
from grassroots.territory.levels import Level
from grassroots.territory.models import Region
from grassroots.territory.queries import path_prefix_q

SCREENED_LEVELS = (Level.COMMUNITY, Level.STREET, Level.DISTRICT)


def _end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.max.time().replace(microsecond=0)))


def period(every: str, today: date) -> tuple[date, date, str]:
    """(first day, last day, title) of the week or month holding TODAY."""
    if every == "week":
        start = today - timedelta(days=today.weekday())
        year, week, _ = start.isocalendar()
        return start, start + timedelta(days=6), f"{year}年第{week}周定期排查"
    start = today.replace(day=1)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return start, nxt - timedelta(days=1), f"{start.year}年{start.month}月定期排查"


def schedule(today: date | None = None) -> int:
    """Make sure every community, street and district has its regular round for the current
    period (idempotent: the unique constraint round_once ignores those that exist)."""
    today = today or timezone.localdate()
    made = 0
    for level in SCREENED_LEVELS:
        every = settings.DISPUTE_SCREENING.get(level)
        if not every:
            continue
        start, end, title = period(every, today)
        due = _end_of(end)
        regions = Region.objects.filter(level=level).values_list("id", "path")
        existing = set(ScreeningRound.objects.filter(kind=ScreeningRound.Kind.REGULAR, period_start=start, title=title,
                                                     region__level=level).values_list("region_id", flat=True))
        rows = [ScreeningRound(region_id=rid, region_path=path, kind=ScreeningRound.Kind.REGULAR, title=title,
                               period_start=start, due_at=due, next_due_at=due)
                for rid, path in regions if rid not in existing]
        ScreeningRound.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        made += len(rows)
    return made


def open_special(actor: User, region: Region, *, title: str, start: date, due: date) -> list[ScreeningRound]:
    """专项排查 around a sensitive date: one round for every community of REGION (and REGION)."""
    if not can(actor, Action.SCREEN_DISPUTES):
        raise NotAllowed("您的角色不能组织矛盾纠纷排查")
    if not policy.in_territory(actor, region.path):
        raise DisputeError("所选辖区不在您的范围内", "region_code")
    title = _text(title, "排查名称", "title", limit=80)
    if due < start:
        raise DisputeError("完成期限不能早于开始日期", "due")
    if due < timezone.localdate():
        raise DisputeError("完成期限不能早于今天", "due")
    units = list(Region.objects.filter(path_prefix_q("path", region.path), level=Level.COMMUNITY))
    if region.level != Level.COMMUNITY:
        units.append(region)
    if not units:
        raise DisputeError("所选辖区下没有社区（村）", "region_code")
    due_at = _end_of(due)
    with transaction.atomic():
        rows = [ScreeningRound(region=r, region_path=r.path, kind=ScreeningRound.Kind.SPECIAL, title=title,
                               period_start=start, due_at=due_at, next_due_at=due_at) for r in units]
        ScreeningRound.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


def may_close(actor: User, rnd: ScreeningRound) -> bool:
    """The round's own unit (or anyone below it who screens: a grid worker, community staff)."""
    if not can(actor, Action.SCREEN_DISPUTES):
        return False
    if sees_everything(actor):
        return True
    if not actor.region_id:
        return False
    mine = actor.region.path
    return rnd.region_path.startswith(mine) or (mine.startswith(rnd.region_path) and actor.region.level in
                                                 (Level.GRID, Level.COMMUNITY, rnd.region.level))


def close_round(actor: User, rnd: ScreeningRound, *, dispute_numbers: list[str] | None = None,
                none_found: bool = False, note: str = "") -> ScreeningRound:
    """Close a round by listing the disputes found (registered in its territory) or declaring none."""
    if not may_close(actor, rnd):
        raise NotAllowed("您无权完成该排查")
    if rnd.closed_at is not None:
        raise DisputeError("该排查已完成", "disputes")
    numbers = [n.strip() for n in (dispute_numbers or []) if n and n.strip()]
    note = _text(note, "说明", "note", required=False, limit=300)
    if numbers and none_found:
        raise DisputeError("已列出矛盾纠纷时不能同时声明“未发现”", "none_found")
    if not numbers and not none_found:
        raise DisputeError("请列出本轮排查发现的矛盾纠纷，或声明未发现矛盾纠纷", "disputes")
    found = list(Dispute.objects.filter(path_prefix_q("region_path", rnd.region_path), number__in=numbers))
    missing = sorted(set(numbers) - {d.number for d in found})
    if missing:
        raise DisputeError(f"以下纠纷不存在或不在本次排查范围内：{'、'.join(missing)}", "disputes")
    now = timezone.now()
    with transaction.atomic():
        updated = ScreeningRound.objects.filter(pk=rnd.pk, closed_at__isnull=True).update(
            closed_at=now, closed_by=actor, none_found=none_found, note=note, next_due_at=None)
        if not updated:
            raise DisputeError("该排查刚被他人完成，请刷新", "disputes")
        Dispute.objects.filter(pk__in=[d.pk for d in found]).update(screening_round=rnd)
    rnd.refresh_from_db()
    return rnd


def rounds_for(user: User):
    return ScreeningRound.objects.filter(regions_q(user, "region_path")).select_related("region")


def overdue_rollup(user: User) -> list[dict]:
    """Overdue rounds inside the user's scope, counted per unit (for the tier above)."""
    rows = rounds_for(user).filter(closed_at__isnull=True, due_at__lt=timezone.now()).values_list(
        "region__name", "region__level", "title")
    counts = Counter((name, level) for name, level, _ in rows)
    return [{"unit": name, "level": level, "count": n} for (name, level), n in counts.most_common()]
