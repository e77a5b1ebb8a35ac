"""Do a community's grids cover it exactly once? Reports overlaps between grids, gaps
inside the community that no grid covers, and grid area that spills outside it."""

from dataclasses import dataclass, field

import shapely
from django.conf import settings

from grassroots.territory import geo
from grassroots.territory.levels import Level
from grassroots.territory.models import Region
from grassroots.territory.queries import subtree


def tolerance_m2() -> float:
    return float(getattr(settings, "GRID_CHECK_TOLERANCE_M2", 1.0))


@dataclass
class Overlap:
    a: str
    b: str
    area_m2: float
    a_name: str = ""
    b_name: str = ""


@dataclass
class CommunityCoverage:
    code: str
    name: str
    grid_count: int
    has_boundary: bool
    overlaps: list[Overlap] = field(default_factory=list)
    gap_m2: float = 0.0
    gap_geojson: dict | None = None
    outside: list[tuple[str, float]] = field(default_factory=list)
    ungridded: list[str] = field(default_factory=list)  # grids without a polygon

    @property
    def ok(self) -> bool:
        return not (self.overlaps or self.gap_m2 or self.outside or self.ungridded)

    def problems(self) -> list[str]:
        lines = [f"网格 {o.a} 与 {o.b} 重叠 {o.area_m2:,.0f} 平方米" for o in self.overlaps]
        if self.gap_m2:
            lines.append(f"社区内有 {self.gap_m2:,.0f} 平方米未被任何网格覆盖")
        lines += [f"网格 {code} 有 {area:,.0f} 平方米超出社区边界" for code, area in self.outside]
        if self.ungridded:
            lines.append(f"{len(self.ungridded)} 个网格没有边界：{'、'.join(self.ungridded[:5])}")
        if not self.has_boundary:
            lines.append("社区未设置边界，只检查了网格之间的重叠")
        return lines


def check_community(community: Region) -> CommunityCoverage:
    tol = tolerance_m2()
    grids = list(Region.objects.filter(parent=community, level=Level.GRID).order_by("code"))
    report = CommunityCoverage(community.code, community.name, len(grids), bool(community.boundary))
    report.ungridded = [g.code for g in grids if not g.boundary]
    shaped = [(g, geo.to_geometry(g.boundary)) for g in grids if g.boundary]
    if not shaped:
        if community.boundary:
            # No grid polygon at all: the whole community is a gap.
            outline = geo.to_geometry(community.boundary)
            area = geo.area_m2(outline)
            if area > tol:
                report.gap_m2 = round(area, 1)
                report.gap_geojson = geo.to_geojson(outline)
        return report
    geoms = [s for _, s in shaped]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        area = geo.area_m2(geoms[i].intersection(geoms[j]))
        if area > tol:
            a, b = shaped[i][0], shaped[j][0]
            report.overlaps.append(Overlap(a.code, b.code, round(area, 1), a.name, b.name))
    if community.boundary:
        outline = geo.to_geometry(community.boundary)
        union = shapely.union_all(geoms)
        gap = outline.difference(union)
        gap_area = geo.area_m2(gap)
        if gap_area > tol:
            report.gap_m2 = round(gap_area, 1)
            report.gap_geojson = geo.to_geojson(gap)
        for grid, geom in shaped:
            spill = geo.area_m2(geom.difference(outline))
            if spill > tol:
                report.outside.append((grid.code, round(spill, 1)))
    return report


def check_region(node: Region) -> list[CommunityCoverage]:
    """Coverage of every community at or below NODE."""
    if node.level == Level.GRID:
        node = node.parent
    communities = subtree(node, levels=[Level.COMMUNITY]).order_by("code")
    return [check_community(c) for c in communities]
