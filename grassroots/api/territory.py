"""Territory endpoints: regions and grids (辖区, 网格) and departments (部门).

Each endpoint asks accounts.permissions first (role, then scope) and reads through
territory.queries; what is outside the caller's scope is answered exactly as what does
not exist (404), and never appears in a list or a count.
"""

from django.db.models import F
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from grassroots.accounts.permissions import (
    get_region_or_404,
    region_in_scope,
    require,
    scope_root,
    sees_everything,
    visible_departments,
    visible_regions,
)
from grassroots.accounts.roles import Action
from grassroots.api.schemas import (
    ERRORS,
    DepartmentOut,
    FeatureCollectionOut,
    GridLookupOut,
    Pagination,
    RegionDetailOut,
    RegionOut,
    SubtreeOut,
)
from grassroots.territory import geo
from grassroots.territory.levels import Level
from grassroots.territory.models import Region
from grassroots.territory.queries import (
    LEVEL_AT_DEPTH,
    ancestors,
    level_counts,
    path_prefix_q,
    subtree_listing,
)

router = Router()

NO_GRID_MESSAGE = "该坐标不在任何网格内"


def _ref(region: Region | None) -> dict | None:
    if region is None:
        return None
    return {"code": region.code, "name": region.name, "level": region.level, "level_label": region.level_label}


def _row(region: Region) -> dict:
    return {
        **_ref(region),
        "parent_code": region.parent.code if region.parent_id else None,
        "center_lon": region.center_lon,
        "center_lat": region.center_lat,
        "area_m2": region.area_m2,
    }


# --- regions ---------------------------------------------------------------------------


class RegionFilter(Schema):
    parent: str | None = Field(
        None, max_length=20, description="上级节点代码。只给 parent 时列出其直接下级；默认为调用者的辖区根节点"
    )
    level: Level | None = Field(
        None, description="只列出该层级的节点（在 parent 或辖区根节点之下的所有层级中查找）"
    )
    q: str | None = Field(
        None, max_length=50, description="名称包含该文字的节点（在 parent 或整个辖区范围内查找）；空白视为未填"
    )


@router.get("/regions", response={200: list[RegionOut], **ERRORS}, tags=["辖区"], summary="列出辖区节点")
@paginate(Pagination)
def list_regions(request: HttpRequest, filters: Query[RegionFilter]):
    """列出调用者辖区范围内的节点。

    不带参数时列出辖区根节点的直接下级（不限范围的管理员为各顶级节点）；带 `level` 或 `q`
    时在 `parent`（默认辖区根节点）之下的全部层级中查找。结果永远不超出调用者的辖区范围。
    """
    require(request.user, Action.VIEW_TERRITORY, request)
    user = request.user
    qs = visible_regions(user).annotate(parent_code=F("parent__code")).order_by("path")
    anchor = get_region_or_404(user, filters.parent, request) if filters.parent else scope_root(user)
    q = (filters.q or "").strip()  # a search box submitted empty means "no search"

    if filters.level is None and not q:
        if anchor is not None:
            return qs.filter(parent=anchor)
        if sees_everything(user):
            return qs.filter(parent__isnull=True)
        return qs.none()

    if anchor is not None:
        # An explicit parent means "below it"; the scope root itself is a match when searching the scope.
        qs = qs.filter(path_prefix_q("path", anchor.path))
        if filters.parent:
            qs = qs.exclude(pk=anchor.pk)
    if filters.level is not None:
        qs = qs.filter(level=filters.level)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


@router.get("/regions/{code}", response={200: RegionDetailOut, **ERRORS}, tags=["辖区"], summary="辖区节点详情")
def region_detail(request: HttpRequest, code: str):
    """一个节点的详情：各级上级、直接下级数、其下网格数和各层级节点数。

    辖区范围之外或不存在的节点均返回 404。在调用者辖区范围之上的上级只给出名称（代码为 null）。
    """
    require(request.user, Action.VIEW_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)
    counts = level_counts(region)
    trail = []
    for ancestor in ancestors(region):
        visible = region_in_scope(request.user, ancestor)
        trail.append({**_ref(ancestor), "code": ancestor.code if visible else None, "in_scope": visible})
    return {
        **_row(region),
        "ancestors": trail,
        "children_count": Region.objects.filter(parent=region).count(),
        "grid_count": counts.get(Level.GRID, 0),
        "level_counts": counts,
    }


@router.get(
    "/regions/{code}/subtree", response={200: SubtreeOut, **ERRORS}, tags=["辖区"], summary="节点之下的全部节点"
)
def region_subtree(request: HttpRequest, code: str):
    """节点之下的全部节点（街道、社区、网格……），每行只有代码、名称、层级和上级代码，按树的顺序排列。"""
    require(request.user, Action.VIEW_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)
    rows = subtree_listing(region)
    # Every parent in the listing is the node itself or another row, so codes resolve without a query.
    code_of = {region.id: region.code, **{row[0]: row[1] for row in rows}}
    items = [
        {"code": code, "name": name, "level": LEVEL_AT_DEPTH[depth], "parent_code": code_of[parent_id]}
        for _, code, name, parent_id, depth in rows
    ]
    return {"root": _ref(region), "count": len(items), "items": items}


@router.get(
    "/regions/{code}/geojson",
    response={200: FeatureCollectionOut, **ERRORS},
    tags=["辖区"],
    summary="节点及其下级的边界（GeoJSON）",
)
def region_geojson(request: HttpRequest, code: str):
    """节点本身的边界（properties.role = outline）及其直接下级的边界（role = child），为 GeoJSON FeatureCollection。

    网格没有下级，只返回网格自身（role = child，与页面地图一致）。坐标为 WGS-84。
    """
    require(request.user, Action.VIEW_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)

    def feature(r: Region, role: str) -> dict:
        return {
            "type": "Feature",
            "geometry": r.boundary,
            "properties": {"code": r.code, "name": r.name, "level": r.level, "role": role},
        }

    if region.level == Level.GRID:
        shapes = [region]
    else:
        shapes = list(Region.objects.filter(parent=region).order_by("code").only("code", "name", "level", "boundary"))
    features = [feature(r, "child") for r in shapes if r.boundary]
    if region.boundary and region.level != Level.GRID:
        features.insert(0, feature(region, "outline"))
    return {"type": "FeatureCollection", "features": features}


# --- grids -----------------------------------------------------------------------------


class PointIn(Schema):
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度（WGS-84），-180 至 180")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84），-90 至 90")


@router.get("/grids/lookup", response={200: GridLookupOut, **ERRORS}, tags=["网格"], summary="按坐标查找网格")
def grid_lookup(request: HttpRequest, point: Query[PointIn]):
    """找出包含该坐标的网格，以及它所属的社区、街道、区县（“网格进图”）。

    没有网格包含该点，或包含它的网格在调用者辖区范围之外时，都返回 404“该坐标不在任何网格内”。
    坐标落在两个网格的公共边上时，归代码较小的网格。
    """
    require(request.user, Action.VIEW_TERRITORY, request)
    hit = geo.locate(point.lon, point.lat)
    if hit is None:
        raise Http404(NO_GRID_MESSAGE)
    try:
        grid = get_region_or_404(request.user, hit.code, request)  # audits an out-of-scope hit
    except Http404:
        raise Http404(NO_GRID_MESSAGE) from None
    by_level = {a.level: a for a in ancestors(grid)}
    return {
        "lon": point.lon,
        "lat": point.lat,
        "grid": _ref(grid),
        "community": _ref(by_level.get(Level.COMMUNITY)),
        "street": _ref(by_level.get(Level.STREET)),
        "district": _ref(by_level.get(Level.DISTRICT)),
    }


# --- departments -----------------------------------------------------------------------


@router.get("/departments", response={200: list[DepartmentOut], **ERRORS}, tags=["部门"], summary="列出职能部门")
@paginate(Pagination)
def list_departments(
    request: HttpRequest,
    district: str | None = Query(None, max_length=20, description="只列出该区/县的部门（区/县代码）"),
):
    """调用者可见的职能部门：部门账户只见本部门；辖区账户见其所在或所辖区县的部门。"""
    require(request.user, Action.VIEW_TERRITORY, request)
    qs = visible_departments(request.user).annotate(
        district_code=F("district__code"), district_name=F("district__name")
    )
    if district:
        qs = qs.filter(district__code=district)
    return qs.order_by("district__code", "code")
