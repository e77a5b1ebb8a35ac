"""The plan of a synthetic city's territory: every node's code, name, level and polygon.

Planning is pure (no database), so the same scale and seed always give the same plan and
tests can compare plans directly. Each node draws from its own random stream, named by
the seed, a purpose and its code: adding a district to a scale, or a step to the
generator, never changes the shapes or names of the others. In particular a district is cut
into all its real streets at every scale, so 东华门街道 has the same polygon in S, M and L.
"""

import random
from dataclasses import dataclass

from shapely.geometry import Polygon

from grassroots.generator import names, shapes, sources
from grassroots.territory.levels import Level

PROVINCE = ("110000", "北京市")
CITY = ("110100", "市辖区")


@dataclass(frozen=True)
class Scale:
    code: str
    label: str
    district_codes: tuple[str, ...] | None  # None: every district
    real_streets_only: bool  # only the streets whose real communities we know
    communities_per_street: tuple[int, int]  # generated communities, inclusive range
    grids_per_community: tuple[int, int]
    cases_count: int = 0  # cases (事件) over the last 90 days, made by the cases app's step
    persons_count: int = 0  # persons (实有人口) with their houses and households, made by the ledger app's step


SCALES: dict[str, Scale] = {
    "S": Scale("S", "演示：东城区 4 个街道、36 个真实社区", ("110101",), True, (0, 0), (3, 5), 300, 3_000),
    "M": Scale("M", "中等：东城区、西城区、朝阳区（约百万人口）", ("110101", "110102", "110105"), False, (10, 14), (5, 7),
               50_000, 50_000),
    "L": Scale("L", "全市：16 个区（约 3.5 万个网格，用于性能测试）", None, False, (15, 21), (5, 7), 1_000_000),
}


@dataclass
class PlannedRegion:
    code: str
    name: str
    level: str
    parent_code: str | None
    polygon: Polygon


def node_rng(seed: int, purpose: str, code: str) -> random.Random:
    """A random stream for one purpose at one node (str seeds are hashed with SHA-512,
    so the stream does not depend on PYTHONHASHSEED or the platform)."""
    return random.Random(f"grassroots:{seed}:{purpose}:{code}")


def plan_territory(scale: Scale, seed: int) -> list[PlannedRegion]:
    """Every node of the city, parents before children (level by level, codes ascending)."""
    real_communities: dict[str, list[sources.CommunityRow]] = {}
    for row in sources.communities():
        real_communities.setdefault(row.street_code, []).append(row)
    streets_of: dict[str, list[sources.StreetRow]] = {}
    for row in sources.streets():
        streets_of.setdefault(row.district_code, []).append(row)

    outline = shapes.rounded(shapes.CITY_OUTLINE)
    province = PlannedRegion(*PROVINCE, Level.PROVINCE, None, outline)
    city = PlannedRegion(*CITY, Level.CITY, PROVINCE[0], outline)
    districts, streets, communities, grids = [], [], [], []

    wanted = scale.district_codes
    for d in sorted(sources.districts(), key=lambda r: r.code):
        if wanted is not None and d.code not in wanted:
            continue
        district = PlannedRegion(d.code, d.name, Level.DISTRICT, CITY[0], shapes.rounded(shapes.district_polygons()[d.code]))
        districts.append(district)
        all_streets = sorted(streets_of.get(d.code, []), key=lambda r: r.code)
        cells = shapes.partition(
            district.polygon,
            len(all_streets),
            node_rng(seed, "streets", d.code),
            anchors=[shapes.STREET_ANCHORS.get(s.code) for s in all_streets],
        )
        for s, cell in zip(all_streets, cells, strict=True):
            if scale.real_streets_only and s.code not in real_communities:
                continue
            street = PlannedRegion(s.code, s.name, Level.STREET, d.code, shapes.rounded(cell))
            streets.append(street)
            members = _community_names(scale, seed, s, real_communities.get(s.code))
            cells = shapes.partition(street.polygon, len(members), node_rng(seed, "communities", s.code))
            for (code, name), cell_ in zip(members, cells, strict=True):
                community = PlannedRegion(code, name, Level.COMMUNITY, s.code, shapes.rounded(cell_))
                communities.append(community)
                rng = node_rng(seed, "grids", code)
                count = rng.randint(*scale.grids_per_community)
                for n, grid_cell in enumerate(shapes.partition(community.polygon, count, rng), start=1):
                    grids.append(
                        PlannedRegion(f"{code}{n:03d}", names.grid_name(name, n), Level.GRID, code, shapes.rounded(grid_cell))
                    )
    by_code = lambda r: r.code  # noqa: E731
    return [province, city, *sorted(districts, key=by_code), *sorted(streets, key=by_code),
            *sorted(communities, key=by_code), *sorted(grids, key=by_code)]


def _community_names(
    scale: Scale, seed: int, street: sources.StreetRow, real: list[sources.CommunityRow] | None
) -> list[tuple[str, str]]:
    """(code, name) of a street's communities: the real ones where we know them, otherwise
    generated. Towns (镇/乡) get a few 社区 (codes 001…) and mostly villages (村, codes 201…),
    as the statistical codes do; names are unique within the street."""
    if real:
        return [(r.code, r.name) for r in sorted(real, key=lambda r: r.code)]
    rng = node_rng(seed, "community-names", street.code)
    count = rng.randint(*scale.communities_per_street)
    prefix = street.code[:9]
    taken: set[str] = set()
    if not street.is_town:
        return [(f"{prefix}{i:03d}", names.community_name(rng, taken)) for i in range(1, count + 1)]
    urban = max(1, count // 4)
    out = [(f"{prefix}{i:03d}", names.community_name(rng, taken)) for i in range(1, urban + 1)]
    out += [(f"{prefix}{200 + i:03d}", names.village_name(rng, taken)) for i in range(1, count - urban + 1)]
    return out
