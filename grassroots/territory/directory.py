"""The territory above the grids and every district's departments, kept in memory.

Intake asks for a case's street, district and lead department on every report; these rows
change a few times a year. One lib.snapshot holds them per process: the regions above grid
level (an L city has about 7,500) and the departments, loaded at once. Grids (tens of
thousands, with large boundaries) are not kept: intake builds its grid from the grid index's
own row (grid_of), and a grid asked for by code is one query. Changes made here invalidate it through territory.signals; changes made by
another process are seen within GRID_INDEX_CHECK_SECONDS.

The instances are shared by every request of the process: read them, never change them.
"""

from dataclasses import dataclass

from django.db.models import Count, Max

from grassroots.lib.snapshot import Snapshot
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Department, Region


@dataclass
class _Directory:
    by_code: dict[str, Region]
    departments: dict[tuple[int, str], Department]


def _load() -> _Directory:
    regions = {r.code: r for r in Region.objects.exclude(level=Level.GRID).defer("boundary")}
    by_pk = {r.pk: r for r in regions.values()}
    departments = {}
    for d in Department.objects.all():
        d.district = by_pk[d.district_id]  # what select_related("district") would have given
        departments[(d.district_id, d.code)] = d
    return _Directory(regions, departments)


def _stamp() -> tuple:
    regions = Region.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    departments = Department.objects.aggregate(n=Count("id"), last=Max("id"))
    return (regions["n"], regions["last"], departments["n"], departments["last"])


directory: Snapshot[_Directory] = Snapshot("territory", _load, _stamp)


def region_by_code(code: str) -> Region | None:
    found = directory.get().by_code.get(code)
    if found is None:  # a grid (or nothing): one query, boundary deferred
        found = Region.objects.filter(code=code).defer("boundary").first()
    return found


def grid_of(hit) -> Region:
    """The grid a geo.locate hit names, as a Region built from the index's own row — no query.
    The columns the index does not keep (boundary, centre, area…) are deferred: reading one
    loads it, as for any deferred field."""
    names = ("id", "code", "name", "level", "parent_id", "path", "depth")
    return Region.from_db(None, names, (hit.id, hit.code, hit.name, Level.GRID, hit.parent_id, hit.path, hit.depth))


def ancestor_at(region: Region, level: str) -> Region | None:
    """REGION itself or its ancestor at LEVEL (None when REGION is above that level)."""
    if DEPTH[region.level] < DEPTH[level]:
        return None
    if region.level == level:
        return region
    return region_by_code(region.path.strip("/").split("/")[DEPTH[level]])


def department(district: Region | None, code: str) -> Department | None:
    if district is None:
        return None
    return directory.get().departments.get((district.pk, code))
