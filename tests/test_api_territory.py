"""The territory API over real HTTP: what each role can reach, list and count, and what it cannot.

Every role from the `users` fixture calls the running server with its own token. The
expectations are derived from the tree itself (plain path prefixes), not from the
permission code under test, so a scope leak anywhere in the API shows up here.
"""

import httpx
import pytest

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from grassroots.territory.models import Region
from tests.conftest import PASSWORD, create_staff

pytestmark = pytest.mark.django_db(transaction=True)

A, B, C = "110101001001", "110101001002", "110102001001"
A1, A2, B1, B2, C1 = "110101001001001", "110101001001002", "110101001002001", "110101001002002", "110102001001001"
STREET, STREET_X = "110101001000", "110102001000"
DONGCHENG, XICHENG, CITY, PROVINCE = "110101", "110102", "110100", "110000"
LEVELS = ["province", "city", "district", "street", "community", "grid"]

# A point well inside each grid (grids are 0.005° × 0.01° rectangles, C1 a 0.01° square).
POINTS = {A1: (116.4025, 39.905), A2: (116.4075, 39.905), B1: (116.4125, 39.905), B2: (116.4175, 39.905),
          C1: (116.315, 39.905)}
NO_GRID = "该坐标不在任何网格内"

# role key in the `users` fixture → (its scope root, codes that must answer 404)
SCOPES = {
    "grid_worker": (A1, [A2, B1, A, STREET, DONGCHENG]),
    "grid_worker_b": (B1, [B2, A1, A]),
    "community_staff": (A, [B, B1, B2, C, C1, STREET, DONGCHENG, XICHENG]),
    "community_staff_b": (B, [A, A1, A2, C, STREET]),
    "mediator": (A, [B, B1, C1, STREET]),
    "dispatcher": (STREET, [C, C1, STREET_X, XICHENG, DONGCHENG, CITY]),
    "handler": (DONGCHENG, [XICHENG, STREET_X, C, C1, CITY, PROVINCE]),
    "handler_x": (XICHENG, [DONGCHENG, STREET, A, A1]),
    "leader": (DONGCHENG, [XICHENG, STREET_X, C, C1, CITY, PROVINCE]),
    "leader_x": (XICHENG, [DONGCHENG, STREET, A, A1, B1]),
    "admin": (DONGCHENG, [XICHENG, C, C1, CITY, PROVINCE]),
}


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def tokens(users):
    return {key: create_api_token(user, "pytest")[1] for key, user in users.items()}


@pytest.fixture
def call(http, tokens):
    """call(who, path, **query) → the response to GET PATH made with WHO's token."""

    def _call(who: str, path: str, **params) -> httpx.Response:
        return http.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})

    return _call


def codes_under(root_code: str) -> set[str]:
    root = Region.objects.get(code=root_code)
    return set(Region.objects.filter(path__startswith=root.path).values_list("code", flat=True))


def listed(call, who: str, **params) -> set[str]:
    response = call(who, "/api/regions", limit=1000, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["items"])
    return {item["code"] for item in body["items"]}


# --- scope isolation, role by role -----------------------------------------------------


@pytest.mark.parametrize("who", sorted(SCOPES))
def test_each_role_lists_exactly_its_scope(call, who):
    root, _ = SCOPES[who]
    everything_listed = set()
    for level in LEVELS:
        everything_listed |= listed(call, who, level=level)
    assert everything_listed == codes_under(root)
    assert listed(call, who, level="grid") == {c for c in POINTS if c in codes_under(root)}


@pytest.mark.parametrize("who", sorted(SCOPES))
def test_each_role_reaches_its_scope_and_nothing_else(call, who):
    root, hidden = SCOPES[who]
    assert call(who, f"/api/regions/{root}").status_code == 200
    assert call(who, f"/api/regions/{root}/subtree").status_code == 200
    for code in hidden:
        for suffix in ("", "/subtree", "/geojson"):
            response = call(who, f"/api/regions/{code}{suffix}")
            assert response.status_code == 404, (who, code, suffix)
            assert response.json() == {"detail": "辖区节点不存在"}
        assert call(who, "/api/regions", parent=code).status_code == 404
    # A name search over the whole scope cannot surface anything outside it either.
    assert listed(call, who, q="社区") <= codes_under(root)
    assert listed(call, who, q="网格") <= codes_under(root)


@pytest.mark.parametrize("who", sorted(SCOPES))
def test_grid_lookup_answers_only_inside_the_scope(call, who):
    root, _ = SCOPES[who]
    visible = codes_under(root)
    for grid, (lon, lat) in POINTS.items():
        response = call(who, "/api/grids/lookup", lon=lon, lat=lat)
        if grid in visible:
            assert response.status_code == 200, (who, grid)
            assert response.json()["grid"]["code"] == grid
        else:
            assert response.status_code == 404, (who, grid)
            assert response.json() == {"detail": NO_GRID}


def test_a_nonexistent_code_and_an_out_of_scope_code_look_the_same(call):
    missing = call("community_staff", "/api/regions/110101001099")
    hidden = call("community_staff", f"/api/regions/{B}")
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()


def test_out_of_scope_access_is_audited(call, users):
    before = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).count()
    assert call("community_staff", f"/api/regions/{B}").status_code == 404
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).order_by("-id").first()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).count() == before + 1
    assert event.user == users["community_staff"]
    assert B in event.detail
    assert event.path.startswith(f"/api/regions/{B}")

    # A grid lookup that lands outside the scope is a denial too, although it answers "no grid".
    lon, lat = POINTS[B1]
    assert call("community_staff", "/api/grids/lookup", lon=lon, lat=lat).status_code == 404
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).order_by("-id").first()
    assert event.user == users["community_staff"] and B1 in event.detail


def test_community_staff_of_a_against_b(call):
    """The brief's own example, spelled out: A's worker never sees B; B's worker does."""
    assert call("community_staff", f"/api/regions/{B}").status_code == 404
    subtree = call("community_staff", f"/api/regions/{A}/subtree").json()
    assert [row["code"] for row in subtree["items"]] == [A1, A2]
    assert subtree["count"] == 2
    assert all(row["parent_code"] == A for row in subtree["items"])
    default = listed(call, "community_staff")
    assert default == {A1, A2}
    assert not {code for code in default if code.startswith(B)}
    lon, lat = POINTS[B1]
    assert call("community_staff", "/api/grids/lookup", lon=lon, lat=lat).status_code == 404
    ok = call("community_staff_b", "/api/grids/lookup", lon=lon, lat=lat)
    assert ok.status_code == 200 and ok.json()["grid"]["code"] == B1


def test_handler_sees_its_district_and_only_its_department(call):
    assert call("handler", f"/api/regions/{DONGCHENG}").status_code == 200
    assert call("handler", f"/api/regions/{XICHENG}").status_code == 404
    assert call("handler", f"/api/regions/{C1}").status_code == 404
    departments = call("handler", "/api/departments").json()
    assert departments["count"] == 1
    assert [(d["district_code"], d["code"]) for d in departments["items"]] == [(DONGCHENG, "chengguan")]
    assert call("handler", "/api/departments", district=XICHENG).json() == {"items": [], "count": 0}
    twin = call("handler_x", "/api/departments").json()
    assert [(d["district_code"], d["code"]) for d in twin["items"]] == [(XICHENG, "chengguan")]


def test_territorial_staff_see_the_departments_of_their_district(call):
    for who in ("community_staff", "grid_worker", "dispatcher", "leader", "admin"):
        body = call(who, "/api/departments").json()
        assert {(d["district_code"], d["code"]) for d in body["items"]} == {
            (DONGCHENG, "chengguan"),
            (DONGCHENG, "zhujian"),
        }, who
        assert call(who, "/api/departments", district=XICHENG).json()["count"] == 0
    body = call("leader_x", "/api/departments").json()
    assert {d["district_code"] for d in body["items"]} == {XICHENG}
    first = body["items"][0]
    assert first["kind"] == "line" and first["kind_label"] == "职能部门" and first["district_name"] == "西城区"


def test_leader_of_dongcheng_cannot_see_xicheng(call):
    assert call("leader", f"/api/regions/{XICHENG}").status_code == 404
    assert call("leader", "/api/regions", parent=CITY).status_code == 404
    assert listed(call, "leader", level="district") == {DONGCHENG}
    assert listed(call, "leader", q="西") == set()
    assert call("leader_x", f"/api/regions/{XICHENG}").status_code == 200


def test_admin_scoped_to_dongcheng_cannot_see_xicheng(call):
    assert call("admin", f"/api/regions/{XICHENG}").status_code == 404
    assert call("admin", f"/api/regions/{C1}/geojson").status_code == 404
    assert XICHENG not in listed(call, "admin", level="district")


def test_unscoped_admin_sees_the_whole_tree(http, tree):
    admin = create_staff("admin_all", PASSWORD, Role.ADMIN, full_name="全局管理员")
    _, raw = create_api_token(admin, "pytest")
    headers = {"Authorization": f"Bearer {raw}"}
    roots = http.get("/api/regions", headers=headers).json()
    assert [item["code"] for item in roots["items"]] == [PROVINCE]
    assert http.get(f"/api/regions/{XICHENG}", headers=headers).status_code == 200
    grids = http.get("/api/regions", params={"level": "grid"}, headers=headers).json()
    assert {item["code"] for item in grids["items"]} == set(POINTS)
    assert http.get("/api/departments", headers=headers).json()["count"] == 4


def test_resident_sees_no_territory_at_all(call, users):
    """A resident's role does not include territory.view: a role-level 403 before any lookup,
    so the answer is the same for every code and says nothing about what exists."""
    assert call("resident", "/api/me").status_code == 200
    before = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users["resident"]).count()
    lon, lat = POINTS[A1]
    for path, params in [
        ("/api/regions", {}),
        (f"/api/regions/{A}", {}),
        ("/api/regions/999999999999", {}),
        (f"/api/regions/{A}/subtree", {}),
        (f"/api/regions/{A}/geojson", {}),
        ("/api/grids/lookup", {"lon": lon, "lat": lat}),
        ("/api/departments", {}),
    ]:
        response = call("resident", path, **params)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "您的角色无权执行此操作"}
    after = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users["resident"]).count()
    assert after == before + 7


# --- the endpoints' content ------------------------------------------------------------


def test_region_listing_defaults_filters_and_pagination(call):
    # Default: the children of the scope root.
    body = call("leader", "/api/regions").json()
    assert [item["code"] for item in body["items"]] == [STREET]
    assert listed(call, "leader", q="  ") == {STREET}  # an empty search box is no search
    item = body["items"][0]
    assert item == {
        "code": STREET,
        "name": "东华门街道",
        "level": "street",
        "level_label": "街道/乡镇",
        "parent_code": DONGCHENG,
        "center_lon": item["center_lon"],
        "center_lat": item["center_lat"],
        "area_m2": item["area_m2"],
    }
    assert 116.40 < item["center_lon"] < 116.42 and 39.90 < item["center_lat"] < 39.91
    assert item["area_m2"] > 1_000_000
    # parent alone: direct children; parent with level: that level anywhere below.
    assert listed(call, "leader", parent=STREET) == {A, B}
    assert listed(call, "leader", parent=STREET, level="grid") == {A1, A2, B1, B2}
    assert listed(call, "leader", q="银闸") == {B, B1, B2}
    assert listed(call, "leader", q="银闸", level="community") == {B}
    # A scope root is found by a search over the scope, not when it is the explicit parent.
    assert A in listed(call, "community_staff", q="多福巷")
    assert A not in listed(call, "community_staff", parent=A, q="多福巷")
    # limit/offset
    first = call("leader", "/api/regions", level="grid", limit=3, offset=0).json()
    rest = call("leader", "/api/regions", level="grid", limit=3, offset=3).json()
    assert first["count"] == rest["count"] == 4
    assert len(first["items"]) == 3 and len(rest["items"]) == 1
    assert [i["code"] for i in first["items"] + rest["items"]] == [A1, A2, B1, B2]


def test_region_detail(call):
    body = call("leader", f"/api/regions/{A}").json()
    assert body["code"] == A and body["name"] == "多福巷社区" and body["level_label"] == "社区/村"
    assert body["parent_code"] == STREET
    assert body["ancestors"] == [
        {"code": None, "name": "北京市", "level": "province", "level_label": "省", "in_scope": False},
        {"code": None, "name": "市辖区", "level": "city", "level_label": "市", "in_scope": False},
        {"code": DONGCHENG, "name": "东城区", "level": "district", "level_label": "区/县", "in_scope": True},
        {"code": STREET, "name": "东华门街道", "level": "street", "level_label": "街道/乡镇", "in_scope": True},
    ]
    assert body["children_count"] == 2
    assert body["grid_count"] == 2
    assert body["level_counts"] == {"grid": 2}

    district = call("leader", f"/api/regions/{DONGCHENG}").json()
    assert district["level_counts"] == {"street": 1, "community": 2, "grid": 4}
    assert district["grid_count"] == 4 and district["children_count"] == 1

    grid = call("grid_worker", f"/api/regions/{A1}").json()
    assert grid["children_count"] == 0 and grid["grid_count"] == 0 and grid["level_counts"] == {}
    assert [a["in_scope"] for a in grid["ancestors"]] == [False] * 5


def test_subtree_is_in_tree_order_with_parent_codes(call):
    body = call("dispatcher", f"/api/regions/{STREET}/subtree").json()
    assert body["root"]["code"] == STREET
    assert [(r["code"], r["parent_code"]) for r in body["items"]] == [
        (A, STREET), (A1, A), (A2, A), (B, STREET), (B1, B), (B2, B),
    ]
    assert body["count"] == 6


def test_geojson_of_a_community_and_of_a_grid(call):
    body = call("community_staff", f"/api/regions/{A}/geojson").json()
    assert body["type"] == "FeatureCollection"
    roles = [(f["properties"]["code"], f["properties"]["role"]) for f in body["features"]]
    assert roles == [(A, "outline"), (A1, "child"), (A2, "child")]
    assert all(f["type"] == "Feature" and f["geometry"]["type"] == "Polygon" for f in body["features"])
    grid = call("grid_worker", f"/api/regions/{A1}/geojson").json()
    assert [(f["properties"]["code"], f["properties"]["role"]) for f in grid["features"]] == [(A1, "child")]


def test_grid_lookup_finds_the_right_grid_and_its_parents(call):
    lon, lat = POINTS[A1]
    body = call("leader", "/api/grids/lookup", lon=lon, lat=lat).json()
    assert body["grid"]["code"] == A1 and body["grid"]["name"] == "多福巷第一网格"
    assert (body["community"]["code"], body["street"]["code"], body["district"]["code"]) == (A, STREET, DONGCHENG)
    assert (body["community"]["name"], body["street"]["name"], body["district"]["name"]) == (
        "多福巷社区", "东华门街道", "东城区",
    )
    lon, lat = POINTS[A2]
    assert call("leader", "/api/grids/lookup", lon=lon, lat=lat).json()["grid"]["code"] == A2
    # Inside 东城区's outline but in no grid; and far away.
    for lon, lat in [(116.395, 39.895), (100.0, 30.0)]:
        response = call("leader", "/api/grids/lookup", lon=lon, lat=lat)
        assert response.status_code == 404
        assert response.json() == {"detail": NO_GRID}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lon": "abc", "lat": "39.9"}, "参数 lon 应为数字"),
        ({"lon": "200", "lat": "39.9"}, "参数 lon 应不大于 180"),
        ({"lon": "-180.5", "lat": "39.9"}, "参数 lon 应不小于 -180"),
        ({"lon": "116.4", "lat": "-91"}, "参数 lat 应不小于 -90"),
        ({"lon": "116.4", "lat": "nan"}, "参数 lat 应为有限的数字"),
        ({"lon": "116.4"}, "缺少参数 lat"),
    ],
)
def test_grid_lookup_rejects_bad_coordinates_in_chinese(call, params, message):
    response = call("leader", "/api/grids/lookup", **params)
    assert response.status_code == 422
    body = response.json()
    assert message in body["detail"]
    assert {e["field"] for e in body["errors"]} <= {"lon", "lat"}


def test_bad_listing_parameters_are_named(call):
    response = call("leader", "/api/regions", level="village", limit=0)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "参数 level 应为以下之一" in detail and "grid" in detail
    assert "参数 limit 应不小于 1" in detail
    assert "参数 limit 应不大于 1000" in call("leader", "/api/regions", limit=5000).json()["detail"]
