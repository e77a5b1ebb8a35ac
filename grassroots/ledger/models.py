"""The ledgers (一标三实: 标准地址, 实有人口, 实有房屋, 实有单位) and the care groups with their visits.

"人进户、户进房、房进网格": a person belongs to a household, a household lives in a house, a
house has a standard address in a building of a grid. Every record carries its grid and
that grid's materialised path (`region_path`), so scope is one index range as for cases.

Personal data (个人信息保护法): the ID number and the phone are sealed columns
(lib.privacy: AES-GCM at rest, read back as their masks) with keyed digests (HMAC-SHA256) of
the full value and of its tail for search. The birth date is kept for ages and electorates, but
never shown beside a masked ID number (the mask keeps the county and the last four digits; with
the birth date that would be the whole number): pages and the API show the age. Every change
that matters is appended to LedgerEvent (history of moves, splits, changes of owner), and every
full view to the audit log (accounts.AuditEvent, through lib.privacy.reveal).
"""

from django.conf import settings
from django.db import models

from grassroots.lib.privacy import DigestField, SealedField
from grassroots.territory.models import PathField, Region


class Sex(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"


class ResidenceStatus(models.TextChoices):
    REGISTERED = "registered", "户籍"
    RESIDENT = "resident", "常住"
    FLOATING = "floating", "流动"
    SEPARATED = "separated", "人户分离"


class HouseUse(models.TextChoices):
    RESIDENTIAL = "residential", "住宅"
    COMMERCIAL = "commercial", "商业"
    OFFICE = "office", "办公"
    OTHER = "other", "其他"


class Occupancy(models.TextChoices):
    OWNER = "owner", "自住"
    RENTED = "rented", "出租"
    VACANT = "vacant", "空置"
    GROUP = "group", "群租"


class Relation(models.TextChoices):
    HEAD = "head", "户主"
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    PARENT = "parent", "父母"
    GRANDCHILD = "grandchild", "孙子女"
    SIBLING = "sibling", "兄弟姐妹"
    TENANT = "tenant", "租户"
    OTHER = "other", "其他"


class OrgKind(models.TextChoices):
    UNIT = "unit", "单位"
    SHOP = "shop", "商铺"
    SMALL_PLACE = "small_place", "三小场所"


class CareType(models.TextChoices):
    LIVING_ALONE = "living_alone", "独居老人"
    EMPTY_NEST = "empty_nest", "空巢老人"
    DISABLED = "disabled", "残疾人"
    LOW_INCOME = "low_income", "低保户"
    LEFT_BEHIND = "left_behind", "留守儿童"
    KEY_PERSON = "key_person", "重点人员"
    CORRECTION = "correction", "社区矫正"


# The visit rule of each care type: at most this many days between two visits (走访频次).
VISIT_EVERY_DAYS: dict[str, int] = {
    CareType.LIVING_ALONE: 30,
    CareType.EMPTY_NEST: 60,
    CareType.DISABLED: 90,
    CareType.LOW_INCOME: 90,
    CareType.LEFT_BEHIND: 30,
    CareType.KEY_PERSON: 30,
    CareType.CORRECTION: 7,
}


class Placed(models.Model):
    """Hangs off a grid: the grid and its path (scope filters use the path)."""

    # The application never deletes a grid; an operator emptying a database takes the ledger with it.
    grid = models.ForeignKey(Region, verbose_name="网格", on_delete=models.CASCADE, related_name="+")
    region_path = PathField(max_length=255)

    class Meta:
        abstract = True


class Building(Placed):
    code = models.CharField("楼栋编码", max_length=120, unique=True)
    name = models.CharField("楼栋", max_length=100)  # 小区 + 楼栋号, e.g. "金宝花园 3号楼"
    estate = models.CharField("小区", max_length=60, blank=True)
    number = models.CharField("楼栋号", max_length=20, blank=True)
    floors = models.PositiveSmallIntegerField("层数", null=True, blank=True)
    lon = models.FloatField("经度", null=True, blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)

    class Meta:
        verbose_name = "楼栋"
        ordering = ["region_path", "code"]
        indexes = [models.Index(fields=["grid", "code"], name="building_grid")]

    def __str__(self) -> str:
        return self.name


class Address(Placed):
    """A standard address (标准地址) 区/街道/社区/小区/楼栋/单元/室, matched on import by its code."""

    code = models.CharField("地址编码", max_length=40, unique=True)
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.RESTRICT, related_name="addresses")
    estate = models.CharField("小区", max_length=60, blank=True)
    building_no = models.CharField("楼栋", max_length=20, blank=True)
    unit = models.CharField("单元", max_length=20, blank=True)
    room = models.CharField("室", max_length=20, blank=True)
    text = models.CharField("标准地址", max_length=255)  # 东城区东华门街道多福巷社区金宝花园3号楼2单元301室

    class Meta:
        verbose_name = "标准地址"
        ordering = ["code"]
        indexes = [models.Index(fields=["region_path", "code"], name="address_scope")]

    def __str__(self) -> str:
        return self.text


class House(Placed):
    address = models.OneToOneField(Address, on_delete=models.RESTRICT, related_name="house")
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.RESTRICT, related_name="houses")
    use = models.CharField("用途", max_length=12, choices=HouseUse.choices, default=HouseUse.RESIDENTIAL)
    area_m2 = models.DecimalField("专有部分面积（平方米）", max_digits=9, decimal_places=2, null=True, blank=True)
    owner = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_houses")
    owner_name = models.CharField("产权人", max_length=50, blank=True)
    occupancy = models.CharField("居住情况", max_length=8, choices=Occupancy.choices, default=Occupancy.OWNER)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "房屋"
        indexes = [
            models.Index(fields=["building"], name="house_building"),
            models.Index(fields=["grid"], name="house_grid"),
        ]

    def __str__(self) -> str:
        return self.address.text


class Household(Placed):
    number = models.CharField("户号", max_length=40, unique=True)
    house = models.ForeignKey(House, null=True, blank=True, on_delete=models.RESTRICT, related_name="households")
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="splits")
    created_at = models.DateTimeField(auto_now_add=True)
    dissolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "户"
        indexes = [
            models.Index(fields=["grid", "number"], name="household_grid"),
            models.Index(fields=["house"], name="household_house"),
        ]

    def __str__(self) -> str:
        return self.number


class Person(Placed):
    name = PathField("姓名", max_length=50)  # byte order ("C" on PostgreSQL): a prefix is an index range
    initials = PathField("拼音首字母", max_length=20)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("出生日期")
    ethnicity = models.CharField("民族", max_length=20, blank=True)
    status = models.CharField("居住类型", max_length=12, choices=ResidenceStatus.choices)
    # Sensitive: sealed (read back as the mask), with keyed digests for search.
    id_number = SealedField("公民身份号码", kind="id", blank=False)
    id_hash = DigestField(of="id_number", part="id", unique=True, blank=False)
    id_tail6 = DigestField(of="id_number", part="id6")
    id_tail4 = DigestField(of="id_number", part="id4")
    phone = SealedField("联系电话", kind="phone")
    phone_hash = DigestField(of="phone", part="phone")
    phone_tail4 = DigestField(of="phone", part="phone4")

    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    relation = models.CharField("与户主关系", max_length=12, choices=Relation.choices, blank=True)
    house = models.ForeignKey(House, null=True, blank=True, on_delete=models.SET_NULL, related_name="residents")
    moved_in_at = models.DateField("迁入日期", null=True, blank=True)
    moved_out_at = models.DateField("迁出日期", null=True, blank=True)  # set: no longer lives in the territory
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "人口"
        indexes = [
            # Search (queries.search): each kind is one index range, scope checked from the index.
            models.Index(fields=["name", "region_path"], name="person_name"),
            models.Index(fields=["initials", "region_path"], name="person_initials"),
            models.Index(fields=["id_tail6", "region_path"], name="person_id6"),
            models.Index(fields=["id_tail4", "region_path"], name="person_id4"),
            models.Index(fields=["phone_hash", "region_path"], name="person_phone"),
            models.Index(fields=["phone_tail4", "region_path"], name="person_phone4"),
            # Lists and counts per grid / subtree.
            models.Index(fields=["region_path", "status"], name="person_scope"),
            models.Index(fields=["grid", "name"], name="person_grid"),
            models.Index(fields=["household"], name="person_household"),
            models.Index(fields=["house"], name="person_house"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def age(self) -> int:
        from django.utils import timezone

        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


class Organisation(Placed):
    """实有单位: a unit, a shop or a 三小场所 (小商店、小旅馆、小餐饮…) with its risk flags."""

    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类别", max_length=12, choices=OrgKind.choices)
    credit_code = models.CharField("统一社会信用代码", max_length=18, blank=True)
    address = models.ForeignKey(Address, null=True, blank=True, on_delete=models.SET_NULL, related_name="organisations")
    address_text = models.CharField("地址", max_length=255, blank=True)
    contact_name = models.CharField("负责人", max_length=50, blank=True)
    risk_flags = models.JSONField("风险标识", default=list, blank=True)  # e.g. ["消防隐患", "燃气"]

    class Meta:
        verbose_name = "单位/场所"
        ordering = ["name"]
        indexes = [models.Index(fields=["region_path", "kind"], name="org_scope")]

    def __str__(self) -> str:
        return self.name


class CareTag(Placed):
    """A person's membership of a care or attention group, with its visit clock.

    `next_visit_due` is the indexed "next due" column: overdue visits of a territory are
    one range (next_visit_due < today) inside a region_path range, never a scan.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="care_tags")
    type = models.CharField("类别", max_length=16, choices=CareType.choices)
    reason = models.CharField("认定理由", max_length=300)
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期", null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    last_visit_at = models.DateTimeField("最近走访", null=True, blank=True)
    next_visit_due = models.DateField("下次走访截止", null=True, blank=True)  # None once ended

    class Meta:
        verbose_name = "关爱/重点人群"
        ordering = ["next_visit_due"]
        indexes = [
            models.Index(fields=["next_visit_due", "region_path"], name="care_due",
                         condition=models.Q(next_visit_due__isnull=False)),
            models.Index(fields=["region_path", "type"], name="care_scope"),
            models.Index(fields=["person"], name="care_person"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.person_id}"

    @property
    def visit_every_days(self) -> int:
        return VISIT_EVERY_DAYS[self.type]


class Visit(Placed):
    """走访 / 民情日记: who visited whom, when, where, what was found; may open a case."""

    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits")
    care_tag = models.ForeignKey(CareTag, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits")
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    visitor_name = models.CharField("走访人", max_length=60)
    visited_at = models.DateTimeField("走访时间")
    place = models.CharField("地点", max_length=200, blank=True)
    findings = models.TextField("走访情况")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dispute_ref = models.CharField("矛盾纠纷编号", max_length=40, blank=True)

    class Meta:
        verbose_name = "走访记录"
        ordering = ["-visited_at", "-id"]
        indexes = [
            models.Index(fields=["person", "visited_at"], name="visit_person"),
            models.Index(fields=["region_path", "visited_at"], name="visit_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.visitor_name} {self.visited_at:%Y-%m-%d}"


class LedgerEvent(models.Model):
    """Append-only history of the ledgers: moves in and out, household splits, owner changes…"""

    subject = models.CharField(max_length=12)  # person / household / house / care
    subject_id = models.BigIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=60, blank=True)
    action = models.CharField(max_length=20)
    note = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "台账变更记录"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["subject", "subject_id", "at"], name="ledger_event_subject")]

    def __str__(self) -> str:
        return f"{self.subject}:{self.subject_id} {self.action}"
