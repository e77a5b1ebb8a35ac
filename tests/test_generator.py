"""The demo city (scale S): real names and codes, reproducible shapes, clean grids, one login per role."""

import io
import random

import pytest
import shapely
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.generator import layout, sources
from grassroots.generator.staff import DEMO_LOGINS
from grassroots.territory import geo
from grassroots.territory.coverage import check_region
from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Department, Region
from grassroots.territory.services import geometry_fields, region_path

DEMO_PASSWORD = "Demo-city-2026"


def generate(seed: int = 1) -> str:
    out = io.StringIO()
    call_command("generate", "--scale", "S", "--seed", str(seed), "--password", DEMO_PASSWORD, stdout=out)
    return out.getvalue()


@pytest.fixture
def city(db):
    generate()
    return Region.objects.get(code="110100")


def snapshot() -> dict:
    regions = list(Region.objects.order_by("code").values_list("code", "name", "level", "path", "boundary"))
    return {
        "regions": [r[:4] for r in regions],
        "boundaries": {r[0]: r[4] for r in regions},
        "users": list(User.objects.order_by("username").values_list("username", "full_name", "phone", "role")),
    }


def delete_city() -> None:
    """Empty the database the way an operator would before generating again (children first)."""
    from grassroots.cases.models import Case

    Case.objects.update(merged_into=None)
    Case.objects.all().delete()
    User.objects.all().delete()
    Department.objects.all().delete()
    for depth in sorted(DEPTH.values(), reverse=True):
        Region.objects.filter(depth=depth).delete()


def test_s_city_has_the_real_dongcheng_streets_and_communities(city):
    counts = {level: Region.objects.filter(level=level).count() for level in Level}
    assert counts[Level.PROVINCE] == counts[Level.CITY] == counts[Level.DISTRICT] == 1
    assert counts[Level.STREET] == 4
    assert counts[Level.COMMUNITY] == 36 == len(sources.communities())
    assert 36 * 3 <= counts[Level.GRID] <= 36 * 5
    for community in Region.objects.filter(level=Level.COMMUNITY):
        assert 3 <= community.children.count() <= 5

    names = dict(Region.objects.values_list("code", "name"))
    assert names["110000"] == "北京市" and names["110100"] == "市辖区" and names["110101"] == "东城区"
    assert {names[c] for c in ["110101001000", "110101002000", "110101003000", "110101004000"]} == {
        "东华门街道", "景山街道", "交道口街道", "安定门街道"
    }
    duofu = Region.objects.get(code="110101001001")
    assert duofu.name == "多福巷社区"
    assert duofu.parent.code == "110101001000"
    assert duofu.path == "/110000/110100/110101/110101001000/110101001001/"
    first_grid = Region.objects.get(code="110101001001001")
    assert first_grid.name == "多福巷社区第1网格"
    assert first_grid.parent == duofu


def test_paths_depths_and_geometry_fields_are_what_create_region_stores(city):
    for region in Region.objects.select_related("parent"):
        assert region.path == region_path(region.parent, region.code)
        assert region.depth == DEPTH[region.level]
        assert region.boundary["type"] == "Polygon"
        fields = geometry_fields(region.boundary)
        assert (region.center_lon, region.center_lat, region.area_m2) == (
            fields["center_lon"], fields["center_lat"], fields["area_m2"]
        )
    for grid in Region.objects.filter(level=Level.GRID):
        assert grid.code.startswith(grid.parent.code) and len(grid.code) == 15


def test_dongcheng_lies_where_it_really_is(city):
    minx, miny, maxx, maxy = geo.to_geometry(Region.objects.get(code="110101").boundary).bounds
    assert 116.38 <= minx < maxx <= 116.45
    assert 39.85 <= miny < maxy <= 39.98


def test_grids_tile_every_community_without_gaps_or_overlaps(city):
    reports = check_region(city)
    assert len(reports) == 36
    assert [r.problems() for r in reports if not r.ok] == []
    for region in Region.objects.all():
        shape = geo.to_geometry(region.boundary)
        assert shape.geom_type == "Polygon" and shape.is_valid and shape.area > 0


def test_point_lookup_finds_each_grid_at_its_representative_point(city):
    index = geo.GridIndex.build()
    grids = list(Region.objects.filter(level=Level.GRID))
    assert len(index) == len(grids)
    for grid in grids:
        assert index.lookup(grid.center_lon, grid.center_lat).code == grid.code
    hits = index.lookup_many([g.center_lon for g in grids], [g.center_lat for g in grids])
    assert [h.code for h in hits] == [g.code for g in grids]
    assert geo.locate(grids[0].center_lon, grids[0].center_lat).code == grids[0].code


def test_bucket_lookup_agrees_with_the_strtree_on_random_points(city):
    """GridIndex.lookup (buckets) and lookup_many (STRtree) are independent; they must agree,
    including for a grid far larger than the others (kept outside the buckets) that
    overlaps them with a lower code, and for points on edges and off the map."""
    rows = list(Region.objects.filter(level=Level.GRID).order_by("code").values("id", "code", "name", "path", "boundary"))
    big = {"id": 0, "code": "110101001001000", "name": "大网格", "path": "/x/", "boundary": Region.objects.get(code="110101").boundary}
    rng = random.Random(5)
    for index_rows in (rows, [big, *rows]):
        index = geo.GridIndex(index_rows)
        minx, miny, maxx, maxy = shapely.total_bounds(index.geoms)
        lons = [rng.uniform(minx - 0.01, maxx + 0.01) for _ in range(3000)]
        lats = [rng.uniform(miny - 0.01, maxy + 0.01) for _ in range(3000)]
        # Vertices are on edges shared by two or three grids: the lowest code must win.
        for row in index_rows[1:40]:
            for lon, lat in row["boundary"]["coordinates"][0]:
                lons.append(lon)
                lats.append(lat)
        lons += [float("nan"), 1e308, -1e308]
        lats += [39.9, 1e308, 39.9]
        assert [index.lookup(x, y) for x, y in zip(lons, lats, strict=True)] == index.lookup_many(lons, lats)
    assert index._large == [0]
    assert index.lookup(rows[0]["boundary"]["coordinates"][0][0][0], rows[0]["boundary"]["coordinates"][0][0][1]).code == big["code"]


def test_same_seed_gives_the_same_city_and_another_seed_other_shapes(db):
    generate(seed=7)
    first = snapshot()
    delete_city()
    assert not Region.objects.exists()
    generate(seed=7)
    second = snapshot()
    assert first == second
    # The plan itself (no database) agrees with what was stored.
    plan = layout.plan_territory(layout.SCALES["S"], 7)
    assert sorted(p.code for p in plan) == [r[0] for r in first["regions"]]

    other = {p.code: p.polygon for p in layout.plan_territory(layout.SCALES["S"], 8)}
    assert set(other) >= {"110101001001", "110101004012"}
    assert not shapely.equals_exact(other["110101001001"], geo.to_geometry(first["boundaries"]["110101001001"]), 1e-9)


def test_every_role_has_accounts_with_the_right_scope(city):
    grids = Region.objects.filter(level=Level.GRID)
    communities = Region.objects.filter(level=Level.COMMUNITY)
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    # One grid worker per grid, scoped to it, named after its code.
    for grid in grids:
        worker = User.objects.get(username=f"gw{grid.code}")
        assert worker.role == Role.GRID_WORKER and worker.region == grid
    assert User.objects.filter(role=Role.GRID_WORKER, username__startswith="gw").count() == grids.count()
    for community in communities:
        assert User.objects.get(username=f"cs{community.code}").role == Role.COMMUNITY_STAFF
    dongcheng = Region.objects.get(code="110101")
    assert User.objects.get(username="ld110101").region == dongcheng
    departments = Department.objects.filter(district=dongcheng)
    assert departments.count() == len(sources.departments()) == 21
    for department in departments:
        handler = User.objects.get(username=f"hd110101{department.code}")
        assert handler.role == Role.HANDLER and handler.department == department and handler.region is None
    for user in User.objects.exclude(role=Role.RESIDENT):
        assert user.region_id or user.department_id, user.username
    assert User.objects.filter(role=Role.RESIDENT, region__isnull=True, department__isnull=True).count() >= 5
    # Realistic names and mobile numbers.
    sample = User.objects.get(username="gw110101001001001")
    assert 2 <= len(sample.full_name) <= 4
    assert len(sample.phone) == 11 and sample.phone[0] == "1" and sample.phone[1] in "3456789"


def test_demo_logins_authenticate_with_their_scopes(city):
    request = RequestFactory().post("/accounts/login/")
    expected = {
        "admin": (Role.ADMIN, "110100"),
        "leader": (Role.LEADER, "110101"),
        "dispatcher": (Role.DISPATCHER, "110101001000"),
        "mediator": (Role.MEDIATOR, "110101001001"),
        "community": (Role.COMMUNITY_STAFF, "110101001001"),
        "grid": (Role.GRID_WORKER, "110101001001001"),
        "resident": (Role.RESIDENT, None),
    }
    assert {d.username for d in DEMO_LOGINS} == set(expected) | {"handler"}
    for username, (role, region_code) in expected.items():
        user = authenticate(request, username=username, password=DEMO_PASSWORD)
        assert user is not None, username
        assert user.role == role
        assert (user.region.code if user.region else None) == region_code
    handler = authenticate(request, username="handler", password=DEMO_PASSWORD)
    assert handler.role == Role.HANDLER
    assert (handler.department.code, handler.department.district.code) == ("chengguan", "110101")
    assert authenticate(request, username="admin", password="wrong-password") is None


def test_refuses_to_generate_into_a_database_with_territory(city):
    before = Region.objects.count()
    with pytest.raises(CommandError, match="已有辖区数据"):
        generate()
    assert Region.objects.count() == before


def test_refuses_a_password_the_rules_reject(db):
    with pytest.raises(CommandError, match="密码"):
        call_command("generate", "--password", "123", stdout=io.StringIO())
    assert not Region.objects.exists()


def test_demo_command_generates_once_and_lists_one_login_per_role(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    out = io.StringIO()
    call_command("demo", "--no-server", stdout=out)
    text = out.getvalue()
    assert settings.VAR_DIR.is_dir()
    assert Region.objects.filter(code="110101001001", name="多福巷社区").exists()
    for login in DEMO_LOGINS:
        assert f" {login.username} " in text
    assert "grassroots2026" in text and "领导驾驶舱：东城区" in text
    count = Region.objects.count()
    out = io.StringIO()
    call_command("demo", "--no-server", stdout=out)
    assert "直接使用" in out.getvalue()
    assert Region.objects.count() == count
