"""The cases API over real HTTP: intake, scope, the whole loop through actions, and refusals.

Every call goes to the running server with the caller's own token, as a street office's or
a department's system would make it; the database is then checked directly, so a refusal
that wrote something anyway shows up here.
"""

import httpx
import pytest

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case, CaseEvent, ClassificationFeedback, Evaluation, Matter, State
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db(transaction=True)

IN_A1 = (116.402, 39.905)
IN_B1 = (116.412, 39.905)
A, A1 = "110101001001", "110101001001001"
OILY_SMOKE = "楼下烧烤店油烟直排，熏得开不了窗"
PHONE = "13812345678"


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    users["dispatcher_dc"] = create_staff("dp_dc", None, Role.DISPATCHER, full_name="区调度", region=tree["dongcheng"])
    users["dispatcher_x"] = create_staff("dp_x", None, Role.DISPATCHER, full_name="西城调度", region=tree["street_x"])
    return {"tree": tree, "users": users, "shengtai": shengtai}


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def api(http, city):
    """api(who, method, path, json=…, params=…) with WHO's token."""
    tokens = {key: create_api_token(user, "pytest")[1] for key, user in city["users"].items()}

    def _call(who: str, method: str, path: str, **kwargs) -> httpx.Response:
        return http.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs)

    return _call


def report(api, who="resident", text=OILY_SMOKE, at=IN_A1, **fields) -> dict:
    body = {"description": text, "lon": at[0], "lat": at[1], **fields}
    response = api(who, "POST", "/api/cases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def act(api, who: str, number: str, action: str, **body) -> httpx.Response:
    return api(who, "POST", f"/api/cases/{number}/actions/{action}", json=body)


def current(number: str) -> Case:
    return Case.objects.get(number=number)


# --- intake -------------------------------------------------------------------------------


def test_resident_reports_through_the_app(api, city):
    body = report(api, reporter_phone=PHONE)
    case = body["case"]
    assert case["channel"] == {"code": "app", "label": "网上/手机"}
    assert case["state"]["code"] == "submitted"
    assert case["grid"]["code"] == A1 and case["region"]["code"] == A1
    assert case["reporter_name"] == "吴居民" and case["reporter_phone"] == PHONE  # the reporter sees their own
    assert case["version"] == 1 and case["lead"] is None
    # The classifier's top three, best first, with scores; the matter came from the first.
    suggestions = body["suggestions"]
    assert len(suggestions) == 3
    assert all(0 <= s["score"] <= 1 and s["code"] and s["name"] for s in suggestions)
    assert [s["score"] for s in suggestions] == sorted((s["score"] for s in suggestions), reverse=True)
    assert case["matter"]["code"] == suggestions[0]["code"]
    assert body["duplicates"] == []
    stored = current(case["number"])
    assert stored.reporter == city["users"]["resident"] and stored.channel == "app"
    assert stored.tracking_code == case["tracking_code"]
    assert stored.state == State.SUBMITTED


def test_route_and_duplicates_are_suggested(api, city):
    first = report(api, "dispatcher", channel="hotline", matter_code="03.01.01")
    assert first["route"]["lead"] == {
        "kind": "department", "code": "shengtai", "name": "生态环境局",
        "department_id": city["shengtai"].id, "district_code": "110101",
    }
    assert "生态环境局" in first["route"]["explanation"]
    second = report(api, "dispatcher", OILY_SMOKE + "，请尽快处理", channel="hotline", matter_code="03.01.01")
    assert [d["number"] for d in second["duplicates"]] == [first["case"]["number"]]
    assert second["duplicates"][0]["similarity"] > 0.5
    # A resident's report near the same place: the duplicates are other people's cases, not shown.
    third = report(api, "resident", OILY_SMOKE, matter_code="03.01.01")
    assert third["duplicates"] == []


def test_dispatcher_enters_a_hotline_call_without_a_map_point(api, city):
    response = api("dispatcher", "POST", "/api/cases", json={
        "channel": "hotline", "description": "银闸胡同口井盖丢失，夜里很危险", "region_code": A,
        "reporter_name": "郑先生", "reporter_phone": PHONE, "matter_code": "05.01.01",
    })
    assert response.status_code == 201, response.text
    case = response.json()["case"]
    assert case["channel"]["code"] == "hotline" and case["state"]["code"] == "accepted"
    assert case["grid"] is None and case["region"]["code"] == A
    assert case["respond_due_at"] and case["resolve_due_at"]
    assert case["reporter_phone"] == "138****5678"  # masked: dispatchers reveal it through …/reporter-phone
    assert {a["code"] for a in case["allowed_actions"]} >= {"dispatch", "reject", "merge"}
    stored = current(case["number"])
    assert stored.reporter is None and stored.created_by == city["users"]["dispatcher"]
    assert list(stored.events.values_list("action", flat=True)) == ["report", "accept"]


def test_staff_without_a_channel_enter_through_the_api_channel(api):
    case = report(api, "grid_worker", "3单元楼道堆放纸箱和电动车", matter_code="02.01.02")["case"]
    assert case["channel"]["code"] == "api" and case["state"]["code"] == "accepted"


JUNK = {"description": "楼下烧烤店油烟", "lon": IN_A1[0], "lat": IN_A1[1], "matter_code": "03.01.01"}


@pytest.mark.parametrize(
    ("who", "changes", "status", "field", "message"),
    [
        ("resident", {"description": "   "}, 400, "description", "请填写问题描述"),
        ("resident", {"lon": None, "lat": None}, 400, "region_code", "请在地图上选择位置"),
        ("resident", {"lat": None}, 400, "lon", "经度和纬度需同时填写"),
        ("resident", {"lon": 100.0, "lat": 30.0}, 400, "lon", "不在本平台的任何网格内"),
        ("resident", {"reporter_phone": "12345"}, 400, "reporter_phone", "联系电话应为 11 位手机号"),
        ("resident", {"matter_code": "99.99.99"}, 400, "matter_code", "事项“99.99.99”不存在或已停用"),
        ("resident", {"channel": "hotline"}, 403, "channel", "您的角色不能通过“12345热线”登记事件"),
        ("dispatcher_dc", {"lon": None, "lat": None, "region_code": "110101"}, 400, "region_code", "请选择到社区或网格"),
        ("dispatcher", {"lon": None, "lat": None, "region_code": "110102001001"}, 400, "region_code",
         "所选社区/网格不存在或不在您的辖区内"),
        ("dispatcher", {"lon": None, "lat": None, "region_code": "110101001099"}, 400, "region_code",
         "所选社区/网格不存在或不在您的辖区内"),
        ("handler", {}, 403, "", "您的角色不能登记事件"),
        ("leader", {}, 403, "", "您的角色不能登记事件"),
    ],
)
def test_bad_intake_is_explained_and_writes_nothing(api, who, changes, status, field, message):
    response = api(who, "POST", "/api/cases", json={**JUNK, **changes})
    assert response.status_code == status, response.text
    body = response.json()
    assert message in body["detail"] and body["field"] == field
    assert not Case.objects.exists() and not CaseEvent.objects.exists()
    assert not ClassificationFeedback.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lon": "abc"}, "字段 lon 应为数字"),
        ({"lat": 95}, "字段 lat 应不大于 90"),
        ({"description": "油" * 2001}, "字段 description 不能超过 2000 个字符"),
        ({"anonymous": "也许"}, "字段 anonymous 应为 true 或 false"),
        ({"channel": "pigeon"}, "字段 channel 应为以下之一：hotline、app"),
    ],
)
def test_malformed_intake_is_named_in_chinese(api, changes, message):
    response = api("resident", "POST", "/api/cases", json={**JUNK, **changes})
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert not Case.objects.exists()


def test_anonymous_report_keeps_no_name_or_phone(api):
    case = report(api, anonymous=True, reporter_name="不该留下", reporter_phone=PHONE)["case"]
    stored = current(case["number"])
    assert stored.anonymous and stored.reporter_name == "" and stored.reporter_phone == ""


def test_no_credentials_no_cases(http, city):
    assert http.get("/api/cases").status_code == 401
    assert http.post("/api/cases", json=JUNK).status_code == 401
    assert not Case.objects.exists()


# --- scope --------------------------------------------------------------------------------


def test_scope_decides_who_reaches_a_case(api, city):
    number = report(api, reporter_phone=PHONE)["case"]["number"]
    missing = api("community_staff_b", "GET", "/api/cases/SJ000000000000")
    hidden = api("community_staff_b", "GET", f"/api/cases/{number}")
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json() == {"detail": "事件不存在"}
    denial = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).order_by("-id").first()
    assert denial.user == city["users"]["community_staff_b"] and number in denial.detail
    for who in ("community_staff_b", "grid_worker_b", "leader_x", "handler", "handler_x", "handler_st"):
        assert api(who, "GET", f"/api/cases/{number}").status_code == 404, who
        assert api(who, "GET", f"/api/cases/{number}/events").status_code == 404, who
        assert api(who, "GET", "/api/cases").json()["count"] == 0, who
        assert act(api, who, number, "start", version=1).status_code == 404, who
    for who in ("community_staff", "grid_worker", "dispatcher", "leader", "admin", "mediator", "resident"):
        assert api(who, "GET", f"/api/cases/{number}").status_code == 200, who
        assert api(who, "GET", "/api/cases").json()["count"] == 1, who

    # Dispatched to 生态环境局: its handler now sees it; 城管's handler still does not.
    assert act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="shengtai").status_code == 200
    assert api("handler_st", "GET", f"/api/cases/{number}").status_code == 200
    assert api("handler", "GET", f"/api/cases/{number}").status_code == 404
    assert api("handler_x", "GET", f"/api/cases/{number}").status_code == 404
    # An assisting department sees it too.
    assert act(api, "dispatcher", number, "return", version=2, reason="不是我们").status_code == 403
    other = report(api, "dispatcher", "烧烤摊油烟扰民，占道经营", channel="hotline", matter_code="03.01.01")
    other_number = other["case"]["number"]
    response = act(api, "dispatcher", other_number, "dispatch", version=1, lead_department_code="shengtai",
                   assist_department_codes=["chengguan"])
    assert response.status_code == 200
    assert [u["code"] for u in response.json()["assists"]] == ["chengguan"]
    assert api("handler", "GET", f"/api/cases/{other_number}").status_code == 200


def test_phones_are_masked_for_everyone_but_the_reporter(api):
    number = report(api, reporter_phone=PHONE)["case"]["number"]
    for who, expected in [("dispatcher", "138****5678"), ("resident", PHONE), ("community_staff", "138****5678"),
                          ("leader", "138****5678"), ("grid_worker", "138****5678")]:
        assert api(who, "GET", f"/api/cases/{number}").json()["reporter_phone"] == expected, who
        assert api(who, "GET", "/api/cases").json()["items"][0]["reporter_phone"] == expected, who


def test_list_filters_and_pagination(api):
    numbers = [report(api, "dispatcher", f"{i}号楼下饭店油烟直排", channel="hotline", matter_code="03.01.01")
               ["case"]["number"] for i in range(3)]
    report(api, "dispatcher", "银闸胡同井盖丢失", channel="letter", at=IN_B1, matter_code="05.01.01")
    everything = api("dispatcher", "GET", "/api/cases").json()
    assert everything["count"] == 4
    assert [c["number"] for c in everything["items"][1:]] == numbers[::-1]  # newest first

    def count(**params):
        response = api("dispatcher", "GET", "/api/cases", params=params)
        assert response.status_code == 200, response.text
        return response.json()["count"]

    assert count(matter="03") == 3 and count(matter="05.01.01") == 1
    assert count(channel="letter") == 1 and count(channel="hotline") == 3
    assert count(region="110101001002") == 1 and count(region=A) == 3
    assert count(state="accepted") == 4 and count(state="closed") == 0
    assert count(q=numbers[0]) == 1 and count(q="饭店") == 3
    page = api("dispatcher", "GET", "/api/cases", params={"limit": 2, "offset": 2}).json()
    assert page["count"] == 4 and len(page["items"]) == 2
    bad = api("dispatcher", "GET", "/api/cases", params={"state": "lost", "limit": 0})
    assert bad.status_code == 422
    assert "参数 state 应为以下之一" in bad.json()["detail"] and "参数 limit 应不小于 1" in bad.json()["detail"]


# --- the loop through actions ---------------------------------------------------------------


def test_full_lifecycle_through_the_api(api, city):
    number = report(api, reporter_phone=PHONE, matter_code="03.01.01")["case"]["number"]
    case = act(api, "dispatcher", number, "dispatch", version=1, lead_department_id=city["shengtai"].id).json()
    assert case["state"]["code"] == "dispatched" and case["lead"]["code"] == "shengtai"
    assert case["version"] == 2 and case["resolve_due_at"]

    allowed = {a["code"] for a in api("handler_st", "GET", f"/api/cases/{number}").json()["allowed_actions"]}
    assert {"start", "resolve", "return", "request_extension"} <= allowed and "dispatch" not in allowed

    case = act(api, "handler_st", number, "start", version=2).json()
    assert case["state"] == {"code": "in_progress", "label": "处置中"}
    case = act(api, "handler_st", number, "respond", version=3, note="已电话联系反映人，约定明日上门").json()
    assert case["responded_at"]
    case = act(api, "handler_st", number, "resolve", version=4, result="已责令安装油烟净化器并复查合格").json()
    assert case["state"]["code"] == "resolved" and case["result"] == "已责令安装油烟净化器并复查合格"

    pending = api("resident", "GET", "/api/worklists/pending").json()
    assert [c["number"] for c in pending["items"]] == [number]
    case = act(api, "resident", number, "evaluate", version=5, solved=True, satisfied=True, comment="很快").json()
    assert case["state"]["code"] == "closed" and case["closed_at"]

    events = api("resident", "GET", f"/api/cases/{number}/events").json()
    assert [e["action"]["code"] for e in events] == ["report", "dispatch", "start", "respond", "resolve", "evaluate"]
    assert [e["action"]["label"] for e in events] == ["反映", "派遣", "签收", "联系反映人", "办结", "回访评价"]
    assert events[1]["actor_name"] == "王调度" and events[1]["data"]["lead"] == "生态环境局"
    assert events[-1]["to_state"] == "closed" and events[-1]["data"]["satisfied"] is True
    evaluation = Evaluation.objects.get(case__number=number)
    assert evaluation.solved and evaluation.satisfied and evaluation.lead_department == city["shengtai"]


def test_grid_worker_resolves_on_the_spot(api, city):
    number = report(api, "grid_worker", "3单元楼道堆放纸箱", channel="grid", matter_code="02.01.02")["case"]["number"]
    case = act(api, "grid_worker", number, "resolve_on_spot", version=1, result="已督促住户清理完毕").json()
    assert case["state"]["code"] == "resolved" and case["lead"]["code"] == A1
    refused = act(api, "grid_worker", report(api, "grid_worker", "饭店油烟", channel="grid",
                                             matter_code="03.01.01")["case"]["number"],
                  "resolve_on_spot", version=1, result="处理了")
    assert refused.status_code == 400 and refused.json()["field"] == "matter_code"


def test_return_arbitration_extension_merge_reject_and_supervision(api, city):
    number = report(api, "dispatcher", OILY_SMOKE, channel="hotline", matter_code="03.01.01")["case"]["number"]
    act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="chengguan")
    short = act(api, "handler", number, "return", version=2, reason="不")
    assert short.status_code == 400 and short.json() == {"detail": "请写明退单理由（至少 4 个字）", "field": "reason"}
    case = act(api, "handler", number, "return", version=2, reason="油烟属生态环境部门职责").json()
    assert case["state"]["code"] == "returned"
    assert [c["number"] for c in api("dispatcher", "GET", "/api/worklists/returned").json()["items"]] == [number]
    no_lead = act(api, "dispatcher", number, "arbitrate", version=3, uphold=True, note="退单成立")
    assert no_lead.status_code == 400 and no_lead.json()["field"] == "lead"
    wrong = act(api, "dispatcher", number, "arbitrate", version=3, uphold=True, note="退单成立", lead_department_id=999999)
    assert wrong.status_code == 400 and wrong.json()["field"] == "lead_department_id"
    far = act(api, "dispatcher", number, "arbitrate", version=3, uphold=True, note="退单成立",
              lead_region_code="110102001001")
    assert far.status_code == 400 and far.json()["detail"] == "主办单位不在您的调度范围内"
    assert current(number).version == 3 and current(number).state == State.RETURNED
    assert list(current(number).events.values_list("action", flat=True)) == [  # no half ruling
        "report", "accept", "dispatch", "return"]
    case = act(api, "dispatcher", number, "arbitrate", version=3, uphold=True, note="退单成立",
               lead_department_code="shengtai").json()
    assert case["state"]["code"] == "dispatched" and case["lead"]["code"] == "shengtai"

    version = case["version"]
    case = act(api, "handler_st", number, "request_extension", version=version, workdays=5, reason="需要第三方检测").json()
    [extension] = case["extensions"]
    assert extension["decision"]["code"] == "pending" and extension["workdays"] == 5
    before = case["resolve_due_at"]
    assert act(api, "handler_st", number, "decide_extension", version=case["version"], extension_id=extension["id"],
               approve=True).status_code == 403
    assert act(api, "dispatcher", number, "decide_extension", version=case["version"], extension_id=123456,
               approve=True).json()["field"] == "extension_id"
    case = act(api, "dispatcher", number, "decide_extension", version=case["version"], extension_id=extension["id"],
               approve=True, note="同意").json()
    assert case["extensions"][0]["decision"]["code"] == "approved" and case["resolve_due_at"] > before

    case = act(api, "leader", number, "supervise", reason="群众反映强烈，请加快办理").json()
    assert case["supervisions"][0]["reason"] == "群众反映强烈，请加快办理"
    assert act(api, "community_staff", number, "supervise", reason="催一下").status_code == 403

    duplicate = report(api, "dispatcher", OILY_SMOKE + "！", channel="hotline", matter_code="03.01.01")["case"]
    missing = act(api, "dispatcher", duplicate["number"], "merge", version=1, into_number="SJ404")
    assert missing.status_code == 400 and missing.json()["field"] == "into_number"
    merged = act(api, "dispatcher", duplicate["number"], "merge", version=1, into_number=number).json()
    assert merged["state"]["code"] == "merged" and merged["merged_into"] == number

    junk = report(api, "dispatcher", "测试来电", channel="hotline", matter_code="03.01.01")["case"]
    rejected = act(api, "dispatcher", junk["number"], "reject", version=1, reason="测试来电，无实际诉求").json()
    assert rejected["state"]["code"] == "rejected"


def test_a_stale_version_is_a_conflict_and_changes_nothing(api, city):
    number = report(api)["case"]["number"]
    # Two dispatchers opened the same new report; the first accepts it…
    assert act(api, "dispatcher", number, "accept", version=1).json()["version"] == 2
    # …the second, still holding version 1, dispatches it with a corrected matter: refused whole.
    stale = act(api, "dispatcher_dc", number, "dispatch", version=1, lead_department_code="chengguan",
                matter_code="02.02.01")
    assert stale.status_code == 409
    body = stale.json()
    assert body["detail"] == services.CONFLICT and body["field"] == "version"
    # What changed since version 1: the accept, the current state and version to retry with.
    assert body["state"] == {"code": "accepted", "label": "已受理"} and body["version"] == 2
    assert [(c["action"], c["actor_name"], c["to_state"]) for c in body["changes"]] == [("accept", "王调度", "accepted")]
    stored = current(number)
    assert stored.state == State.ACCEPTED and stored.lead_department is None and stored.version == 2
    assert list(stored.events.values_list("action", flat=True)) == ["report", "accept"]
    assert not ClassificationFeedback.objects.filter(case=stored).exists()
    # The same race between two members of the lead unit.
    act(api, "dispatcher", number, "dispatch", version=2, lead_department_code="shengtai")
    assert act(api, "handler_st", number, "start", version=3).status_code == 200
    late = act(api, "handler_st", number, "resolve", version=3, result="已整改")
    assert late.status_code == 409 and "刷新" in late.json()["detail"]
    assert current(number).state == State.IN_PROGRESS and current(number).result == ""


@pytest.mark.parametrize(
    ("who", "action", "body", "message"),
    [
        ("community_staff", "dispatch", {"lead_department_code": "shengtai"}, "您无权对该事件执行“派遣”"),
        ("leader", "dispatch", {"lead_department_code": "shengtai"}, "您无权对该事件执行“派遣”"),
        ("resident", "reject", {"reason": "我不想要了"}, "您无权对该事件执行“作废”"),
        ("grid_worker_b", "resolve_on_spot", {"result": "处理了"}, None),
        ("dispatcher", "reopen", {"reason": "核查不合格"}, "事件当前为“待受理”，不能重办"),
        ("dispatcher", "evaluate", {"solved": True, "satisfied": True}, "不能回访评价"),
        ("grid_worker", "accept", {"matter_code": "02.02.01"}, "您无权对该事件执行“受理”"),
    ],
)
def test_refusals_are_403_and_write_nothing(api, city, who, action, body, message):
    number = report(api, matter_code="03.01.01")["case"]["number"]
    response = act(api, who, number, action, version=1, **body)
    if message is None:  # a grid worker of another grid does not even see the case
        assert response.status_code == 404
    else:
        assert response.status_code == 403, response.text
        assert message in response.json()["detail"]
    stored = current(number)
    assert stored.state == State.SUBMITTED and stored.version == 1 and stored.matter_code == "03.01.01"
    assert list(stored.events.values_list("action", flat=True)) == ["report"]
    assert not ClassificationFeedback.objects.exists()


def test_bad_action_bodies_and_unknown_actions(api):
    number = report(api)["case"]["number"]
    missing = act(api, "dispatcher", number, "dispatch", lead_department_code="shengtai")
    assert missing.status_code == 422 and "缺少字段 version" in missing.json()["detail"]
    unknown = act(api, "dispatcher", number, "teleport", version=1)
    assert unknown.status_code == 404 and "teleport" in unknown.json()["detail"]
    assert act(api, "dispatcher", "SJ404", "teleport", version=1).json() == {"detail": "事件不存在"}
    both = act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="shengtai", lead_region_code=A)
    assert both.status_code == 400 and both.json()["field"] == "lead"
    far = act(api, "dispatcher", number, "dispatch", version=1, lead_region_code="110102001001")
    assert far.status_code == 400 and far.json()["detail"] == "主办单位不在您的调度范围内"
    foreign = act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="shengtai",
                  assist_department_ids=[Department.objects.get(district__code="110102", code="chengguan").id])
    assert foreign.status_code == 400 and foreign.json()["field"] == "assist_department_ids"
    assert current(number).version == 1


# --- worklists, suggestions, catalog, rates ---------------------------------------------------


def test_worklists(api, city):
    number = report(api, matter_code="03.01.01")["case"]["number"]
    assert [c["number"] for c in api("dispatcher", "GET", "/api/worklists/pending").json()["items"]] == [number]
    assert api("handler_st", "GET", "/api/worklists/pending").json()["count"] == 0
    act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="shengtai")
    assert api("dispatcher", "GET", "/api/worklists/pending").json()["count"] == 0
    assert [c["number"] for c in api("handler_st", "GET", "/api/worklists/pending").json()["items"]] == [number]
    assert api("handler_st", "GET", "/api/worklists/overdue").json()["count"] == 0
    summary = api("handler_st", "GET", "/api/worklists").json()
    assert {row["code"]: row["count"] for row in summary} == {
        "pending": 1, "due_soon": 0, "overdue": 0, "returned": 0, "all": 1,
    }
    assert summary[0]["label"] == "待我处理"
    response = api("handler_st", "GET", "/api/worklists/someday")
    assert response.status_code == 404 and response.json() == {"detail": "工作清单不存在"}


def test_due_lists_are_newest_first_and_page(api, city):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    numbers = [report(api)["case"]["number"] for _ in range(4)]
    for age, (number, colour) in enumerate(zip(numbers, ["red", "yellow", "red", "red"], strict=True)):
        red_at = now - timedelta(hours=1) if colour == "red" else now + timedelta(hours=1)
        Case.objects.filter(number=number).update(created_at=now - timedelta(days=10 - age),
                                                  yellow_at=now - timedelta(hours=2), red_at=red_at)
    red = [numbers[3], numbers[2], numbers[0]]  # newest first
    overdue = api("dispatcher", "GET", "/api/worklists/overdue").json()
    assert overdue["count"] == 3 and [c["number"] for c in overdue["items"]] == red
    second = api("dispatcher", "GET", "/api/worklists/overdue?limit=2&offset=2").json()
    assert [c["number"] for c in second["items"]] == red[2:]
    assert [c["number"] for c in api("dispatcher", "GET", "/api/worklists/due_soon").json()["items"]] == [numbers[1]]


def test_suggest(api):
    response = api("resident", "GET", "/api/cases/suggest", params={"text": "小区门口饭店油烟直排，呛得不行"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body) == 3 and body[0]["code"] == "03.01.01" and body[0]["name"] == "餐饮油烟"
    assert body[0]["score"] >= body[1]["score"] >= body[2]["score"] > 0
    active = set(Matter.objects.filter(active=True).values_list("code", flat=True))
    assert {s["code"] for s in body} <= active
    assert api("resident", "GET", "/api/cases/suggest", params={"text": ""}).status_code == 422
    blank = api("resident", "GET", "/api/cases/suggest", params={"text": "   "})
    assert blank.status_code == 422 and blank.json() == {
        "detail": "参数 text 不能为空", "errors": [{"field": "text", "message": "参数 text 不能为空"}]}
    assert api("resident", "GET", "/api/cases/suggest", params={"text": "？！……"}).json() == []
    assert not Case.objects.exists()


def test_catalog(api):
    body = api("handler", "GET", "/api/catalog").json()
    assert len(body) == Matter.objects.filter(active=True).count() > 50
    oily = next(m for m in body if m["code"] == "03.01.01")
    assert oily == {
        "code": "03.01.01", "category": "环境保护", "subcategory": "大气污染", "name": "餐饮油烟",
        "department_code": "shengtai", "tier": {"code": "district", "label": "区级部门"},
        "priority": {"code": "normal", "label": "一般"}, "response_hours": 24, "resolve_workdays": 10,
        "description": oily["description"], "active": True,
    }
    Matter.objects.filter(code="03.01.01").update(active=False)
    assert "03.01.01" not in {m["code"] for m in api("handler", "GET", "/api/catalog").json()}
    assert "03.01.01" in {m["code"] for m in api("handler", "GET", "/api/catalog",
                                                 params={"include_inactive": True}).json()}
    assert {m["category"] for m in api("handler", "GET", "/api/catalog", params={"category": "环境保护"}).json()} == {
        "环境保护"}


def test_rates(api, city):
    number = report(api, matter_code="03.01.01")["case"]["number"]
    act(api, "dispatcher", number, "dispatch", version=1, lead_department_code="shengtai")
    act(api, "handler_st", number, "resolve", version=2, result="已整改")
    act(api, "resident", number, "evaluate", version=3, solved=True, satisfied=False)
    body = api("dispatcher", "GET", "/api/rates").json()
    rows = {row["unit"]: row for row in body["rows"]}
    assert rows["生态环境局"]["evaluated"] == 1 and rows["生态环境局"]["resolution_rate"] == 100.0
    assert rows["生态环境局"]["satisfaction_rate"] == 0.0
    assert body["rows"][-1]["unit"] == "合计"
    # 西城区's dispatcher counts nothing of 东城区.
    assert api("dispatcher_x", "GET", "/api/rates").json()["rows"] == []
    for who in ("resident", "community_staff", "handler_st"):
        refused = api(who, "GET", "/api/rates")
        assert refused.status_code == 403 and refused.json() == {"detail": "您的角色无权执行此操作"}, who
    assert api("leader", "GET", "/api/rates", params={"start": "2026-02-01", "end": "2026-01-01"}).status_code == 422
    bad = api("leader", "GET", "/api/rates", params={"start": "someday"})
    assert bad.status_code == 422 and "参数 start" in bad.json()["detail"]
    old = api("leader", "GET", "/api/rates", params={"start": "2020-01-01", "end": "2020-01-31"}).json()
    assert old == {"start": "2020-01-01", "end": "2020-01-31", "rows": []}


def test_openapi_documents_the_cases_endpoints(api):
    schema = api("dispatcher", "GET", "/api/openapi.json").json()
    paths = schema["paths"]
    assert "/api/cases" in paths and "/api/cases/{number}/actions/dispatch" in paths
    assert "/api/cases/{number}/actions/{action}" not in paths
    assert paths["/api/cases/{number}/actions/dispatch"]["post"]["tags"] == ["事件"]
    assert paths["/api/cases/{number}/actions/dispatch"]["post"]["summary"] == "派遣"
