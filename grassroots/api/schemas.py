"""What the API sends and accepts. Descriptions are in Chinese because /api/docs is read
by the people who integrate with a street office's or district's system."""

from datetime import datetime
from typing import Any

from ninja import Field, Schema

from grassroots.api.params import PageIn, Pagination  # noqa: F401  (shared paging, re-exported)

# --- errors (documented so /api/docs shows what a refusal looks like) -------------------
#
# Every refusal has one shape: a Chinese `detail` always; `field` when one field is at fault
# (400/403/409 of the services); `errors`, one entry per wrong parameter, on every 422.


class FieldErrorOut(Schema):
    field: str = Field(description="出错的参数或字段名；与某个参数无关时为空字符串")
    message: str = Field(description="该参数的错误说明")


class ErrorOut(Schema):
    detail: str = Field(description="错误说明（中文）")
    field: str = Field("", description="出错的字段名（如有）；与某个字段无关时为空字符串或不出现")


class ValidationErrorOut(ErrorOut):
    detail: str = Field(description="错误说明，指出哪个参数不正确，例如“参数 lon 应为数字”")
    errors: list[FieldErrorOut] = Field(description="逐项的错误：参数名和中文说明")


class StateRefOut(Schema):
    code: str = Field(description="状态代码")
    label: str = Field(description="状态名称")


class ChangeOut(Schema):
    at: datetime | None = Field(None, description="何时")
    version: int | None = Field(None, description="这一步写下的版本号")
    action: str = Field(description="操作代码")
    label: str = Field(description="操作名称")
    actor_name: str = Field("", description="谁")
    from_state: str = Field("", description="之前的状态代码")
    to_state: str = Field("", description="之后的状态代码")
    from_label: str = Field("", description="之前的状态")
    to_label: str = Field("", description="之后的状态")
    note: str = Field("", description="说明")


class ConflictOut(ErrorOut):
    """409: someone changed the record first (lib.workflow), or the same Idempotency-Key is still
    being processed. Never a 403: losing a race is not a refusal."""

    field: str = Field("", description="出错的字段名（版本冲突时为 version）")
    state: StateRefOut | None = Field(None, description="记录现在的状态")
    version: int | None = Field(None, description="记录现在的版本号；用它重新提交")
    seen_version: int | None = Field(None, description="调用者提交的（已过时的）版本号")
    changes: list[ChangeOut] = Field([], description="调用者看到的版本之后发生的变化（按时间先后）")


def conflict_body(exc) -> dict:
    """The 409 answer for a Conflict (a subclass of lib.workflow.Conflict)."""
    from grassroots.lib.workflow import Conflict

    body = {"detail": exc.message, "field": getattr(exc, "field", "") or "version"}
    if isinstance(exc, Conflict):
        body.update(exc.details())
    return body


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,  # the request cannot be read (a body that is not JSON)
    401: ErrorOut,  # no credentials, or a wrong / revoked / expired token
    403: ErrorOut,  # the role does not allow it, or CSRF failed on a session call
    404: ErrorOut,  # does not exist, or lies outside the caller's scope — deliberately the same
    413: ErrorOut,  # the request body is over the size cap (lib/middleware.py)
    422: ValidationErrorOut,
    429: ErrorOut,  # over a rate limit (lib/ratelimit.py), e.g. too many bad tokens; see Retry-After
}


# --- territory -------------------------------------------------------------------------


class RegionRef(Schema):
    code: str = Field(description="区划或网格代码")
    name: str = Field(description="名称")
    level: str = Field(description="层级代码：province/city/district/street/community/grid")
    level_label: str = Field(description="层级中文名，如“社区/村”")


class RegionOut(RegionRef):
    parent_code: str | None = Field(None, description="上级节点代码；顶级节点为 null")
    center_lon: float | None = Field(None, description="中心点经度（WGS-84，位于边界之内）")
    center_lat: float | None = Field(None, description="中心点纬度（WGS-84）")
    area_m2: float | None = Field(None, description="面积（平方米），无边界时为 null")


class AncestorOut(Schema):
    code: str | None = Field(
        description="代码；在调用者辖区范围之上的上级只给出名称，此处为 null"
    )
    name: str = Field(description="名称")
    level: str = Field(description="层级代码")
    level_label: str = Field(description="层级中文名")
    in_scope: bool = Field(description="是否在调用者辖区范围之内（可继续查询）")


class RegionDetailOut(RegionOut):
    ancestors: list[AncestorOut] = Field(description="从顶级到直接上级的各级上级节点")
    children_count: int = Field(description="直接下级节点数")
    grid_count: int = Field(description="其下网格总数（不含自身）")
    level_counts: dict[str, int] = Field(description="其下各层级的节点数，键为层级代码，如 {\"community\": 2, \"grid\": 4}")


class SubtreeRowOut(Schema):
    code: str = Field(description="代码")
    name: str = Field(description="名称")
    level: str = Field(description="层级代码")
    parent_code: str = Field(description="上级节点代码")


class SubtreeOut(Schema):
    root: RegionRef = Field(description="所查询的节点")
    count: int = Field(description="其下节点总数")
    items: list[SubtreeRowOut] = Field(description="其下全部节点（按树的顺序，上级在前）")


class FeatureOut(Schema):
    type: str = Field("Feature", description="固定为 Feature")
    geometry: dict[str, Any] = Field(description="GeoJSON 几何（WGS-84，Polygon 或 MultiPolygon）")
    properties: dict[str, Any] = Field(
        description="code、name、level，以及 role：outline 为所查节点本身的边界，child 为下级的边界"
    )


class FeatureCollectionOut(Schema):
    type: str = Field("FeatureCollection", description="固定为 FeatureCollection")
    features: list[FeatureOut] = Field(description="没有边界的节点不出现在这里")


class GridLookupOut(Schema):
    lon: float = Field(description="查询的经度")
    lat: float = Field(description="查询的纬度")
    grid: RegionRef = Field(description="包含该点的网格")
    community: RegionRef | None = Field(None, description="所属社区/村")
    street: RegionRef | None = Field(None, description="所属街道/乡镇")
    district: RegionRef | None = Field(None, description="所属区/县")


class DepartmentOut(Schema):
    code: str = Field(description="部门代码（区县内唯一）")
    name: str = Field(description="部门名称")
    kind: str = Field(description="类别代码：line/utility/territorial")
    kind_label: str = Field(description="类别中文名：职能部门/公共服务企业/属地")
    district_code: str = Field(description="所属区/县代码")
    district_name: str = Field(description="所属区/县名称")

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return obj.get_kind_display()


# --- accounts --------------------------------------------------------------------------


class LabelledOut(Schema):
    code: str = Field(description="代码")
    label: str = Field(description="中文名")


class MeDepartmentOut(Schema):
    code: str = Field(description="部门代码")
    name: str = Field(description="部门名称")
    district_code: str = Field(description="所属区/县代码")


class MeOut(Schema):
    username: str = Field(description="用户名")
    full_name: str = Field(description="姓名")
    phone: str = Field(description="手机号（已脱敏，如 138****1234）；未登记时为空字符串")
    role: LabelledOut = Field(description="角色")
    scope: RegionRef | None = Field(
        description="辖区范围：可见的节点（含其下全部节点）；只按部门授权的账户为部门所在区/县；无范围时为 null"
    )
    sees_everything: bool = Field(description="是否可见全部辖区（不限范围的系统管理员）")
    department: MeDepartmentOut | None = Field(description="所属部门；无时为 null")
    actions: list[LabelledOut] = Field(description="角色允许的操作")


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=60, description="令牌用途，如“区大数据局数据同步”（1–60 字）")
    days: int | None = Field(
        None, ge=1, le=3650, description="有效天数（1–3650）；不填表示长期有效，可随时吊销"
    )


class TokenOut(Schema):
    id: int = Field(description="令牌编号（吊销时使用）")
    name: str = Field(description="用途")
    prefix: str = Field(description="令牌前 8 位（gr_ 之后），用于辨认，不能用于认证")
    created_at: datetime = Field(description="创建时间")
    last_used_at: datetime | None = Field(description="最近使用时间（约每 5 分钟更新一次）")
    expires_at: datetime | None = Field(description="过期时间；null 表示长期有效")
    revoked_at: datetime | None = Field(description="吊销时间；null 表示未吊销")
    active: bool = Field(description="当前是否可用（未吊销且未过期）")


class NewTokenOut(TokenOut):
    token: str = Field(description="完整令牌，仅此一次返回，请立即妥善保存；服务器只保存其摘要")
