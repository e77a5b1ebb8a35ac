"""Geometry of grids: GeoJSON ↔ shapely, areas in m², and the point → grid index.

The index is an STRtree over every grid polygon, built once per process and rebuilt
when grids change: at once in the process that changed them (signals), and within
GRID_INDEX_CHECK_SECONDS in every other process (a cheap max(updated_at)/count check).
"""

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max
from shapely.geometry import shape

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


class GridIndex:
    """An in-memory spatial index of every grid polygon."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        geoms = [to_geometry(r["boundary"]) for r in rows]
        self.geoms = np.array(geoms, dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)

    @classmethod
    def build(cls) -> "GridIndex":
        from grassroots.territory.models import Region

        rows = list(
            Region.objects.filter(level=Level.GRID, boundary__isnull=False)
            .order_by("code")
            .values("id", "code", "name", "path", "boundary")
        )
        return cls(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _hit(self, i: int) -> GridHit:
        r = self.rows[i]
        return GridHit(r["id"], r["code"], r["name"], r["path"])

    def lookup(self, lon: float, lat: float) -> GridHit | None:
        """The grid containing (lon, lat), or None. Points on a shared edge go to the lowest code."""
        candidates = self.tree.query(shapely.Point(lon, lat))
        for i in sorted(candidates):
            if shapely.intersects_xy(self.geoms[i], lon, lat):
                return self._hit(i)
        return None

    def lookup_many(self, lons, lats) -> list[GridHit | None]:
        """Vectorised lookup for many points at once (imports, generators, benchmarks)."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        found: dict[int, int] = {}
        for p, g in zip(point_idx.tolist(), geom_idx.tolist(), strict=True):
            if p not in found or g < found[p]:
                found[p] = g
        return [self._hit(found[i]) if i in found else None for i in range(len(points))]


_lock = threading.Lock()
_state: dict = {"index": None, "stamp": None, "checked": 0.0}


def _stamp():
    from grassroots.territory.models import Region

    agg = Region.objects.filter(level=Level.GRID).aggregate(n=Count("id"), last=Max("updated_at"))
    return (agg["n"], agg["last"])


def grid_index() -> GridIndex:
    """The current process-wide grid index, rebuilt when grids have changed."""
    now = time.monotonic()
    state = _state
    if state["index"] is not None and now - state["checked"] < settings.GRID_INDEX_CHECK_SECONDS:
        return state["index"]
    with _lock:
        if state["index"] is not None and now - state["checked"] < settings.GRID_INDEX_CHECK_SECONDS:
            return state["index"]
        stamp = _stamp()
        if state["index"] is None or stamp != state["stamp"]:
            state["index"] = GridIndex.build()
            state["stamp"] = stamp
        state["checked"] = now
        return state["index"]


def invalidate_grid_index() -> None:
    """Forget the index so the next lookup rebuilds it (called when grids change here)."""
    with _lock:
        _state["index"] = None
        _state["stamp"] = None
        _state["checked"] = 0.0


def locate(lon: float, lat: float) -> GridHit | None:
    return grid_index().lookup(lon, lat)
