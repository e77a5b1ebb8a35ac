"""Reads of the territory tree. Subtrees are prefix queries on the materialised path."""

from django.db import connection
from django.db.models import Count, Q, QuerySet

from grassroots.territory.levels import DEPTH, Level
from grassroots.territory.models import Department, Region


def path_prefix_q(field: str, prefix: str) -> Q:
    """Rows whose FIELD starts with PREFIX (a path ending in "/"), answered from an index.

    PostgreSQL answers LIKE 'prefix%' from the varchar_pattern_ops index. SQLite will not
    use an index for LIKE (it is case-insensitive there), so we ask for the equivalent
    range instead: every string that starts with ".../" sorts between ".../" and "...0",
    because "0" is the character after "/".
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix[:-1] + "0"})
    return Q(**{f"{field}__startswith": prefix})


def subtree(node: Region, *, include_self: bool = True, levels: list[str] | None = None) -> QuerySet[Region]:
    qs = Region.objects.filter(path_prefix_q("path", node.path))
    if not include_self:
        qs = qs.exclude(pk=node.pk)
    if levels:
        qs = qs.filter(level__in=levels)
    return qs


def subtree_listing(node: Region) -> list[dict]:
    """Every node below NODE (streets, communities, grids…) as light rows, in tree order."""
    return list(
        Region.objects.filter(path_prefix_q("path", node.path))
        .exclude(pk=node.pk)
        .order_by("path")
        .values("id", "code", "name", "level", "parent_id", "depth")
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
