"""The territory tree (省→市→区/县→街道/乡镇→社区/村→网格) and the departments of each district."""

from django.db import models

from grassroots.territory.levels import LABELS, Level


class PathField(models.CharField):
    """A materialised path compared byte by byte.

    On PostgreSQL the column gets the "C" collation, so that the index order is the
    order of the codes themselves: a subtree is then one index range
    ("/110000/110100/110101/" ≤ path < "/110000/110100/1101010") returned already in tree
    order, with no sort. SQLite compares bytes (BINARY) by default.
    """

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


@PathField.register_lookup
class NotIndexed(models.Transform):
    """`path__not_indexed__gte=…`: the same comparison, written so that SQLite's query planner
    does not answer it from this column's own indexes — a unary "+" before the column, SQLite's
    documented way (the collation stays the column's). Elsewhere the column as it is.

    SQLite keeps one number per index (rows per distinct value): it cannot know that 1 % of
    cases are red while a territory range holds all of them, and picks the range. A worklist
    asks for the path range this way so that the index of its own list (newest first) is used,
    the range being checked from that index's entries."""

    lookup_name = "not_indexed"

    def as_sql(self, compiler, connection):
        return compiler.compile(self.lhs)

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.lhs)
        return f"+{sql}", params


class Region(models.Model):
    """One node of the territory tree; grids are its leaves.

    `path` is the materialised path of codes from the root ("/110000/110100/110101/"),
    so a subtree is one indexed prefix query (see queries.subtree). `boundary` is a
    GeoJSON geometry in WGS-84 (Polygon or MultiPolygon); grids must have one.
    """

    code = models.CharField("代码", max_length=20, unique=True)
    name = models.CharField("名称", max_length=100)
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = PathField(max_length=255)
    depth = models.PositiveSmallIntegerField()
    boundary = models.JSONField("边界", null=True, blank=True)
    center_lon = models.FloatField("中心经度", null=True, blank=True)
    center_lat = models.FloatField("中心纬度", null=True, blank=True)
    area_m2 = models.FloatField("面积（平方米）", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "辖区节点"
        ordering = ["path"]
        indexes = [
            # Subtrees are ranges of path; the other columns make the index covering, so a
            # whole district is listed from the index alone (see queries.subtree_listing).
            models.Index(fields=["path", "id", "code", "name", "parent", "depth"], name="region_subtree"),
            models.Index(fields=["level", "updated_at"], name="region_level_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def level_label(self) -> str:
        return LABELS[self.level]

    @property
    def area_km2(self) -> float | None:
        return None if self.area_m2 is None else round(self.area_m2 / 1_000_000, 2)

    @property
    def is_grid(self) -> bool:
        return self.level == Level.GRID

    def ancestor_codes(self) -> list[str]:
        return [c for c in self.path.strip("/").split("/") if c][:-1]


class Department(models.Model):
    """A line department (条线部门) of one district: 城管、住建、市场监管…"""

    class Kind(models.TextChoices):
        LINE = "line", "职能部门"
        UTILITY = "utility", "公共服务企业"
        TERRITORIAL = "territorial", "属地"

    code = models.CharField("部门代码", max_length=30)
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类别", max_length=12, choices=Kind.choices, default=Kind.LINE)
    district = models.ForeignKey(Region, verbose_name="所属区县", on_delete=models.PROTECT, related_name="departments")

    class Meta:
        verbose_name = "职能部门"
        ordering = ["district__code", "code"]
        constraints = [models.UniqueConstraint(fields=["district", "code"], name="department_unique_per_district")]

    def __str__(self) -> str:
        return self.name
