"""The REST API (django-ninja). OpenAPI docs at /api/docs, schema at /api/openapi.json.

Every operation requires a caller (Bearer token or session, see auth.py); so do the docs
and the schema, unless API_DOCS_PUBLIC publishes them (docs.py).
Endpoints stay thin: accounts.permissions decides, territory.queries reads.
"""

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from grassroots.api import errors
from grassroots.api.accounts import router as accounts_router
from grassroots.api.auth import ANY_AUTH
from grassroots.api.cases import router as cases_router
from grassroots.api.disputes import router as disputes_router
from grassroots.api.docs import LocalSwagger, docs_access
from grassroots.api.ledger import router as ledger_router
from grassroots.api.territory import router as territory_router
from grassroots.api.users import router as users_router

DESCRIPTION = """\
基层社会治理平台的 REST 接口。

**认证**：每个接口都需要认证。脚本和其他系统在请求头中提供个人接口令牌
`Authorization: Bearer gr_…`（在“个人设置”页面创建，或登录后 POST /api/tokens）；
浏览器中已登录的会话也可直接调用，非 GET 请求须在请求头 `X-CSRFToken` 中提供 csrftoken。

**范围**：只返回调用者辖区范围内的数据。范围之外的记录与不存在的记录一样返回 404，
且不会出现在任何列表或计数中。

**分页**：列表接口统一使用 `limit`（1–1000，默认 100）和 `offset`（0–1000000，默认 0），
超出范围返回 422。

**错误**：400 不符合业务规则；401 未认证或令牌无效；403 角色无权执行该操作；404 不存在或不在辖区范围内；
409 记录已被他人修改（`version` 过期）；422 参数不正确；429 请求过于频繁（见响应头 `Retry-After`）。
所有错误均为 JSON：`{"detail": "中文说明"}`，与某个字段有关时另有 `field`；422 另有 `errors` 数组，
逐项给出 `{"field": "参数名", "message": "中文说明"}`。
"""



class ChineseJSONRenderer(JSONRenderer):
    """UTF-8 JSON without \\u escapes: the same bytes on the wire, readable in curl and logs."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="grassroots 基层治理平台 API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=ANY_AUTH,
    docs=LocalSwagger(),
    docs_decorator=docs_access,
    renderer=ChineseJSONRenderer(),
    openapi_extra={
        "tags": [
            {"name": "账户", "description": "当前用户与个人接口令牌"},
            {"name": "账户管理", "description": "系统管理员在本人管理范围内创建、修改、停用、启用账户，解除锁定，重置密码"},
            {"name": "辖区", "description": "省→市→区/县→街道/乡镇→社区/村→网格 的辖区树"},
            {"name": "网格", "description": "网格与坐标查询（网格进图）"},
            {"name": "部门", "description": "各区县的职能部门"},
            {"name": "事件", "description": "事件/诉求的接诉、派遣、办理、评价（接诉即办）与三率"},
            {"name": "矛盾纠纷与信访", "description": "矛盾纠纷排查、调解、调解协议、司法确认、回访；信访登记与办理时限；法律法规检索"},
            {"name": "台账", "description": "一标三实：人口、户、房屋、楼栋、关爱/重点人群与走访（脱敏，越权即 404）"},
        ]
    },
)
errors.install(api)
api.add_router("", accounts_router)
api.add_router("", users_router)
api.add_router("", territory_router)
api.add_router("", cases_router)
api.add_router("", ledger_router)
api.add_router("", disputes_router)
