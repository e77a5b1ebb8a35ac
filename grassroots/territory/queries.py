"""Reads of the territory tree. Subtrees are prefix queries on the materialised path."""

from django.db.models import Count, Q, QuerySet

from grassroots.territory.levels import DEPTH, ORDER, Level
from grassroots.territory.models import Department, Region


def path_prefix_q(field: str, prefix: str, *, indexed: bool = True) -> Q:
    """Rows whose FIELD starts with PREFIX (a path ending in "/"), as an index range.

    Every string that starts with ".../" sorts between ".../" and "...0" ("0" is the
    character after "/") when strings compare byte by byte, as paths do on every backend
    (see models.PathField). A range, unlike LIKE, is answered from a plain index on both
    SQLite (whose LIKE is case-insensitive and skips the index) and PostgreSQL.
    With indexed=False, SQLite is told not to pick FIELD's indexes for it (models.NotIndexed).
    """
    if not indexed:
        field += "__not_indexed"
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix[:-1] + "0"})


def subtree(node: Region, *, include_self: bool = True, levels: list[str] | None = None) -> QuerySet[Region]:
    qs = Region.objects.filter(path_prefix_q("path", node.path))
    if not include_self:
        qs = qs.exclude(pk=node.pk)
    if levels:
        qs = qs.filter(level__in=levels)
    return qs


# A subtree listing row: (id, code, name, parent_id, depth). Plain tuples, and the level
# as its depth (LEVEL_AT_DEPTH), because a district at city scale has thousands of rows and
# building a dict or decoding a level string per row costs more than the query itself.
SubtreeRow = tuple[int, str, str, int, int]
LEVEL_AT_DEPTH = list(ORDER)


def subtree_listing(node: Region) -> list[SubtreeRow]:
    """Every node below NODE (streets, communities, grids…) in tree order, parents first."""
    return list(
        Region.objects.filter(path_prefix_q("path", node.path))
        .exclude(pk=node.pk)
        .order_by("path")
        .values_list("id", "code", "name", "parent_id", "depth")
    )


def ancestors(node: Region) -> list[Region]:
    codes = node.ancestor_codes()
    by_code = {r.code: r for r in Region.objects.filter(code__in=codes)}
    return [by_code[c] for c in codes if c in by_code]


def children_with_counts(node: Region) -> list[Region]:
    """Direct children, each annotated with how many grids lie below it."""
    children = list(Region.objects.filter(parent=node).order_by("code"))
    if not children or node.level == Level.COMMUNITY:
        for child in children:
            child.grid_count = 1 if child.level == Level.GRID else 0
        return children
    # One grouped query: grids below NODE, counted by the ancestor at the children's depth.
    child_depth = DEPTH[children[0].level]
    counts: dict[str, int] = {}
    grids = subtree(node, levels=[Level.GRID]).values_list("path", flat=True)
    for path in grids.iterator(chunk_size=5000):
        code = path.strip("/").split("/")[child_depth]
        counts[code] = counts.get(code, 0) + 1
    for child in children:
        child.grid_count = counts.get(child.code, 0)
    return children


def level_counts(node: Region) -> dict[str, int]:
    rows = subtree(node, include_self=False).values("level").annotate(n=Count("id"))
    return {row["level"]: row["n"] for row in rows}


def district_of(node: Region) -> Region | None:
    if node.level == Level.DISTRICT:
        return node
    if DEPTH[node.level] < DEPTH[Level.DISTRICT]:
        return None
    code = node.path.strip("/").split("/")[DEPTH[Level.DISTRICT]]
    return Region.objects.filter(code=code).first()


def departments_of(district: Region) -> QuerySet[Department]:
    return Department.objects.filter(district=district).order_by("code")
