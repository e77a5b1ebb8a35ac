"""The matter catalog: loading the default, and admin edits that keep history."""

import csv
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Max

from grassroots.cases.models import Matter, MatterChange, Priority, Tier
from grassroots.lib.snapshot import Snapshot

DEFAULT_CATALOG = Path(__file__).resolve().parent / "data" / "matter_catalog.csv"
EDITABLE = ("name", "department_code", "tier", "priority", "response_hours", "resolve_workdays", "description", "active")


def read_catalog(path: Path = DEFAULT_CATALOG) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@transaction.atomic
def load_default_catalog(path: Path = DEFAULT_CATALOG) -> int:
    """Create the catalog's matters that do not exist yet; existing ones (maybe edited) stay."""
    existing = set(Matter.objects.values_list("code", flat=True))
    new = [
        Matter(
            code=row["code"],
            category=row["category"],
            subcategory=row["subcategory"],
            name=row["matter"],
            department_code=row["department"],
            tier=row["level"],
            priority=row["priority"] or Priority.NORMAL,
            response_hours=int(row["response_hours"]),
            resolve_workdays=int(row["resolve_workdays"]),
            description=row["description"],
        )
        for row in read_catalog(path)
        if row["code"] not in existing
    ]
    Matter.objects.bulk_create(new)
    matters.invalidate()
    return len(new)


def matter_problems(values: dict) -> dict[str, str]:
    """Field → Chinese message for values an admin may not set."""
    problems = {}
    if "tier" in values and values["tier"] not in Tier.values:
        problems["tier"] = "处置层级应为网格、社区、街道或区级部门"
    if "priority" in values and values["priority"] not in Priority.values:
        problems["priority"] = "紧急程度应为一般或紧急"
    for key, low, high in (("response_hours", 1, 720), ("resolve_workdays", 1, 180)):
        if key in values:
            value = values[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems[key] = f"应为 {low} 到 {high} 之间的整数"
    if "name" in values and not str(values["name"]).strip():
        problems["name"] = "事项名称不能为空"
    return problems


@transaction.atomic
def change_matter(matter: Matter, values: dict, by=None) -> Matter:
    """Edit a matter (limits, tier, retire/restore). Open cases keep the limits they were opened under."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"不能修改：{'、'.join(sorted(unknown))}")
    problems = matter_problems(values)
    if problems:
        raise ValueError("；".join(problems.values()))
    before = {k: getattr(matter, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    if not changed:
        return matter
    for key, value in changed.items():
        setattr(matter, key, value)
    matter.save()
    MatterChange.objects.create(matter=matter, by=by, before={k: before[k] for k in changed}, after=changed)
    return matter


# --- the catalog in memory ---------------------------------------------------------------------
# Every intake classifies among the active codes and snapshots one matter's limits; the catalog
# changes when an admin edits it. One lib.snapshot per process: this process's edits invalidate
# it (cases.signals), other processes' are seen within GRID_INDEX_CHECK_SECONDS. The instances
# are shared: read them, never change them (change_matter takes its own from the database).


def _load_matters() -> dict[str, Matter]:
    return {m.code: m for m in Matter.objects.all()}


def _matters_stamp() -> tuple:
    agg = Matter.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    return (agg["n"], agg["last"])


matters: Snapshot[dict[str, Matter]] = Snapshot("catalog", _load_matters, _matters_stamp)


def active_matter(code: str) -> Matter | None:
    matter = matters.get().get(code)
    return matter if matter is not None and matter.active else None


def active_codes() -> set[str]:
    return {code for code, m in matters.get().items() if m.active}
