"""Writes to the territory tree: nodes, boundaries, departments, and the CSV/GeoJSON import."""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.db import transaction

from grassroots.lib import sheets
from grassroots.territory import geo
from grassroots.territory.directory import directory
from grassroots.territory.levels import (
    DEPTH,
    LABELS,
    Level,
    child_code_problem,
    code_problem,
    parent_level,
)
from grassroots.territory.models import Department, Region

# China's extent in WGS-84, generously: a coordinate outside it is a typing or axis-order mistake.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

LEVEL_ALIASES = {
    **{level.value: level.value for level in Level},
    **{label: value for value, label in Level.choices},
    "省": Level.PROVINCE, "自治区": Level.PROVINCE, "直辖市": Level.PROVINCE,
    "市": Level.CITY, "地级市": Level.CITY, "区": Level.DISTRICT, "县": Level.DISTRICT, "区县": Level.DISTRICT,
    "街道": Level.STREET, "乡镇": Level.STREET, "乡": Level.STREET, "镇": Level.STREET,
    "社区": Level.COMMUNITY, "村": Level.COMMUNITY,
}


def region_path(parent: Region | None, code: str) -> str:
    return (parent.path if parent else "/") + code + "/"


def geometry_fields(boundary: dict | None) -> dict:
    """Centre and area derived from a GeoJSON boundary (stored alongside it)."""
    if not boundary:
        return {"boundary": None, "center_lon": None, "center_lat": None, "area_m2": None}
    geom = geo.to_geometry(boundary)
    point = geom.representative_point()
    return {
        "boundary": boundary,
        "center_lon": round(point.x, 7),
        "center_lat": round(point.y, 7),
        "area_m2": round(geo.area_m2(geom), 1),
    }


def create_region(code: str, name: str, level: str, parent: Region | None, boundary: dict | None = None) -> Region:
    problem = code_problem(level, code)
    if problem:
        raise ValueError(problem)
    if parent is not None:
        if level == Level.PROVINCE:
            raise ValueError("省级节点不能有上级")
        if parent_level(level) != parent.level:
            raise ValueError(f"{LABELS[level]}的上级应为{LABELS[parent_level(level)]}")
        problem = child_code_problem(parent.level, parent.code, code)
        if problem:
            raise ValueError(problem)
    elif level != Level.PROVINCE:
        raise ValueError(f"{LABELS[level]}必须有上级")
    return Region.objects.create(
        code=code,
        name=name,
        level=level,
        parent=parent,
        path=region_path(parent, code),
        depth=DEPTH[level],
        **geometry_fields(boundary),
    )


def set_boundary(region: Region, boundary: dict | None) -> Region:
    for key, value in geometry_fields(boundary).items():
        setattr(region, key, value)
    region.save()
    return region


def ensure_departments(district: Region, rows: list[dict]) -> int:
    """Create the district's departments from rows of code/name/kind; existing ones keep their ids."""
    existing = set(Department.objects.filter(district=district).values_list("code", flat=True))
    new = [
        Department(code=r["code"], name=r["name"], kind=r.get("kind") or Department.Kind.LINE, district=district)
        for r in rows
        if r["code"] not in existing
    ]
    Department.objects.bulk_create(new)
    directory.invalidate()
    return len(new)


# ---------------------------------------------------------------------------------------
# Import of a tree (CSV code,name,level,parent_code) and grid polygons (GeoJSON)


@dataclass
class ImportProblem:
    source: str  # file name
    where: str  # 第 3 行 / 第 2 个要素
    column: str
    message: str

    def __str__(self) -> str:
        col = f"（{self.column}）" if self.column else ""
        where = f" {self.where}" if self.where else ""
        return f"{self.source}{where}{col}：{self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    boundaries: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


TREE_COLUMNS = ["code", "name", "level", "parent_code"]
# Columns the export writes after TREE_COLUMNS (views.region_export); accepted and ignored on import.
OPTIONAL_TREE_COLUMNS = ["area_m2"]


@dataclass
class _Row:
    line: int
    code: str
    name: str
    level: str
    parent_code: str


def _read_tree(text: str, source: str, report: ImportReport) -> list[_Row]:
    if not text.lstrip("\ufeff").strip():
        report.errors.append(ImportProblem(source, "", "", f"文件为空，应有表头 {','.join(TREE_COLUMNS)} 和数据行"))
        return []
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lstrip("\ufeff") for h in (reader.fieldnames or [])]
    if header[: len(TREE_COLUMNS)] != TREE_COLUMNS or header[len(TREE_COLUMNS) :] not in (
        [],
        OPTIONAL_TREE_COLUMNS,
    ):
        report.errors.append(
            ImportProblem(source, "第 1 行", "表头", f"表头应为 {','.join(TREE_COLUMNS)}，实际为 {','.join(header) or '（空）'}")
        )
        return []
    reader.fieldnames = header
    rows = []
    for raw in reader:
        line = reader.line_num  # the file's own line number: blank lines are skipped but counted
        if raw.get(None):
            report.errors.append(
                ImportProblem(
                    source, f"第 {line} 行", "",
                    f"列数多于表头：表头 {len(header)} 列，本行 {len(header) + len(raw[None])} 列（名称中的逗号请用引号括起）",
                )
            )
            continue
        # A tree exported by the platform quotes a text a spreadsheet would run (lib.sheets): take it off.
        values = {k: sheets.unquote((raw.get(k) or "").strip()) for k in TREE_COLUMNS}
        if not any(values.values()):
            continue
        rows.append(_Row(line, values["code"], values["name"], values["level"], values["parent_code"]))
    if not rows and not report.errors:
        report.errors.append(ImportProblem(source, "", "", "文件中没有数据行"))
    return rows


def _check_tree(rows: list[_Row], source: str, report: ImportReport) -> dict[str, _Row]:
    """Validate every row against the file and the database; return the valid rows by code."""
    err = report.errors
    seen: dict[str, int] = {}
    for row in rows:
        where = f"第 {row.line} 行"
        if not row.code:
            err.append(ImportProblem(source, where, "code", "代码不能为空"))
        elif row.code in seen:
            err.append(ImportProblem(source, where, "code", f"代码“{row.code}”与第 {seen[row.code]} 行重复"))
        else:
            seen[row.code] = row.line
        if not row.name:
            err.append(ImportProblem(source, where, "name", "名称不能为空"))
        elif len(row.name) > 100:
            err.append(ImportProblem(source, where, "name", "名称不能超过 100 个字"))
        level = LEVEL_ALIASES.get(row.level)
        if level is None:
            err.append(
                ImportProblem(source, where, "level", f"层级“{row.level}”无法识别，应为 province/city/district/street/community/grid 或 省/市/区/县/街道/乡镇/社区/村/网格")
            )
            row.level = ""
        else:
            row.level = str(level)
            if row.code:
                problem = code_problem(level, row.code)
                if problem:
                    err.append(ImportProblem(source, where, "code", problem))

    in_file = {r.code: r for r in rows if r.code}
    parent_codes = {r.parent_code for r in rows if r.parent_code} | set(in_file)
    in_db = {r.code: r for r in Region.objects.filter(code__in=parent_codes)}

    for row in rows:
        where = f"第 {row.line} 行"
        if not row.level or not row.code:
            continue
        existing = in_db.get(row.code)
        expected_parent_level = parent_level(row.level)
        if existing is not None and existing.level != row.level:
            err.append(ImportProblem(source, where, "level", f"系统中“{row.code}”是{existing.level_label}，导入不能改变层级"))
            continue
        if expected_parent_level is None:
            if row.parent_code:
                err.append(ImportProblem(source, where, "parent_code", "省级节点不应有上级代码"))
            continue
        if not row.parent_code:
            err.append(ImportProblem(source, where, "parent_code", f"{LABELS[row.level]}必须填写上级代码"))
            continue
        parent_row = in_file.get(row.parent_code)
        parent_db = in_db.get(row.parent_code)
        parent_lvl = parent_row.level if parent_row else (parent_db.level if parent_db else None)
        if parent_lvl is None:
            err.append(ImportProblem(source, where, "parent_code", f"上级代码“{row.parent_code}”在文件和系统中都不存在"))
            continue
        if parent_lvl and parent_lvl != expected_parent_level:
            err.append(
                ImportProblem(
                    source, where, "parent_code",
                    f"{LABELS[row.level]}的上级应为{LABELS[expected_parent_level]}，“{row.parent_code}”是{LABELS.get(parent_lvl, '未知层级')}",
                )
            )
            continue
        problem = child_code_problem(expected_parent_level, row.parent_code, row.code)
        if problem:
            err.append(ImportProblem(source, where, "code", problem))
        if existing is not None and existing.parent and existing.parent.code != row.parent_code:
            err.append(ImportProblem(source, where, "parent_code", f"系统中“{row.code}”属于“{existing.parent.code}”，导入不能移动节点"))
    return in_file


def _read_grids(text: str, source: str, report: ImportReport, known_codes: set[str]) -> dict[str, dict]:
    err = report.errors
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        err.append(ImportProblem(source, f"第 {exc.lineno} 行", "", f"不是有效的 JSON：{exc.msg}"))
        return {}
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        err.append(ImportProblem(source, "", "", "应为 GeoJSON FeatureCollection（type 为 FeatureCollection，含 features 数组）"))
        return {}
    def code_of(feature) -> str:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        return str((properties if isinstance(properties, dict) else {}).get("code") or "").strip()

    boundaries: dict[str, dict] = {}
    db_codes = set(
        Region.objects.filter(code__in=[code_of(f) for f in data["features"]]).values_list("code", flat=True)
    )
    for n, feature in enumerate(data["features"], start=1):
        where = f"第 {n} 个要素"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            err.append(ImportProblem(source, where, "", "不是 GeoJSON Feature"))
            continue
        code = code_of(feature)
        if not code:
            err.append(ImportProblem(source, where, "properties.code", "缺少节点代码 properties.code"))
            continue
        where = f"第 {n} 个要素（{code}）"
        if code not in known_codes and code not in db_codes:
            err.append(ImportProblem(source, where, "properties.code", f"代码“{code}”在文件和系统中都不存在"))
            continue
        if code in boundaries:
            err.append(ImportProblem(source, where, "properties.code", "同一节点出现了多个边界要素"))
            continue
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            err.append(ImportProblem(source, where, "geometry", "几何类型应为 Polygon 或 MultiPolygon"))
            continue
        try:
            geom = geo.to_geometry(geometry)
        except ValueError as exc:
            err.append(ImportProblem(source, where, "geometry", f"坐标格式错误：{exc}"))
            continue
        if geom.is_empty:
            err.append(ImportProblem(source, where, "geometry", "几何为空"))
            continue
        minx, miny, maxx, maxy = geom.bounds
        if not (CHINA_LON[0] <= minx and maxx <= CHINA_LON[1] and CHINA_LAT[0] <= miny and maxy <= CHINA_LAT[1]):
            hint = "（疑似经纬度顺序颠倒，GeoJSON 应为[经度, 纬度]）" if CHINA_LON[0] <= miny <= CHINA_LON[1] else ""
            err.append(ImportProblem(source, where, "geometry", f"坐标超出中国范围的 WGS-84 经纬度{hint}"))
            continue
        if not geom.is_valid:
            err.append(ImportProblem(source, where, "geometry", f"多边形无效：{_invalid_reason(geom)}"))
            continue
        boundaries[code] = geometry
    return boundaries


_INVALID_REASONS = {
    "Self-intersection": "边界自相交（如“8”字形）",
    "Ring Self-intersection": "环自相交",
    "Too few points": "顶点太少",
    "Hole lies outside shell": "内环（洞）在外环之外",
    "Nested shells": "多个外环互相嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested holes": "内环互相嵌套",
}


def _invalid_reason(geom) -> str:
    """GEOS's reason why GEOM is invalid, in Chinese where we know the words ("Self-intersection[x y]")."""
    reason = shapely.is_valid_reason(geom)
    kind, _, at = reason.partition("[")
    words = _INVALID_REASONS.get(kind.strip(), kind.strip())
    return f"{words}，位置 {at.rstrip(']')}" if at else words


def _check_within(
    within: Region, rows: list[_Row], boundaries: dict[str, dict], sources: tuple[str, str], report: ImportReport
) -> None:
    """Every node the import would create or change must lie inside WITHIN's subtree.

    An existing node is inside when its path is; a new node when its parent is an
    existing node inside, or another new node of the same file (itself checked here).
    """
    tree_source, grids_source = sources
    new_rows = {r.code: r for r in rows}
    codes = set(new_rows) | {r.parent_code for r in rows if r.parent_code} | set(boundaries)
    paths = dict(Region.objects.filter(code__in=codes).values_list("code", "path"))

    def inside(code: str) -> bool:
        return paths[code].startswith(within.path)

    outside = f"不在您的管辖范围（{within.name}）内"
    for row in rows:
        where = f"第 {row.line} 行"
        if row.code in paths:
            if not inside(row.code):
                report.errors.append(ImportProblem(tree_source, where, "code", f"“{row.code}”{outside}"))
        elif row.parent_code in paths and not inside(row.parent_code):
            report.errors.append(ImportProblem(tree_source, where, "parent_code", f"上级“{row.parent_code}”{outside}"))
        elif not row.parent_code:
            report.errors.append(ImportProblem(tree_source, where, "parent_code", f"新节点“{row.code}”{outside}"))
    for code in boundaries:
        if code in paths and not inside(code):
            report.errors.append(ImportProblem(grids_source, f"边界“{code}”", "properties.code", f"该节点{outside}"))


def import_territory(
    tree_text: str | None = None,
    grids_text: str | None = None,
    *,
    tree_source: str = "tree.csv",
    grids_source: str = "grids.geojson",
    dry_run: bool = False,
    within: Region | None = None,
) -> ImportReport:
    """Import a tree and/or boundaries. Every row is checked first; nothing is written unless all pass.

    Re-importing the same files updates names and boundaries instead of duplicating nodes.
    WITHIN, when given, is the importing user's scope: nothing outside its subtree may be
    created or changed.
    """
    report = ImportReport(dry_run=dry_run)
    rows: list[_Row] = []
    in_file: dict[str, _Row] = {}
    if tree_text is not None:
        rows = _read_tree(tree_text, tree_source, report)
        in_file = _check_tree(rows, tree_source, report)
    boundaries: dict[str, dict] = {}
    if grids_text is not None:
        boundaries = _read_grids(grids_text, grids_source, report, set(in_file))
    if within is not None and not report.errors:
        _check_within(within, rows, boundaries, (tree_source, grids_source), report)
    if report.errors:
        return report

    with transaction.atomic():
        existing = {r.code: r for r in Region.objects.filter(code__in=set(in_file) | {r.parent_code for r in rows})}
        # Parents before children: order by depth.
        for row in sorted(rows, key=lambda r: DEPTH[r.level]):
            region = existing.get(row.code)
            boundary = boundaries.pop(row.code, None)
            if region is None:
                parent = existing.get(row.parent_code) if row.parent_code else None
                region = create_region(row.code, row.name, row.level, parent, boundary)
                existing[row.code] = region
                report.created += 1
                report.boundaries += boundary is not None
            else:
                changed = region.name != row.name
                region.name = row.name
                if boundary is not None and boundary != region.boundary:
                    region.__dict__.update(geometry_fields(boundary))
                    report.boundaries += 1
                    changed = True
                if changed:
                    region.save()
                    report.updated += 1
        for code, boundary in boundaries.items():
            region = Region.objects.get(code=code)
            if region.boundary != boundary:
                set_boundary(region, boundary)
                report.boundaries += 1
                report.updated += 1
        missing = [r.code for r in rows if r.level == Level.GRID and existing[r.code].boundary is None]
        if missing:
            report.warnings.append(f"{len(missing)} 个网格没有边界，无法按坐标定位：{'、'.join(missing[:10])}")
        if dry_run:
            transaction.set_rollback(True)
    geo.invalidate_grid_index()
    directory.invalidate()
    return report


def import_territory_files(tree: Path | None, grids: Path | None, *, dry_run: bool = False) -> ImportReport:
    texts: list[str | None] = []
    for path in (tree, grids):
        try:
            texts.append(path.read_text(encoding="utf-8-sig") if path else None)
        except UnicodeDecodeError:
            problem = ImportProblem(path.name, "", "", "不是 UTF-8 编码的文本文件，请另存为 UTF-8（CSV UTF-8）后再导入")
            return ImportReport(errors=[problem], dry_run=dry_run)
    return import_territory(
        *texts,
        tree_source=tree.name if tree else "tree.csv",
        grids_source=grids.name if grids else "grids.geojson",
        dry_run=dry_run,
    )
