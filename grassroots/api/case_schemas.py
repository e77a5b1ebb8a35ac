"""What the cases API (事件) sends and accepts. Descriptions are in Chinese for /api/docs.

One input schema per lifecycle action: each carries the `version` of the case the caller
saw, so two people acting on the same case at once cannot both win (409 for the second).
"""

from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Schema

from grassroots.api.params import MAX_INT, Day, Moment, RecordId
from grassroots.api.schemas import ERRORS, ConflictOut, ErrorOut, LabelledOut, RegionRef
from grassroots.cases.models import Channel, State

# --- errors -------------------------------------------------------------------------------


class CaseErrorOut(ErrorOut):
    """A refusal of the case loop: ErrorOut, with `field` naming the field when one is at fault."""


CASE_ERRORS: dict[int, type[Schema]] = {
    **ERRORS,  # 401, 404, 413, 422, 429 as everywhere
    400: CaseErrorOut,  # the request cannot be carried out (a rule of the case loop)
    403: CaseErrorOut,  # the role or the caller's relation to the case does not allow it
    409: ConflictOut,  # someone else changed the case first (stale version): what changed, never a 403
}


# --- intake -------------------------------------------------------------------------------


class CaseIn(Schema):
    description: str = Field(max_length=2000, description="问题描述（必填，最多 2000 字）")
    channel: Channel | None = Field(
        None,
        description="来源渠道：hotline/app/grid/letter/police110/visit/api。不填时居民为 app，工作人员为 api（接口）；"
        "各角色可用的渠道见文档",
    )
    title: str = Field("", max_length=100, description="标题；不填时取描述的前 30 字")
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, description="经度（WGS-84）")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84）")
    address: str = Field("", max_length=200, description="地址描述")
    region_code: str = Field(
        "", max_length=20, description="没有坐标时（来电、来信）所在的社区或网格代码；有坐标时不必填写"
    )
    reporter_name: str = Field("", max_length=50, description="反映人姓名（居民本人上报时默认为本人）")
    reporter_phone: str = Field("", max_length=20, description="联系电话：11 位手机号或区号-座机号")
    anonymous: bool = Field(False, description="匿名反映：不保存姓名和电话，凭查询码跟踪")
    matter_code: str = Field("", max_length=20, description="事项编码；不填时由系统按描述自动分类")


class SuggestionOut(Schema):
    code: str = Field(description="事项编码")
    name: str = Field(description="事项名称")
    score: float = Field(description="置信度，0–1")


class UnitOut(Schema):
    kind: str = Field(description="region（属地：街道、社区、网格）或 department（职能部门）")
    code: str = Field(description="区划/网格代码，或部门代码（区县内唯一）")
    name: str = Field(description="名称")
    department_id: int | None = Field(None, description="部门编号（派遣时可用）；属地为 null")
    district_code: str | None = Field(None, description="部门所属区/县代码；属地为 null")


class RouteOut(Schema):
    lead: UnitOut | None = Field(description="建议的主办单位；无法确定时为 null，须人工指定")
    assists: list[UnitOut] = Field(description="建议的协办部门")
    explanation: str = Field(description="建议的理由")


class DuplicateOut(Schema):
    number: str = Field(description="疑似重复事件的编号（仅限调用者可见的事件）")
    title: str = Field(description="标题")
    state: LabelledOut = Field(description="状态")
    created_at: datetime = Field(description="上报时间")
    similarity: float = Field(description="描述的相似度，0–1")


# --- cases ----------------------------------------------------------------------------------


class MatterRef(Schema):
    code: str = Field(description="事项编码")
    name: str = Field(description="事项名称")


class CaseOut(Schema):
    number: str = Field(description="事件编号")
    tracking_code: str = Field(description="查询码：反映人凭此跟踪办理进度（Open311 的 token）")
    title: str = Field(description="标题")
    description: str = Field(description="问题描述")
    channel: LabelledOut = Field(description="来源渠道")
    state: LabelledOut = Field(description="状态")
    matter: MatterRef | None = Field(description="事项；尚未分类时为 null")
    tier: str = Field(description="处置层级：grid/community/street/district；尚未分类时为空")
    priority: LabelledOut = Field(description="紧急程度")
    reporter_name: str = Field(description="反映人；匿名时为空")
    reporter_phone: str = Field(
        description="联系电话，已脱敏（如 138****5678；反映人本人看到完整号码）。需要回访时用 "
        "POST /api/cases/{number}/reporter-phone 查看完整号码（记入审计日志）"
    )
    anonymous: bool = Field(description="是否匿名")
    lon: float | None = Field(description="经度")
    lat: float | None = Field(description="纬度")
    address: str = Field(description="地址")
    grid: RegionRef | None = Field(description="所在网格；只知道社区时为 null")
    region: RegionRef = Field(description="属地（网格、社区或街道）")
    lead: UnitOut | None = Field(description="主办单位；尚未派遣时为 null")
    alert: LabelledOut = Field(description="时限状态：green 正常 / yellow 临期 / red 超期")
    created_at: datetime = Field(description="上报时间")
    respond_due_at: datetime | None = Field(description="响应（联系反映人）时限")
    resolve_due_at: datetime | None = Field(description="办结时限（按工作日计算，含已批准的延期）")
    updated_at: datetime = Field(description="最近更新时间")
    version: int = Field(description="版本号：执行操作时原样提交，用于发现他人的并发修改")


class CasePageOut(Schema):
    items: list[CaseOut] = Field(description="本页事件")
    count: int = Field(description="符合条件的事件总数（仅限调用者可见的范围）")


class WorklistOut(Schema):
    code: str = Field(description="工作清单代码（GET /api/worklists/{code}）")
    label: str = Field(description="中文名")
    count: int = Field(description="清单中的事件数")


class ExtensionOut(Schema):
    id: int = Field(description="延期申请编号（审批时使用）")
    workdays: int = Field(description="申请延期的工作日数")
    reason: str = Field(description="理由")
    decision: LabelledOut = Field(description="审批结果：pending/approved/refused")
    requested_at: datetime = Field(description="申请时间")
    decided_at: datetime | None = Field(description="审批时间")


class SupervisionOut(Schema):
    opened_at: datetime = Field(description="督办时间")
    level: int = Field(description="督办级别")
    reason: str = Field(description="督办事由")
    closed_at: datetime | None = Field(description="结束时间")


class CaseDetailOut(CaseOut):
    assists: list[UnitOut] = Field(description="协办单位")
    accepted_at: datetime | None = Field(description="受理时间")
    dispatched_at: datetime | None = Field(description="派遣时间")
    responded_at: datetime | None = Field(description="响应（联系反映人）时间")
    resolved_at: datetime | None = Field(description="办结时间")
    closed_at: datetime | None = Field(description="关闭时间")
    evaluate_due_at: datetime | None = Field(description="回访评价截止时间")
    escalation_level: int = Field(description="超期升级的层数")
    result: str = Field(description="办理结果")
    reopen_count: int = Field(description="重办次数")
    merged_into: str | None = Field(description="已合并时，主事件的编号")
    extensions: list[ExtensionOut] = Field(description="延期申请")
    supervisions: list[SupervisionOut] = Field(description="督办记录")
    allowed_actions: list[LabelledOut] = Field(
        description="调用者现在可以执行的操作（POST /api/cases/{number}/actions/{code}）"
    )


class IntakeOut(Schema):
    case: CaseDetailOut = Field(description="新登记的事件")
    suggestions: list[SuggestionOut] = Field(description="自动分类给出的前 3 个事项及置信度")
    route: RouteOut = Field(description="建议的派遣去向（小事一格解决、大事全网联动）")
    duplicates: list[DuplicateOut] = Field(description="近 7 天同事项、同网格或 300 米内的疑似重复事件")


class EventOut(Schema):
    at: datetime = Field(description="时间")
    actor_name: str = Field(description="操作人；系统自动处理为“系统”")
    action: LabelledOut = Field(description="操作")
    from_state: str = Field(description="操作前的状态代码")
    to_state: str = Field(description="操作后的状态代码")
    note: str = Field(description="说明、意见或结果")
    data: dict[str, Any] = Field(description="附加信息（如派遣去向、评价结果）")


class CaseFilter(Schema):
    matter: str | None = Field(None, max_length=20, description="事项编码或其前缀（如 03 为环境保护大类）")
    region: str | None = Field(None, max_length=20, description="只列出该辖区节点（代码）之下的事件")
    state: State | None = Field(None, description="状态代码，如 dispatched")
    channel: Channel | None = Field(None, description="来源渠道代码，如 hotline")
    since: Moment | None = Field(None, description="上报时间不早于（ISO 8601）")
    until: Moment | None = Field(None, description="上报时间早于（ISO 8601）")
    q: str | None = Field(None, max_length=50, description="按编号（精确）、标题或地址（包含）查找")


# --- actions --------------------------------------------------------------------------------


class VersionIn(Schema):
    version: int = Field(ge=1, le=MAX_INT, description="调用者看到的事件版本号（见事件详情的 version）")


class AcceptIn(VersionIn):
    matter_code: str = Field("", max_length=20, description="改正事项分类（可选）")
    note: str = Field("", max_length=500, description="受理说明（可选）")


class LeadIn(Schema):
    lead_region_code: str | None = Field(None, max_length=20, description="属地主办单位：街道、社区或网格代码")
    lead_department_id: RecordId | None = Field(None, description="部门主办单位：部门编号")
    lead_department_code: str | None = Field(
        None, max_length=30, description="部门主办单位：部门代码（事件所在区/县的部门），可代替部门编号"
    )
    assist_department_ids: list[RecordId] = Field([], max_length=50, description="协办部门编号")
    assist_department_codes: list[str] = Field([], max_length=50, description="协办部门代码（事件所在区/县的部门）")


class DispatchIn(VersionIn, LeadIn):
    matter_code: str = Field("", max_length=20, description="改正事项分类（可选）")
    note: str = Field("", max_length=500, description="派遣说明（可选）")


class NoteIn(VersionIn):
    note: str = Field(max_length=1000, description="与反映人联系的情况")


class ResultIn(VersionIn):
    result: str = Field(max_length=2000, description="办理结果")


class ReasonIn(VersionIn):
    reason: str = Field(max_length=300, description="理由")


class ArbitrateIn(VersionIn, LeadIn):
    uphold: bool = Field(description="true 支持退单并改派（须指定新的主办单位）；false 驳回退单，原单位继续办理")
    note: str = Field(max_length=500, description="裁定意见")


class ExtensionIn(VersionIn):
    workdays: int = Field(ge=-MAX_INT, le=MAX_INT, description="延期的工作日数，1–30")
    reason: str = Field(max_length=300, description="延期理由")


class DecideExtensionIn(VersionIn):
    extension_id: RecordId = Field(description="延期申请编号（见事件详情的 extensions）")
    approve: bool = Field(description="是否批准")
    note: str = Field("", max_length=500, description="审批意见")


class EvaluateIn(VersionIn):
    solved: bool = Field(description="是否解决")
    satisfied: bool = Field(description="是否满意")
    comment: str = Field("", max_length=500, description="评价内容")


class MergeIn(VersionIn):
    into_number: str = Field(max_length=20, description="主事件的编号（本事件作为其重复件合并办理）")


class SuperviseIn(Schema):
    version: int | None = Field(None, ge=1, le=MAX_INT, description="可选：提供时若事件已被他人更新则返回 409")
    reason: str = Field(max_length=200, description="督办事由")


class PhoneRevealIn(Schema):
    reason: Literal["contact", "callback", "other"] = Field(
        description="查看事由：contact 联系反映人（响应、核实情况）、callback 回访评价、other 其他（须在 note 中说明）"
    )
    note: str = Field("", max_length=100, description="说明；reason 为 other 时必填")


class PhoneOut(Schema):
    number: str = Field(description="事件编号")
    reporter_name: str = Field(description="反映人")
    reporter_phone: str = Field(description="完整联系电话")
    reason: str = Field(description="记入审计日志的事由")


# --- catalog, suggestions, rates -----------------------------------------------------------


class MatterOut(Schema):
    code: str = Field(description="事项编码")
    category: str = Field(description="大类")
    subcategory: str = Field(description="小类")
    name: str = Field(description="事项")
    department_code: str = Field(description="主责部门代码")
    tier: LabelledOut = Field(description="处置层级（能够办结该事项的最低层级）")
    priority: LabelledOut = Field(description="紧急程度")
    response_hours: int = Field(description="响应时限（小时）")
    resolve_workdays: int = Field(description="办结时限（工作日）")
    description: str = Field(description="说明")
    active: bool = Field(description="是否在用")


class RatesIn(Schema):
    start: Day | None = Field(None, description="起始日期（含），默认本月 1 日")
    end: Day | None = Field(None, description="截止日期（含），默认今天")


class RateRowOut(Schema):
    unit: str = Field(description="主办单位；最后一行为“合计”")
    within: str = Field(description="主办单位所属：部门为所在区县，属地单位为其所在区县、街道（同名单位据此区分）")
    due: int = Field(description="期内应响应的事件数")
    responded_in_time: int = Field(description="按时响应数")
    evaluated: int = Field(description="期内评价数（超时未评价不计）")
    solved: int = Field(description="评价为已解决的数")
    satisfied: int = Field(description="评价为满意的数")
    response_rate: float | None = Field(description="响应率（%），无应响应事件时为 null")
    resolution_rate: float | None = Field(description="解决率（%），无评价时为 null")
    satisfaction_rate: float | None = Field(description="满意率（%），无评价时为 null")


class RatesOut(Schema):
    start: date = Field(description="起始日期（含）")
    end: date = Field(description="截止日期（含）")
    rows: list[RateRowOut] = Field(description="各主办单位的三率；无数据时为空")
