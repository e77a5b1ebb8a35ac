"""Point → grid lookup (territory.geo): which grid a coordinate falls in, and how the
process-wide index notices that grids changed.

conftest `tree`: community A is the square 116.40–116.41 × 39.90–39.91, split at
lon 116.405 into A1 (west) and A2 (east); B (116.41–116.42) into B1 and B2; C1 covers
116.31–116.32 × 39.90–39.91.
"""

import random
from datetime import timedelta

import pytest
import shapely
from django.db import connection
from django.utils import timezone

from grassroots.territory import geo, services
from grassroots.territory.levels import Level
from grassroots.territory.models import Region
from tests.conftest import square

A1, A2 = "110101001001001", "110101001001002"
B1, B2 = "110101001002001", "110101001002002"
C1 = "110102001001001"


@pytest.fixture(autouse=True)
def fresh_index():
    """Each test starts without a cached index (a previous test's transaction was rolled back)."""
    geo.invalidate_grid_index()
    yield
    geo.invalidate_grid_index()


def code_at(lon, lat):
    hit = geo.locate(lon, lat)
    return hit.code if hit else None


def test_points_inside_each_grid(tree):
    assert code_at(116.402, 39.905) == A1
    assert code_at(116.408, 39.905) == A2
    assert code_at(116.412, 39.901) == B1
    assert code_at(116.419, 39.909) == B2
    assert code_at(116.315, 39.905) == C1
    hit = geo.locate(116.402, 39.905)
    assert hit.id == tree["A1"].pk
    assert hit.name == "多福巷第一网格"
    assert hit.path == tree["A1"].path


@pytest.mark.parametrize(
    "lon, lat",
    [
        (116.35, 39.905),  # between 西城 C and 东城 A
        (116.402, 39.95),  # north of A
        (116.402, 39.899),  # just south of A
        (116.43, 39.905),  # east of B
        (39.905, 116.402),  # swapped axes
        (0.0, 0.0),
    ],
)
def test_points_outside_every_grid(tree, lon, lat):
    assert geo.locate(lon, lat) is None
    assert geo.grid_index().lookup_many([lon], [lat]) == [None]


def test_no_grids_at_all(db):
    assert geo.locate(116.4, 39.9) is None
    assert len(geo.grid_index()) == 0
    assert geo.grid_index().lookup_many([116.4, 116.5], [39.9, 39.9]) == [None, None]


def test_only_grids_are_indexed(tree):
    # The communities and districts have polygons too; a point is answered with a grid, never with them.
    index = geo.grid_index()
    assert len(index) == 5
    assert {r["code"] for r in index.rows} == {A1, A2, B1, B2, C1}
    # Inside 东城区's square but outside every grid:
    assert code_at(116.395, 39.925) is None


def test_point_on_shared_edge_goes_to_lowest_code(tree):
    # lon 116.405 is the edge between A1 and A2; lon 116.41 between A2 and B1.
    for lat in (39.9, 39.901, 39.905, 39.91):
        assert code_at(116.405, lat) == A1
        assert code_at(116.41, lat) == A2
    # The corner shared by A2, B1 (and nothing else).
    assert code_at(116.41, 39.90) == A2
    index = geo.grid_index()
    assert [h.code for h in index.lookup_many([116.405, 116.41, 116.412], [39.905, 39.905, 39.905])] == [A1, A2, B1]


def test_shared_edge_rule_does_not_depend_on_creation_order_or_position(tree):
    # Two new grids in C's street… placed east→west with the LOWER code created LAST and lying EAST.
    c = tree["C"]
    Region.objects.filter(pk=tree["C1"].pk).update(boundary=square(116.30, 39.95, 0.001))  # out of the way
    services.create_region("110102001001009", "九", Level.GRID, c, square(116.31, 39.90, 0.005, 0.01))
    services.create_region("110102001001003", "三", Level.GRID, c, square(116.315, 39.90, 0.005, 0.01))
    assert code_at(116.315, 39.905) == "110102001001003"
    assert code_at(116.312, 39.905) == "110102001001009"
    assert geo.grid_index().lookup_many([116.315], [39.905])[0].code == "110102001001003"


def test_lookup_many_agrees_with_lookup_on_random_points(tree):
    index = geo.grid_index()
    rng = random.Random(20260601)
    lons, lats = [], []
    for _ in range(2000):
        lons.append(rng.uniform(116.29, 116.43))
        lats.append(rng.uniform(39.88, 39.92))
    # …and points exactly on edges and corners, where the tie rule matters.
    for lon in (116.40, 116.405, 116.41, 116.415, 116.42, 116.31, 116.32):
        for lat in (39.90, 39.905, 39.91):
            lons.append(lon)
            lats.append(lat)
    many = index.lookup_many(lons, lats)
    single = [index.lookup(lon, lat) for lon, lat in zip(lons, lats, strict=True)]
    assert many == single
    found = [h for h in many if h]
    # Grids cover 0.03 × 0.01 of a 0.14 × 0.04 box: about 5 % of the random points.
    assert 50 < len(found) < 200
    assert {h.code for h in found} == {A1, A2, B1, B2, C1}
    # Every hit really contains its point (checked against the stored polygon, not the index).
    polygons = {r.code: geo.to_geometry(r.boundary) for r in Region.objects.filter(level=Level.GRID)}
    for hit, lon, lat in zip(many, lons, lats, strict=True):
        if hit:
            assert polygons[hit.code].intersects(shapely.Point(lon, lat))
        else:
            assert not any(p.intersects(shapely.Point(lon, lat)) for p in polygons.values())


def test_multipolygon_grid(tree):
    two_parts = {
        "type": "MultiPolygon",
        "coordinates": [
            square(116.33, 39.90, 0.002)["coordinates"],
            square(116.34, 39.90, 0.002)["coordinates"],
        ],
    }
    services.create_region("110102001001002", "飞地网格", Level.GRID, tree["C"], two_parts)
    assert code_at(116.331, 39.901) == "110102001001002"
    assert code_at(116.341, 39.901) == "110102001001002"
    assert code_at(116.336, 39.901) is None  # between the two parts
    index = geo.grid_index()
    assert [h and h.code for h in index.lookup_many([116.331, 116.336, 116.341], [39.901] * 3)] == [
        "110102001001002", None, "110102001001002"
    ]


def test_polygon_with_hole(tree):
    ring = {
        "type": "Polygon",
        "coordinates": [
            [[116.33, 39.90], [116.34, 39.90], [116.34, 39.91], [116.33, 39.91], [116.33, 39.90]],
            [[116.334, 39.904], [116.336, 39.904], [116.336, 39.906], [116.334, 39.906], [116.334, 39.904]],
        ],
    }
    services.create_region("110102001001002", "回字网格", Level.GRID, tree["C"], ring)
    assert code_at(116.331, 39.901) == "110102001001002"
    assert code_at(116.335, 39.905) is None  # in the hole
    assert geo.grid_index().lookup_many([116.335], [39.905]) == [None]
    # A grid that fills the hole (an island inside the ring) gets the points in the hole.
    services.create_region("110102001001003", "岛网格", Level.GRID, tree["C"], square(116.334, 39.904, 0.002))
    assert code_at(116.335, 39.905) == "110102001001003"
    assert code_at(116.333, 39.905) == "110102001001002"


def test_grid_without_boundary_is_not_indexed(tree):
    services.create_region("110101001001003", "待划网格", Level.GRID, tree["A"])
    assert len(geo.grid_index()) == 5
    assert code_at(116.402, 39.905) == A1


# --- keeping the index fresh -------------------------------------------------------------


def test_set_boundary_refreshes_the_index_at_once(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 3600  # other processes' changes would wait an hour
    assert code_at(116.402, 39.905) == A1
    # Move A1 to an empty spot north of A.
    services.set_boundary(tree["A1"], square(116.40, 39.95, 0.005, 0.01))
    assert code_at(116.402, 39.905) is None
    assert code_at(116.402, 39.955) == A1
    # Removing the boundary takes it out of the index.
    services.set_boundary(tree["A1"], None)
    assert code_at(116.402, 39.955) is None


def test_new_and_deleted_grids_in_this_process(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 3600
    assert code_at(116.395, 39.925) is None
    new = services.create_region("110101001001004", "新网格", Level.GRID, tree["A"], square(116.39, 39.92, 0.01))
    assert code_at(116.395, 39.925) == "110101001001004"
    new.delete()
    assert code_at(116.395, 39.925) is None


def test_import_adds_grids_to_the_index_at_once(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 3600
    assert code_at(116.395, 39.925) is None
    csv_text = "code,name,level,parent_code\n110101001001005,新增网格,网格,110101001001\n"
    geojson = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "110101001001005"},'
        ' "geometry": {"type": "Polygon", "coordinates": [[[116.39, 39.92], [116.40, 39.92], [116.40, 39.93],'
        " [116.39, 39.93], [116.39, 39.92]]]}}]}"
    )
    report = services.import_territory(csv_text, geojson)
    assert report.ok, report.errors
    assert code_at(116.395, 39.925) == "110101001001005"
    # A boundary-only import of an existing grid moves it at once too.
    moved = geojson.replace("110101001001005", A2)
    report = services.import_territory(None, moved)
    assert report.ok, report.errors
    # A2 now overlaps the new grid; the lower code (A2) wins there.
    assert code_at(116.395, 39.925) == A2
    assert code_at(116.408, 39.905) is None


def _change_elsewhere(pk, boundary):
    """What another process does: a write that sends no signal here, with a newer updated_at."""
    latest = Region.objects.filter(level=Level.GRID).order_by("-updated_at").first().updated_at
    Region.objects.filter(pk=pk).update(boundary=boundary, updated_at=max(timezone.now(), latest) + timedelta(seconds=1))


def test_other_process_change_is_seen_after_the_check_interval(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 3600
    index = geo.grid_index()
    assert code_at(116.402, 39.905) == A1

    _change_elsewhere(tree["A1"].pk, square(116.40, 39.95, 0.005, 0.01))

    # Within the interval: not even checked, the old index answers.
    assert geo.grid_index() is index
    assert code_at(116.402, 39.905) == A1
    assert code_at(116.402, 39.955) is None

    # Once the interval has passed the stamp is compared and the index rebuilt.
    settings.GRID_INDEX_CHECK_SECONDS = 0
    assert code_at(116.402, 39.955) == A1
    assert code_at(116.402, 39.905) is None
    assert geo.grid_index() is not index


def test_stamp_check_does_not_rebuild_when_nothing_changed(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 0
    index = geo.grid_index()
    assert geo.grid_index() is index
    # A change to a non-grid node does not touch the grid index either.
    services.set_boundary(tree["A"], square(116.40, 39.90, 0.011))
    assert geo.grid_index() is index


def test_other_process_deleting_a_grid_is_seen_by_the_count(tree, settings):
    settings.GRID_INDEX_CHECK_SECONDS = 3600
    index = geo.grid_index()
    assert code_at(116.315, 39.905) == C1
    with connection.cursor() as cursor:  # no signal, no updated_at: only the count changes
        cursor.execute(f"DELETE FROM {Region._meta.db_table} WHERE id = %s", [tree["C1"].pk])
    assert code_at(116.315, 39.905) == C1  # stale until the next check
    settings.GRID_INDEX_CHECK_SECONDS = 0
    assert code_at(116.315, 39.905) is None
    assert geo.grid_index() is not index
    assert len(geo.grid_index()) == 4
