"""Polygons for the synthetic city: where each district lies and how a polygon is cut into children.

Why the shapes are built this way:

* Districts must never overlap. Each district is its Voronoi cell among the sixteen real
  district centres (so cells are disjoint by construction), cut to a box of the district's
  approximate real extent (so 东城区 stays a narrow strip at lon 116.385–116.445,
  lat 39.86–39.97 and 延庆区 a large block in the north-west). Cells of a convex outline cut
  by boxes are convex.
* A parent is cut into N children by the Voronoi diagram of N well-spread seeded points,
  after one Lloyd relaxation (each point moved to its cell's centroid) so cells are of
  similar size. Voronoi cells clipped to a convex parent are convex, non-empty (each holds
  its seed) and tile the parent with neither gaps nor overlaps.
* Coordinates are stored rounded to COORD_DECIMALS. Rounding to 7 decimals (≈1 cm) moves
  the vertices a grid inserts on its community's outline off that outline; summed over a
  community that reaches a few m² of gap, above the 1 m² tolerance of territory.coverage.
  At 9 decimals the worst community of the L city still shows 0.3 m²; at 10 decimals
  (≈0.01 mm) it shows 0.03 m², and neighbouring districts overlap by under 0.1 m².
"""

import math
import random
from functools import cache

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

from grassroots.generator import sources

COORD_DECIMALS = 10

# An approximate outline of Beijing (convex, WGS-84). Province and city nodes use it.
CITY_OUTLINE = Polygon(
    [
        (115.42, 40.18), (115.62, 39.62), (116.05, 39.50), (116.45, 39.44), (116.75, 39.60),
        (117.20, 39.92), (117.51, 40.25), (117.40, 40.70), (116.90, 41.00), (116.45, 41.06),
        (115.95, 40.85), (115.55, 40.55), (115.42, 40.18),
    ]
).convex_hull

# Approximate real extents (min lon, min lat, max lon, max lat) of each district, used to
# cut its Voronoi cell to a plausible size and shape.
DISTRICT_EXTENTS: dict[str, tuple[float, float, float, float]] = {
    "110101": (116.385, 39.860, 116.445, 39.970),  # 东城区
    "110102": (116.320, 39.865, 116.395, 39.960),  # 西城区
    "110105": (116.400, 39.810, 116.640, 40.090),  # 朝阳区
    "110106": (116.110, 39.780, 116.430, 39.900),  # 丰台区
    "110107": (116.130, 39.880, 116.260, 39.990),  # 石景山区
    "110108": (116.060, 39.900, 116.390, 40.160),  # 海淀区
    "110109": (115.420, 39.800, 116.210, 40.160),  # 门头沟区
    "110111": (115.420, 39.480, 116.250, 39.920),  # 房山区
    "110112": (116.540, 39.610, 116.930, 40.020),  # 通州区
    "110113": (116.440, 40.000, 116.980, 40.300),  # 顺义区
    "110114": (115.830, 40.030, 116.480, 40.400),  # 昌平区
    "110115": (116.210, 39.440, 116.660, 39.840),  # 大兴区
    "110116": (116.280, 40.220, 116.930, 41.060),  # 怀柔区
    "110117": (116.920, 40.000, 117.500, 40.370),  # 平谷区
    "110118": (116.660, 40.230, 117.500, 40.840),  # 密云区
    "110119": (115.730, 40.270, 116.550, 40.780),  # 延庆区
}

# Approximate centres of the four 东城区 streets whose real communities make the demo, so
# they sit side by side where they really are (east of the Forbidden City and 景山).
STREET_ANCHORS: dict[str, tuple[float, float]] = {
    "110101001000": (116.410, 39.913),  # 东华门街道
    "110101002000": (116.403, 39.929),  # 景山街道
    "110101003000": (116.409, 39.940),  # 交道口街道
    "110101004000": (116.410, 39.951),  # 安定门街道
}


@cache
def district_polygons() -> dict[str, Polygon]:
    """Each district's polygon by code: its Voronoi cell among the real centres, cut to its extent."""
    rows = sources.districts()
    points = [(r.center_lon, r.center_lat) for r in rows]
    cells = voronoi_cells(points, CITY_OUTLINE)
    out = {}
    for row, cell in zip(rows, cells, strict=True):
        extent = DISTRICT_EXTENTS.get(row.code)
        if extent is None:  # a district without a known extent: a 10 km box round its centre
            half = 5 / 111.32
            extent = (row.center_lon - half, row.center_lat - half, row.center_lon + half, row.center_lat + half)
        out[row.code] = largest_polygon(cell.intersection(box(*extent)))
    return out


def largest_polygon(geom) -> Polygon:
    """GEOM if it is a Polygon, else its largest polygonal part (intersections of nearly
    convex shapes may add slivers of no area)."""
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    polygons = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    if not polygons:
        raise ValueError("几何中没有多边形")
    return max(polygons, key=lambda p: p.area)


def voronoi_cells(points: list[tuple[float, float]], parent: Polygon) -> list[Polygon]:
    """The Voronoi cells of POINTS clipped to PARENT, in the order of POINTS."""
    if len(points) == 1:
        return [parent]
    diagram = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=parent)
    cells = np.array(list(diagram.geoms), dtype=object)
    point_idx, cell_idx = shapely.STRtree(cells).query(shapely.points(points), predicate="within")
    cell_of = dict(zip(point_idx.tolist(), cell_idx.tolist(), strict=True))
    if len(cell_of) != len(points):
        raise ValueError("种子点重复或落在单元边界上")
    ordered = cells[[cell_of[i] for i in range(len(points))]]
    return [largest_polygon(g) for g in shapely.intersection(ordered, parent)]


def spread_points(
    parent: Polygon, n: int, rng: random.Random, fixed: list[tuple[float, float] | None] | None = None
) -> list[tuple[float, float]]:
    """N points inside PARENT, spread out by Mitchell's best-candidate rule (of 8 random
    candidates, keep the one farthest from the points already placed). FIXED[i], when given
    and inside PARENT, is used for point i as is."""
    minx, miny, maxx, maxy = parent.bounds
    kx = math.cos(math.radians((miny + maxy) / 2))  # compare distances in roughly metric units
    fixed = list(fixed or []) + [None] * n
    chosen: list[tuple[float, float] | None] = [
        f if f is not None and shapely.contains_xy(parent, *f) else None for f in fixed[:n]
    ]
    placed = [p for p in chosen if p is not None]
    for i in range(n):
        if chosen[i] is not None:
            continue
        candidates: list[tuple[float, float]] = []
        while len(candidates) < 8:
            xs = [minx + rng.random() * (maxx - minx) for _ in range(16)]
            ys = [miny + rng.random() * (maxy - miny) for _ in range(16)]
            inside = shapely.contains_xy(parent, np.array(xs), np.array(ys))
            candidates += [(x, y) for x, y, ok in zip(xs, ys, inside.tolist(), strict=True) if ok]
        candidates = candidates[:8]
        if placed:
            cand = np.array(candidates)
            have = np.array(placed)
            dx = (cand[:, None, 0] - have[None, :, 0]) * kx
            dy = cand[:, None, 1] - have[None, :, 1]
            best = int(np.argmax((dx * dx + dy * dy).min(axis=1)))
        else:
            best = 0
        chosen[i] = candidates[best]
        placed.append(candidates[best])
    return chosen  # type: ignore[return-value]


def partition(
    parent: Polygon,
    n: int,
    rng: random.Random,
    *,
    anchors: list[tuple[float, float] | None] | None = None,
    relax: int = 1,
) -> list[Polygon]:
    """Cut PARENT into N polygons that tile it (Voronoi of spread points, RELAX Lloyd steps).

    ANCHORS[i], when given, pins child i's seed (it is not moved by relaxation).
    """
    if n < 1:
        return []
    if n == 1:
        return [parent]
    pinned = list(anchors or []) + [None] * n
    points = spread_points(parent, n, rng, pinned[:n])
    pinned = [p if p is not None and p == q else None for p, q in zip(pinned[:n], points, strict=True)]
    cells = voronoi_cells(points, parent)
    for _ in range(relax):
        centroids = shapely.centroid(np.array(cells, dtype=object))
        points = [pin if pin is not None else (c.x, c.y) for pin, c in zip(pinned, centroids, strict=True)]
        cells = voronoi_cells(points, parent)
    return cells


def rounded(polygon: Polygon, decimals: int = COORD_DECIMALS) -> Polygon:
    """POLYGON, counter-clockwise (RFC 7946), with coordinates rounded; unrounded if rounding
    would make it invalid (a sliver whose vertices collapse)."""
    polygon = orient(polygon, 1.0)
    result = shapely.remove_repeated_points(shapely.transform(polygon, lambda c: np.round(c, decimals)))
    return result if isinstance(result, Polygon) and result.is_valid and not result.is_empty else polygon


def to_geojson(polygon: Polygon) -> dict:
    """A GeoJSON Polygon with plain lists (as it reads back from a JSONField)."""
    return {
        "type": "Polygon",
        "coordinates": [np.asarray(ring.coords).tolist() for ring in [polygon.exterior, *polygon.interiors]],
    }
