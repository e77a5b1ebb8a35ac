"""Geometry of grids: GeoJSON ↔ shapely, areas in m², and the point → grid index.

The index is an STRtree over every grid polygon, built once per process and rebuilt
when grids change: at once in the process that changed them (signals), and within
GRID_INDEX_CHECK_SECONDS in every other process (a cheap max(updated_at)/count check).
"""

import math
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import Count, Max
from shapely.geometry import shape

from grassroots.lib.snapshot import Snapshot
from grassroots.territory.levels import Level

EARTH_RADIUS_M = 6_371_008.8


def to_geometry(geojson: dict):
    """A shapely geometry from a GeoJSON geometry dict (raises ValueError when malformed)."""
    try:
        geom = shape(geojson)
    except Exception as exc:  # shapely raises several kinds for malformed input
        raise ValueError(str(exc)) from exc
    return geom


def to_geojson(geom) -> dict:
    return shapely.geometry.mapping(geom)


def area_m2(geom) -> float:
    """Area of a WGS-84 geometry in square metres (local equirectangular projection).

    Good to well under 1 % for the size of a district; enough to report gaps and overlaps.
    """
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(lat0)
    ky = math.radians(1) * EARTH_RADIUS_M
    return geom.area * kx * ky


@dataclass(frozen=True)
class GridHit:
    id: int
    code: str
    name: str
    path: str
    parent_id: int | None = None
    depth: int | None = None


class GridIndex:
    """An in-memory spatial index of every grid polygon.

    Single lookups go through a bucket grid kept in plain Python (a dict from cell to the
    grids whose bounding box touches it) rather than the STRtree: building the shapely
    Point an STRtree query needs costs as much as the query itself, and together they held
    single lookups near 20,000/s on a city of 37,000 grids. With buckets a lookup is some
    arithmetic, a dict get, bounding-box compares and usually one prepared intersects_xy
    (see bench/territory.py). lookup_many, already vectorised, keeps the STRtree.
    """

    # Bucket side: the median grid's larger extent, but never so small that the city
    # spans more than MAX_BUCKETS_PER_AXIS buckets along an axis. A grid that would fill
    # more than LARGE_GRID_BUCKETS buckets (a placeholder covering a whole town, say) is
    # kept in a short list checked on every lookup instead.
    MAX_BUCKETS_PER_AXIS = 2048
    LARGE_GRID_BUCKETS = 256

    def __init__(self, rows: list[dict]):
        self.rows = rows
        geoms = [to_geometry(r["boundary"]) for r in rows]
        self.geoms = np.array(geoms, dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self._hits = [GridHit(r["id"], r["code"], r["name"], r["path"], r.get("parent_id"), r.get("depth"))
                      for r in rows]
        self._build_buckets()

    def _build_buckets(self) -> None:
        bounds = shapely.bounds(self.geoms) if len(self.geoms) else np.empty((0, 4))
        usable = ~np.isnan(bounds).any(axis=1)  # empty geometries have NaN bounds
        self._bounds = bounds.tolist()
        self._buckets: dict[tuple[int, int], tuple[int, ...]] = {}
        self._large: list[int] = []
        self._x0 = self._y0 = 0.0
        self._x1 = self._y1 = -math.inf  # the extent of all grids: nothing is found outside it
        self._scale = 1.0
        if not usable.any():
            return
        b = bounds[usable]
        self._x0, self._y0 = float(b[:, 0].min()), float(b[:, 1].min())
        self._x1, self._y1 = float(b[:, 2].max()), float(b[:, 3].max())
        span = max(self._x1 - self._x0, self._y1 - self._y0)
        side = max(float(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))), span / self.MAX_BUCKETS_PER_AXIS, 1e-9)
        self._scale = 1.0 / side
        buckets: dict[tuple[int, int], list[int]] = {}
        for i in np.flatnonzero(usable).tolist():  # ascending, so each bucket lists the lowest code first
            minx, miny, maxx, maxy = self._bounds[i]
            x1, x2 = math.floor((minx - self._x0) * self._scale), math.floor((maxx - self._x0) * self._scale)
            y1, y2 = math.floor((miny - self._y0) * self._scale), math.floor((maxy - self._y0) * self._scale)
            if (x2 - x1 + 1) * (y2 - y1 + 1) > self.LARGE_GRID_BUCKETS:
                self._large.append(i)
                continue
            for bx in range(x1, x2 + 1):
                for by in range(y1, y2 + 1):
                    buckets.setdefault((bx, by), []).append(i)
        self._buckets = {key: tuple(value) for key, value in buckets.items()}

    @classmethod
    def build(cls) -> "GridIndex":
        from grassroots.territory.models import Region

        rows = list(
            Region.objects.filter(level=Level.GRID, boundary__isnull=False)
            .order_by("code")
            .values("id", "code", "name", "path", "parent_id", "depth", "boundary")
        )
        return cls(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _hit(self, i: int) -> GridHit:
        return self._hits[i]

    def lookup(self, lon: float, lat: float) -> GridHit | None:
        """The grid containing (lon, lat), or None. Points on a shared edge go to the lowest code."""
        if not (self._x0 <= lon <= self._x1 and self._y0 <= lat <= self._y1):  # also NaN
            return None
        key = (math.floor((lon - self._x0) * self._scale), math.floor((lat - self._y0) * self._scale))
        found = self._first_containing(self._buckets.get(key, ()), lon, lat, None)
        if self._large:
            found = self._first_containing(self._large, lon, lat, found)
        return None if found is None else self._hits[found]

    def _first_containing(self, candidates, lon: float, lat: float, below: int | None) -> int | None:
        """The lowest index among CANDIDATES (ascending) whose grid contains the point, if lower than BELOW."""
        for i in candidates:
            if below is not None and i >= below:
                break
            minx, miny, maxx, maxy = self._bounds[i]
            if minx <= lon <= maxx and miny <= lat <= maxy and shapely.intersects_xy(self.geoms[i], lon, lat):
                return i
        return below

    def lookup_many(self, lons, lats) -> list[GridHit | None]:
        """Vectorised lookup for many points at once (imports, generators, benchmarks)."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        found: dict[int, int] = {}
        for p, g in zip(point_idx.tolist(), geom_idx.tolist(), strict=True):
            if p not in found or g < found[p]:
                found[p] = g
        return [self._hit(found[i]) if i in found else None for i in range(len(points))]


def _stamp():
    from grassroots.territory.models import Region

    agg = Region.objects.filter(level=Level.GRID).aggregate(n=Count("id"), last=Max("updated_at"))
    return (agg["n"], agg["last"])


_index: Snapshot[GridIndex] = Snapshot("grid index", GridIndex.build, _stamp)


def grid_index() -> GridIndex:
    """The current process-wide grid index, rebuilt when grids have changed (lib.snapshot)."""
    return _index.get()


def invalidate_grid_index() -> None:
    """Forget the index so the next lookup rebuilds it (called when grids change here)."""
    _index.invalidate()


def locate(lon: float, lat: float) -> GridHit | None:
    return grid_index().lookup(lon, lat)
