"""Cases (事件/诉求): the closed loop from report to evaluation.

A case keeps the catalog limits it was opened under (matter code, tier, response hours,
resolve working days), so editing the catalog never rewrites history. Every change of
state is a CaseEvent; the case row carries the current state, the two clocks and the moments they turn yellow and
red (so a case's colour is read off the clock, never waits for the worker). The worker's own
bookkeeping — `next_due_at`, the indexed column it sweeps (never a scan of all open cases),
the colour it last acted on and how far it has escalated — is a narrow row of its own
(CaseClock): a sweep over thousands of due cases rewrites that row, not the wide, much-indexed
case row.
"""

from datetime import datetime

from django.conf import settings
from django.db import models

from grassroots.lib.privacy import DigestField, SealedField
from grassroots.territory.models import Department, PathField, Region


class Tier(models.TextChoices):
    GRID = "grid", "网格"
    COMMUNITY = "community", "社区"
    STREET = "street", "街道"
    DISTRICT = "district", "区级部门"


class Priority(models.TextChoices):
    NORMAL = "normal", "一般"
    URGENT = "urgent", "紧急"


class Matter(models.Model):
    """A leaf of the matter catalog (事项清单). Retired matters stay for history."""

    code = models.CharField("事项编码", max_length=20, unique=True)
    category = models.CharField("大类", max_length=50)
    subcategory = models.CharField("小类", max_length=50)
    name = models.CharField("事项", max_length=100)
    department_code = models.CharField("主责部门代码", max_length=30)
    tier = models.CharField("处置层级", max_length=10, choices=Tier.choices)
    priority = models.CharField("紧急程度", max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    response_hours = models.PositiveIntegerField("响应时限（小时）")
    resolve_workdays = models.PositiveIntegerField("办结时限（工作日）")
    description = models.TextField("说明", blank=True)
    active = models.BooleanField("在用", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "事项"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class MatterChange(models.Model):
    """Who changed the catalog, when, and from what to what."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.matter.code} {self.at:%Y-%m-%d}"


class Channel(models.TextChoices):
    HOTLINE = "hotline", "12345热线"
    APP = "app", "网上/手机"
    GRID = "grid", "网格上报"
    LETTER = "letter", "来信"
    POLICE110 = "police110", "110分流"
    VISIT = "visit", "走访"
    API = "api", "接口"


class State(models.TextChoices):
    SUBMITTED = "submitted", "待受理"
    ACCEPTED = "accepted", "已受理"
    DISPATCHED = "dispatched", "已派遣"
    IN_PROGRESS = "in_progress", "处置中"
    RESOLVED = "resolved", "已办结"
    CLOSED = "closed", "已关闭"
    RETURNED = "returned", "已退单"
    REOPENED = "reopened", "重办待派"
    MERGED = "merged", "已合并"
    REJECTED = "rejected", "无效"


OPEN_STATES = frozenset(
    {State.SUBMITTED, State.ACCEPTED, State.DISPATCHED, State.IN_PROGRESS, State.RETURNED, State.REOPENED}
)
FINAL_STATES = frozenset({State.CLOSED, State.MERGED, State.REJECTED})
# What waits for a dispatcher (accept, dispatch, rule on a return, re-route a reopened case).
# A tuple, in this order, in the worklist and in its partial index alike: SQLite uses a
# partial index only when the query repeats the index's condition word for word.
DISPATCHER_PENDING = (State.SUBMITTED, State.ACCEPTED, State.RETURNED, State.REOPENED)
# What the lead unit is working on.
UNIT_WORKING = (State.DISPATCHED, State.IN_PROGRESS)


class Alert(models.TextChoices):
    GREEN = "green", "正常"
    YELLOW = "yellow", "临期"
    RED = "red", "超期"


def alert_at(yellow_at: datetime | None, red_at: datetime | None, now: datetime) -> str:
    """A case's colour at NOW from the moments its clocks turn yellow and red."""
    if red_at is not None and now >= red_at:
        return Alert.RED
    if yellow_at is not None and now >= yellow_at:
        return Alert.YELLOW
    return Alert.GREEN


class Case(models.Model):
    number = models.CharField("编号", max_length=20, unique=True)
    tracking_code = models.CharField("查询码", max_length=12, unique=True)
    channel = models.CharField("来源渠道", max_length=12, choices=Channel.choices)
    title = models.CharField("标题", max_length=100)
    description = models.TextField("问题描述")
    state = models.CharField("状态", max_length=12, choices=State.choices, default=State.SUBMITTED)

    # The matter and the limits the case was opened under.
    matter = models.ForeignKey(Matter, verbose_name="事项", null=True, blank=True, on_delete=models.PROTECT,
                               db_index=False)  # cases are found by matter_code
    matter_code = models.CharField(max_length=20, blank=True)
    matter_name = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    response_hours = models.PositiveIntegerField(null=True, blank=True)
    resolve_workdays = models.PositiveIntegerField(null=True, blank=True)

    # Who reported it. Anonymous reports keep no name or phone; the tracking code follows them.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_cases",
        db_index=False,  # case_reporter leads with it
    )
    reporter_name = models.CharField("反映人", max_length=50, blank=True)
    reporter_phone = SealedField("联系电话", kind="phone")  # lib.privacy: sealed, read back as its mask
    reporter_phone_digest = DigestField(of="reporter_phone", part="phone")  # the caller's history, repeat callers
    anonymous = models.BooleanField("匿名", default=False)
    # Indexes cost every write, and on PostgreSQL every sweep UPDATE writes an entry in all of
    # a case's indexes: the foreign keys nothing lists cases by have none of their own.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   db_index=False)

    # Where: the point, the grid it falls in and that grid's path (scope filters use it).
    lon = models.FloatField("经度", null=True, blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    grid = models.ForeignKey(Region, verbose_name="网格", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             db_index=False)  # case_grid_matter leads with it
    region = models.ForeignKey(Region, verbose_name="属地", on_delete=models.PROTECT, related_name="cases",
                               db_index=False)  # cases are found by region_path
    region_path = PathField(max_length=255)

    # Who handles it: one lead unit (a territorial unit or a department); assists in CaseUnit.
    # (case_lead_region_state and case_dept_state lead with these two: no index of their own)
    lead_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="led_cases",
                                    db_index=False)
    lead_department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="led_cases", db_index=False
    )

    created_at = models.DateTimeField("上报时间", auto_now_add=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    respond_due_at = models.DateTimeField(null=True, blank=True)
    resolve_due_at = models.DateTimeField(null=True, blank=True)
    evaluate_due_at = models.DateTimeField(null=True, blank=True)
    # When the running clocks turn yellow (75 % used) and red (overdue): the earliest of the
    # respond and resolve clocks' moments, set by every transition (deadlines.thresholds), null
    # while no clock runs. The colour is read off them at any moment (Case.alert), so the
    # worklists' 临期 and 超期 are right even while the worker is down.
    yellow_at = models.DateTimeField(null=True, blank=True)
    red_at = models.DateTimeField(null=True, blank=True)
    # Whose move it is, kept by the database from the state: "dispatcher" (accept, dispatch,
    # rule on a return, re-route), "unit" (the lead unit works it) or "". The dispatchers'
    # worklist filters on it with one equality, so its index gives the newest first.
    waiting_on = models.GeneratedField(
        expression=models.Case(
            models.When(state__in=DISPATCHER_PENDING, then=models.Value("dispatcher")),
            models.When(state__in=UNIT_WORKING, then=models.Value("unit")),
            default=models.Value(""),
        ),
        output_field=models.CharField(max_length=10),
        db_persist=True,
    )

    result = models.TextField("办理结果", blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases",
                                    db_index=False)  # case_merged: only the few merged cases
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "事件"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["region_path", "state"], name="case_region_state"),
            models.Index(fields=["lead_department", "state"], name="case_dept_state"),
            models.Index(fields=["lead_region", "state"], name="case_lead_region_state"),
            models.Index(fields=["state", "created_at"], name="case_state_created"),
            models.Index(fields=["reporter", "created_at"], name="case_reporter"),
            # Found needed by bench/cases.py at a million cases: likely_duplicates at intake (the
            # same matter in the same grid, or within a small box around the point: two index
            # ranges OR-ed), and a dispatcher's worklists (pending states, red or yellow) inside a
            # territory — equality first, then the path range.
            models.Index(fields=["grid", "matter_code", "created_at"], name="case_grid_matter"),
            models.Index(fields=["merged_into"], name="case_merged", condition=models.Q(merged_into__isnull=False)),
            models.Index(fields=["matter_code", "lat", "lon", "created_at"], name="case_matter_place"),
            # A worklist's first page is its newest 50. Equality on the list's own column, then
            # created_at: the page is read in order from the index, the territory checked from
            # the index, and the count reads only that list's entries.
            # (id after created_at: the lists' order is (created_at, id), so no sort is left.)
            models.Index(fields=["waiting_on", "created_at", "id", "region_path"], name="case_waiting_recent"),
            # 临期 and 超期: the cases past 75 % of a clock (yellow_at ≤ now), red or not read from
            # the entry, the territory too; then the newest 50 of them.
            models.Index(fields=["yellow_at", "red_at", "region_path", "created_at", "id"], name="case_due_soon",
                         condition=models.Q(yellow_at__isnull=False)),
            # 三率: the cases whose response fell due in a period, counted per lead unit from the
            # index alone (the territory and the reporter for the scope, the response for in time).
            models.Index(fields=["respond_due_at", "region_path", "lead_department", "lead_region", "responded_at",
                                 "reporter"], name="case_respond_due", condition=models.Q(respond_due_at__isnull=False)),
            # A caller's earlier cases (来电历史) and repeat callers, found by the phone's keyed digest.
            models.Index(fields=["reporter_phone_digest", "created_at"], name="case_caller",
                         condition=~models.Q(reporter_phone_digest="")),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def alert(self) -> str:
        """The colour now: green, yellow (临期) or red (超期)."""
        from django.utils import timezone

        return alert_at(self.yellow_at, self.red_at, timezone.now())

    def get_alert_display(self) -> str:
        return Alert(self.alert).label

    @property
    def escalation_level(self) -> int:
        """How many tiers the worker has escalated the case (its clock row)."""
        try:
            return self.clock.escalation_level
        except CaseClock.DoesNotExist:
            return 0

    @property
    def lead_name(self) -> str:
        if self.lead_department_id:
            return self.lead_department.name
        if self.lead_region_id:
            return self.lead_region.name
        return ""


class CaseClock(models.Model):
    """The worker's bookkeeping for one case, apart from the case row.

    next_due_at: the next moment the worker must look at the case — a clock turning yellow or
    red, an overdue case to escalate again, the evaluation window closing; null when nothing
    is pending. alert: the colour the worker (or the last transition) has already acted on, so
    a reminder is sent once. escalation_level: how many tiers up it has been escalated.
    reminders: the worker's 临期提醒 so far, [{"at", "clock", "due"}], shown in the timeline.
    (The worker's escalations are its Supervision rows; neither writes a CaseEvent, which
    records transitions. queries.timeline puts the three together.)

    A row of five narrow columns and two indexes: the sweep rewrites thousands of these per
    run, where rewriting the case row would also write an entry in each of its many indexes.
    Transitions write the clock row before the case row (services._transition), the sweep
    locks clock rows first: the same order, so the two never wait on each other in a circle.
    """

    case = models.OneToOneField(Case, primary_key=True, on_delete=models.CASCADE, related_name="clock")
    next_due_at = models.DateTimeField(null=True, blank=True)
    alert = models.CharField(max_length=6, choices=Alert.choices, default=Alert.GREEN)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    reminders = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "时限跟踪"
        indexes = [
            models.Index(fields=["next_due_at"], name="clock_next_due", condition=models.Q(next_due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.next_due_at}"


class CaseUnit(models.Model):
    """An assisting unit (协办) of a case: a territorial unit or a department."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assists")
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="assisted_cases")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "协办单位"

    def __str__(self) -> str:
        return (self.department or self.region).name


class CaseEvent(models.Model):
    """Append-only: every transition of a case, with who, when and why. The timeline shows
    them with the case's supervisions and the worker's reminders (queries.timeline)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)  # case_event_case_at
    at = models.DateTimeField(auto_now_add=True)
    # No index: nothing lists events by actor, and every event (the worker writes thousands a
    # run) would pay for one. (Deleting a user reads the events to unset it: users are deactivated.)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    actor_name = models.CharField(max_length=60, blank=True)  # "系统" for the worker
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The case's version this transition wrote (lib.workflow: what a loser of a race is shown).
    version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "事件日志"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="case_event_case_at")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="cases/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "附件"

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Supervision(models.Model):
    """督办: opened by the worker when a case goes overdue, or by a leader/dispatcher."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supervisions")
    opened_at = models.DateTimeField(auto_now_add=True)
    # Supervisions are listed per case only: no index on who opened them or for which tier.
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  db_index=False)
    level = models.PositiveSmallIntegerField(default=1)
    to_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    reason = models.CharField(max_length=200)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "督办"
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.reason}"


class Extension(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", "待审批"
        APPROVED = "approved", "已批准"
        REFUSED = "refused", "未批准"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    workdays = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=300)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "延期申请"
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.workdays}"


class Evaluation(models.Model):
    """回访评价: 是否解决 and 是否满意 are two separate answers."""

    class Source(models.TextChoices):
        REPORTER = "reporter", "反映人评价"
        CALLBACK = "callback", "电话回访"
        TIMEOUT = "timeout", "超时未评价"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evaluations")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    solved = models.BooleanField("是否解决", null=True)
    satisfied = models.BooleanField("是否满意", null=True)
    comment = models.CharField(max_length=500, blank=True)
    # The lead unit being evaluated, kept for 三率 per unit.
    lead_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lead_department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "回访评价"
        ordering = ["-at"]
        indexes = [models.Index(fields=["at"], name="evaluation_at")]  # 三率: the period's evaluations

    def __str__(self) -> str:
        return f"{self.case_id} {self.solved}/{self.satisfied}"


class ClassificationFeedback(models.Model):
    """A dispatcher's correction of the classifier's suggestion — training data for `grassroots train`."""

    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    suggested = models.JSONField(default=list)
    chosen_code = models.CharField(max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "分类纠正"

    def __str__(self) -> str:
        return self.chosen_code


class Notification(models.Model):
    """In-app inbox; each is also sent through the configured backends (log, SMS, webhook)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                                  db_index=False)  # notification_inbox leads with it
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30)
    text = models.CharField(max_length=300)
    # Where "open" goes when the notification is not about one case (a dispute, a petition, a
    # screening round): a path inside the platform.
    link = models.CharField(max_length=200, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    delivered = models.JSONField(default=dict, blank=True)  # backend → "ok" / error

    class Meta:
        verbose_name = "通知"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.text
