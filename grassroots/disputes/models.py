"""Disputes (矛盾纠纷多元化解) and petitions (信访).

A dispute moves 登记 → 受理 → 调解中 → 调解成功 → 履行回访 → 结案, or off to 调解不成 →
引导分流 (a referral to a court, an arbitration body or an administrative body). It is
mediated by the committee of one tier of the territory — community (社区/村人民调解委员会),
street or district (矛调中心): `tier` is that Region level and `handling_region` the unit.
Petitions have their own statutory clocks (信访工作条例). Every record carries `version`
(concurrent actions) and `next_due_at` (the indexed column the worker sweeps); every change
is an append-only event, shown as the timeline.

Territory links cascade (as the ledger's do): a territory node is only removed when a whole
city is cleared and regenerated (the platform has no tool that deletes a node in use).

Parties are entered on the spot. When the ledger (一标三实) has the person, a later
migration may add an optional link; nothing here depends on the ledger.
"""

from django.conf import settings
from django.db import models

from grassroots.lib.privacy import DigestField, SealedField
from grassroots.territory.models import PathField, Region


class Kind(models.TextChoices):
    NEIGHBOUR = "neighbour", "邻里纠纷"
    FAMILY = "family", "婚姻家庭"
    SUPPORT = "support", "赡养抚养继承"
    LAND = "land", "土地宅基地"
    LABOUR = "labour", "劳资纠纷"
    PROPERTY = "property", "物业纠纷"
    DEMOLITION = "demolition", "征地拆迁"
    CONSUMER = "consumer", "消费纠纷"
    MEDICAL = "medical", "医疗纠纷"
    TRAFFIC = "traffic", "交通事故"
    OTHER = "other", "其他"


class Source(models.TextChoices):
    SCREENING = "screening", "排查发现"
    RESIDENT = "resident", "群众反映"
    GRID = "grid", "网格员走访"
    CASE = "case", "事件转入"
    POLICE110 = "police110", "110分流"
    PETITION = "petition", "信访转入"


class Risk(models.TextChoices):
    NORMAL = "normal", "一般"
    MAJOR = "major", "较大"
    SERIOUS = "serious", "重大"


RISK_ORDER = {Risk.NORMAL: 0, Risk.MAJOR: 1, Risk.SERIOUS: 2}


class Stage(models.TextChoices):
    REGISTERED = "registered", "登记"
    ACCEPTED = "accepted", "已受理"
    MEDIATING = "mediating", "调解中"
    AGREED = "agreed", "调解成功"
    FAILED = "failed", "调解不成"
    FOLLOW_UP = "follow_up", "履行回访"
    CLOSED = "closed", "结案"
    REFERRED = "referred", "已引导分流"


OPEN_STAGES = frozenset({Stage.REGISTERED, Stage.ACCEPTED, Stage.MEDIATING, Stage.FAILED})
FINAL_STAGES = frozenset({Stage.CLOSED, Stage.REFERRED})


class Confirmation(models.TextChoices):
    """司法确认 (人民调解法 第33条)."""

    NONE = "", "未申请"
    APPLIED = "applied", "已申请"
    CONFIRMED = "confirmed", "已确认有效"
    REJECTED = "rejected", "未予确认"
    LAPSED = "lapsed", "逾期未申请"


class Dispute(models.Model):
    number = models.CharField("编号", max_length=20, unique=True)
    title = models.CharField("纠纷名称", max_length=100)
    kind = models.CharField("纠纷类型", max_length=12, choices=Kind.choices)
    source = models.CharField("来源", max_length=12, choices=Source.choices)
    description = models.TextField("纠纷简要情况")
    stage = models.CharField("阶段", max_length=12, choices=Stage.choices, default=Stage.REGISTERED)

    people_involved = models.PositiveIntegerField("涉及人数", default=2)
    amount = models.DecimalField("涉及金额（元）", max_digits=14, decimal_places=2, null=True, blank=True)
    risk = models.CharField("风险等级", max_length=8, choices=Risk.choices, default=Risk.NORMAL)
    risk_reasons = models.TextField("风险研判理由", blank=True)

    # Where: the grid (or community) it arose in, and its path for scope filters.
    grid = models.ForeignKey(Region, verbose_name="网格", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, verbose_name="属地", on_delete=models.CASCADE, related_name="disputes")
    region_path = PathField(max_length=255)
    place = models.CharField("发生地点", max_length=200, blank=True)

    # Who mediates: the committee of one tier (community → street → district 矛调中心).
    tier = models.CharField("调解层级", max_length=10)
    handling_region = models.ForeignKey(Region, verbose_name="调解组织", on_delete=models.CASCADE, related_name="+")
    escalations = models.PositiveSmallIntegerField(default=0)

    # Links.
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    petition = models.ForeignKey("Petition", null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes")
    screening_round = models.ForeignKey("ScreeningRound", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="disputes")
    criminal = models.BooleanField("民转刑", default=False)
    criminal_note = models.CharField(max_length=300, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True, db_index=True)
    consent_at = models.DateTimeField("双方同意调解", null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    mediation_due_at = models.DateTimeField(null=True, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)  # agreement reached or mediation failed
    closed_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField("结果", blank=True)

    confirmation = models.CharField("司法确认", max_length=10, choices=Confirmation.choices, default="", blank=True)
    confirm_due_at = models.DateTimeField("司法确认申请截止", null=True, blank=True)
    confirm_warned = models.BooleanField(default=False)
    follow_up_due_at = models.DateTimeField("回访期限", null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "矛盾纠纷"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_due_at"], name="dispute_next_due", condition=models.Q(next_due_at__isnull=False)),
            models.Index(fields=["region_path", "stage"], name="dispute_region_stage"),
            models.Index(fields=["stage", "region_path"], name="dispute_stage_region"),
            models.Index(fields=["handling_region", "stage"], name="dispute_handler_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.stage not in FINAL_STAGES


class Party(models.Model):
    """A party to a dispute, entered on the spot (a person or an organisation)."""

    class Kind(models.TextChoices):
        PERSON = "person", "自然人"
        ORGANISATION = "organisation", "法人或其他组织"

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    kind = models.CharField(max_length=14, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField("姓名/名称", max_length=100)
    # Sealed (lib.privacy), read back as masks; the digests find a person's other disputes.
    id_number = SealedField("身份证号/统一社会信用代码", kind="id")
    id_digest = DigestField(of="id_number", part="id")
    phone = SealedField("联系电话", kind="phone")
    phone_digest = DigestField(of="phone", part="phone")
    address = models.CharField("住址", max_length=200, blank=True)
    representative = models.CharField("法定代表人/负责人", max_length=50, blank=True)
    side = models.PositiveSmallIntegerField("方", default=1)  # 1 申请方 / 2 对方 / 3 第三方
    consented = models.BooleanField("同意调解", null=True)

    class Meta:
        verbose_name = "当事人"
        ordering = ["side", "id"]

    def __str__(self) -> str:
        return self.name


class MediationSession(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField("调解时间")
    place = models.CharField("地点", max_length=200)
    mediators = models.CharField("调解员", max_length=200)
    attendees = models.CharField("参加人员", max_length=300)
    notes = models.TextField("调解记录")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "调解记录"
        ordering = ["held_at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.held_at:%Y-%m-%d}"


class Agreement(models.Model):
    """调解协议 (人民调解法 第28–29条): written, effective once parties and mediator sign; or oral."""

    class Form(models.TextChoices):
        WRITTEN = "written", "书面协议"
        ORAL = "oral", "口头协议"

    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="agreement")
    form = models.CharField(max_length=8, choices=Form.choices)
    facts = models.TextField("纠纷的主要事实、争议事项")
    responsibilities = models.TextField("各方当事人的责任", blank=True)
    terms = models.TextField("协议内容")
    performance = models.CharField("履行方式", max_length=300)
    perform_by = models.DateField("履行期限")
    mediator_names = models.CharField("人民调解员", max_length=100)
    reached_at = models.DateTimeField(auto_now_add=True)
    signed_by = models.JSONField("签名", default=list, blank=True)  # names of those who signed
    effective_at = models.DateTimeField("生效时间", null=True, blank=True)

    class Meta:
        verbose_name = "调解协议"

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.get_form_display()}"


class Referral(models.Model):
    class To(models.TextChoices):
        COURT = "court", "人民法院（诉讼）"
        ARBITRATION = "arbitration", "仲裁机构"
        ADMINISTRATIVE = "administrative", "行政机关"
        POLICE = "police", "公安机关"
        PETITION = "petition", "信访部门"

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="referrals")
    to = models.CharField("引导至", max_length=16, choices=To.choices)
    body = models.CharField("受理机关", max_length=100)
    reason = models.CharField("理由", max_length=300)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "引导分流"
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.get_to_display()} {self.body}"


class FollowUp(models.Model):
    """履行回访 (人民调解法 第31条)."""

    class Performance(models.TextChoices):
        FULL = "full", "已全部履行"
        PARTIAL = "partial", "部分履行"
        NONE = "none", "未履行"

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    performance = models.CharField(max_length=8, choices=Performance.choices)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = "履行回访"
        ordering = ["at"]

    def __str__(self) -> str:
        return self.get_performance_display()


class DisputeEvent(models.Model):
    """Append-only: every step of a dispute, with who, when and why — the timeline."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=60, blank=True)
    action = models.CharField(max_length=30)
    from_stage = models.CharField(max_length=12, blank=True)
    to_stage = models.CharField(max_length=12, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)  # the version this transition wrote (lib.workflow)

    class Meta:
        verbose_name = "纠纷日志"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["dispute", "at"], name="dispute_event_at")]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.action}"


# --- screening rounds (排查) ----------------------------------------------------------------


class ScreeningRound(models.Model):
    class Kind(models.TextChoices):
        REGULAR = "regular", "定期排查"
        SPECIAL = "special", "专项排查"

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    region_path = PathField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REGULAR)
    title = models.CharField("名称", max_length=100)
    period_start = models.DateField("开始日期")
    due_at = models.DateTimeField("完成期限")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    none_found = models.BooleanField("未发现矛盾纠纷", default=False)
    note = models.CharField("说明", max_length=300, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)

    class Meta:
        verbose_name = "排查"
        ordering = ["-due_at", "region_path"]
        constraints = [models.UniqueConstraint(fields=["region", "kind", "period_start", "title"], name="round_once")]
        indexes = [
            models.Index(fields=["next_due_at"], name="round_next_due", condition=models.Q(next_due_at__isnull=False)),
            models.Index(fields=["region_path", "due_at"], name="round_region_due"),
        ]

    def __str__(self) -> str:
        return self.title


# --- petitions (信访) --------------------------------------------------------------------------


class PetitionForm(models.TextChoices):
    VISIT = "visit", "来访"
    LETTER = "letter", "来信"
    ONLINE = "online", "网上信访"


class PetitionState(models.TextChoices):
    REGISTERED = "registered", "待受理"
    ACCEPTED = "accepted", "办理中"
    NOT_ACCEPTED = "not_accepted", "不予受理"
    REPLIED = "replied", "已答复"
    REVIEWING = "reviewing", "复查中"
    REVIEWED = "reviewed", "已复查"
    RECHECKING = "rechecking", "复核中"
    CLOSED = "closed", "已办结"


PETITION_FINAL = frozenset({PetitionState.NOT_ACCEPTED, PetitionState.CLOSED})


class Petition(models.Model):
    number = models.CharField("编号", max_length=20, unique=True)
    form = models.CharField("信访形式", max_length=8, choices=PetitionForm.choices)
    collective = models.BooleanField("集体访", default=False)
    people_count = models.PositiveIntegerField("人数", default=1)
    skip_level = models.BooleanField("越级", default=False)
    petitioner_name = models.CharField("信访人", max_length=50)
    # Sealed (lib.privacy), read back as masks; who petitions again is found by the digests.
    petitioner_id_number = SealedField("身份证号", kind="id")
    petitioner_id_digest = DigestField(of="petitioner_id_number", part="id")
    petitioner_phone = SealedField("联系电话", kind="phone")
    petitioner_phone_digest = DigestField(of="petitioner_phone", part="phone")
    title = models.CharField("信访事项", max_length=100)
    content = models.TextField("主要诉求")
    region = models.ForeignKey(Region, verbose_name="事项属地", on_delete=models.CASCADE, related_name="+")
    region_path = PathField(max_length=255)
    office = models.ForeignKey(Region, verbose_name="办理机关", on_delete=models.CASCADE, related_name="+")
    state = models.CharField("状态", max_length=14, choices=PetitionState.choices, default=PetitionState.REGISTERED)

    case_leader = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="包案领导", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="责任人", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    repeat_of = models.ForeignKey("self", verbose_name="重复信访", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="repeats")
    repeat_count = models.PositiveSmallIntegerField("重复次数", default=0)
    backlog = models.BooleanField("积案", default=False)

    received_at = models.DateTimeField("收到时间")
    accept_due_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    handle_due_at = models.DateTimeField(null=True, blank=True)
    extended_days = models.PositiveSmallIntegerField(default=0)
    replied_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField("答复意见", blank=True)
    request_due_at = models.DateTimeField(null=True, blank=True)  # last day to ask for 复查/复核
    answer_due_at = models.DateTimeField(null=True, blank=True)  # the office's 复查/复核 answer
    closed_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    warned_for = models.DateTimeField(null=True, blank=True)  # the due time last warned about
    overdue = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "信访件"
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["next_due_at"], name="petition_next_due", condition=models.Q(next_due_at__isnull=False)),
            models.Index(fields=["region_path", "state"], name="petition_region_state"),
            # Repeat petitions (重复信访): the same ID number, else the same name and phone.
            models.Index(fields=["petitioner_id_digest", "received_at"], name="petition_who_id",
                         condition=~models.Q(petitioner_id_digest="")),
            models.Index(fields=["petitioner_phone_digest", "petitioner_name", "received_at"], name="petition_who",
                         condition=models.Q(petitioner_id_digest="")),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state not in PETITION_FINAL


class PetitionPlan(models.Model):
    """一案一策: the plan for a backlog petition, and its progress notes."""

    petition = models.ForeignKey(Petition, on_delete=models.CASCADE, related_name="plans")
    measures = models.TextField("化解措施")
    target_date = models.DateField("化解时限")
    progress = models.TextField("进展", blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "一案一策"
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.measures[:30]


class PetitionEvent(models.Model):
    petition = models.ForeignKey(Petition, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=60, blank=True)
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=14, blank=True)
    to_state = models.CharField(max_length=14, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)  # the version this transition wrote (lib.workflow)

    class Meta:
        verbose_name = "信访日志"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["petition", "at"], name="petition_event_at")]

    def __str__(self) -> str:
        return f"{self.petition_id} {self.action}"
