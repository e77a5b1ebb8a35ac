"""Open311 GeoReport v2 over real HTTP, read with the `georeport` client library.

The client covers the read side (services, definitions, requests, in JSON and XML); it has
no method to create a request or look up a token, so those go through httpx as a
form-encoded POST / plain GET, exactly as the spec describes them. The privacy promise is
checked on the raw bytes: no anonymous response may carry a reporter's name or phone, the
description or the exact point.
"""

import httpx
import pytest
import requests
import xmltodict
from georeport import GeoReport

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case, CaseEvent, Matter, State
from grassroots.cases.services import Report
from grassroots.lib import privacy
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db(transaction=True)


A1 = "110101001001001"
EXACT = (116.402137, 39.905481)  # inside grid A1, more precise than the public 3 decimals
PHONE = "13812345678"
SECRET_TEXT = "我是吴某某，住3单元502，楼下烧烤店油烟直排熏得开不了窗"


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    return {"tree": tree, "users": users, "shengtai": shengtai}


@pytest.fixture
def keys(city):
    return {who: create_api_token(user, "open311")[1] for who, user in city["users"].items()}


@pytest.fixture
def root(live_server):
    return f"{live_server.url}/open311/v2"


@pytest.fixture
def http(root):
    with httpx.Client(base_url=root, timeout=60) as client:
        yield client


def post(http, key: str | None, fmt: str = "json", **fields) -> httpx.Response:
    form = {"service_code": "03.01.01", "lat": str(EXACT[1]), "long": str(EXACT[0]), "description": SECRET_TEXT,
            "first_name": "某某", "last_name": "吴", "phone": PHONE, "email": "wu@example.com", **fields}
    if key is not None:
        form["api_key"] = key
    return http.post(f"/requests.{fmt}", data={k: v for k, v in form.items() if v is not None})


def assert_error(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert body[0]["code"] == status and words in body[0]["description"]


# --- services ------------------------------------------------------------------------------


def test_services_list_in_json_and_xml(root, city):
    services_json = GeoReport(root).get_service_list()
    active = Matter.objects.filter(active=True).count()
    assert len(services_json) == active > 50
    oily = next(s for s in services_json if s["service_code"] == "03.01.01")
    assert oily == {
        "service_code": "03.01.01", "service_name": "餐饮油烟", "description": oily["description"],
        "metadata": False, "type": "realtime", "keywords": "大气污染,餐饮油烟", "group": "环境保护",
    }
    services_xml = GeoReport(root, output_format="xml").get_service_list()
    assert len(services_xml) == active
    oily_xml = next(s for s in services_xml if s["service_code"] == "03.01.01")
    assert oily_xml["service_name"] == "餐饮油烟" and oily_xml["metadata"] == "false" and oily_xml["group"] == "环境保护"
    Matter.objects.filter(code="03.01.01").update(active=False)
    assert "03.01.01" not in {s["service_code"] for s in GeoReport(root).get_service_list()}


def test_service_definition(root, http, city):
    assert GeoReport(root).get_service_definition("03.01.01") == {"service_code": "03.01.01", "attributes": []}
    xml = GeoReport(root, output_format="xml").get_service_definition("03.01.01")
    assert xml["service_code"] == "03.01.01"
    with pytest.raises(requests.HTTPError):
        GeoReport(root).get_service_definition("99.99.99")
    assert_error(http.get("/services/99.99.99.json"), 404, "99.99.99")


# --- posting a request -----------------------------------------------------------------------


def test_resident_posts_a_request_with_the_api_key(http, keys, city):
    response = post(http, keys["resident"])
    assert response.status_code == 200, response.text
    [answer] = response.json()
    case = Case.objects.get(number=answer["service_request_id"])
    assert answer["token"] == case.tracking_code and answer["service_notice"] == "已收到，等待受理"
    assert answer["account_id"] is None
    assert case.channel == "app" and case.state == State.SUBMITTED
    assert case.grid.code == A1 and case.reporter == city["users"]["resident"]
    assert case.matter_code == "03.01.01" and case.description == SECRET_TEXT
    assert case.reporter_name == "吴某某" and privacy.plain_of(case.reporter_phone) == PHONE
    assert (case.lon, case.lat) == EXACT


def test_staff_posts_through_the_api_channel(http, keys, city):
    response = post(http, keys["dispatcher"], fmt="xml", first_name=None, last_name=None, phone=None,
                    lat=None, long=None, address_id="110101001001", address_string="多福巷12号")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    answer = xmltodict.parse(response.text)["service_requests"]["request"]
    case = Case.objects.get(number=answer["service_request_id"])
    assert case.channel == "api" and case.state == State.ACCEPTED and answer["service_notice"] == "已受理"
    assert case.region.code == "110101001001" and case.grid is None and case.address == "多福巷12号"
    assert case.created_by == city["users"]["dispatcher"] and case.reporter is None


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"lat": "north"}, "lat 应为数字"),
        ({"long": "nan"}, "long 应为有限的数字"),
        ({"lat": "95", "long": "116.4"}, "经纬度超出范围"),
        ({"lat": "30", "long": "100"}, "不在本平台的任何网格内"),
        ({"long": None}, "lat 和 long 需同时提供"),
        ({"lat": None, "long": None}, "请提供位置"),
        ({"service_code": None}, "缺少 service_code"),
        ({"service_code": "99.99.99"}, "事项“99.99.99”不存在或已停用（service_code）"),
        ({"description": " "}, "请填写问题描述"),
        ({"phone": "110"}, "联系电话应为 11 位手机号或区号-座机号（phone）"),
    ],
)
def test_bad_input_is_a_400_error_array_and_writes_nothing(http, keys, changes, words):
    assert_error(post(http, keys["resident"], **changes), 400, words)
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_posting_needs_a_valid_api_key(http, keys, city):
    assert_error(post(http, None), 403, "缺少 api_key")
    assert_error(post(http, "gr_not-a-real-key"), 403, "api_key 无效")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.API_AUTH_FAILED, path__startswith="/open311/").exists()
    xml = post(http, None, fmt="xml")
    assert xml.status_code == 403
    error = xmltodict.parse(xml.text)["errors"]["error"]
    assert error["code"] == "403" and "api_key" in error["description"]
    # A valid key of a role that may not report (a department's handler) is refused too.
    assert_error(post(http, keys["handler"]), 403, "您的角色不能登记事件")
    assert not Case.objects.exists()


def test_wrong_method_is_an_error_array(http):
    assert_error(http.post("/services.json"), 405, "GET")


# --- reading requests --------------------------------------------------------------------------


def reported(city, text=SECRET_TEXT, matter="03.01.01", at=EXACT, **kw) -> Case:
    resident = city["users"]["resident"]
    return services.intake(resident, Report(channel="app", description=text, lon=at[0], lat=at[1],
                                            matter_code=matter, reporter_phone=PHONE, **kw)).case


def test_anonymous_reading_shows_status_but_nothing_personal(root, http, city):
    case = reported(city)
    [row] = GeoReport(root).get_service_requests()
    assert row["service_request_id"] == case.number
    assert row["status"] == "open" and row["status_notes"] == "待受理"
    assert row["service_code"] == "03.01.01" and row["service_name"] == "餐饮油烟"
    assert "description" not in row
    assert row["address"] == "东华门街道多福巷社区"
    assert (row["lat"], row["long"]) == (39.905, 116.402)
    assert row["requested_datetime"].endswith("+08:00") and row["media_url"] is None
    assert row["address_id"] is None

    for path in ("/requests.json", "/requests.xml", f"/requests/{case.number}.json", f"/requests/{case.number}.xml"):
        text = http.get(path).text
        for secret in (PHONE, "吴居民", "吴某某", "3单元", "烧烤", str(EXACT[0]), str(EXACT[1]), "39.9054"):
            assert secret not in text, (path, secret)


def test_reading_with_an_api_key_shows_the_callers_own_scope_in_full(http, keys, city):
    case = reported(city)
    case = services.dispatch(case, city["users"]["dispatcher"], case.version, lead_department=city["shengtai"])
    services.resolve(case, city["users"]["handler_st"], case.version, "已责令安装油烟净化器")
    for who in ("resident", "community_staff", "handler_st", "dispatcher"):
        [row] = http.get(f"/requests/{case.number}.json", params={"api_key": keys[who]}).json()
        assert row["description"] == SECRET_TEXT, who
        assert (row["long"], row["lat"]) == EXACT and row["address_id"] == A1
        assert row["status"] == "closed" and row["status_notes"] == "已办结：已责令安装油烟净化器"
        assert row["agency_responsible"] == "东城区生态环境局"
        assert PHONE not in http.get("/requests.json", params={"api_key": keys[who]}).text
    # Outside the key owner's scope: the same public row as for anyone.
    for who in ("community_staff_b", "handler", "leader_x"):
        [row] = http.get(f"/requests/{case.number}.json", params={"api_key": keys[who]}).json()
        assert "description" not in row and row["lat"] == 39.905, who
        assert row["status_notes"] == "已办结"
    assert_error(http.get("/requests.json", params={"api_key": "gr_revoked"}), 403, "api_key 无效")


def test_private_matters_are_not_public(root, http, keys, city):
    dispute = reported(city, "邻居家天天漏水到我家，协商不成", matter="13.01.01")
    public = reported(city, "路灯不亮", matter="03.01.01")
    assert [r["service_request_id"] for r in GeoReport(root).get_service_requests()] == [public.number]
    assert_error(http.get(f"/requests/{dispute.number}.json"), 404, dispute.number)
    mine = http.get("/requests.json", params={"api_key": keys["community_staff"]}).json()
    assert {r["service_request_id"] for r in mine} == {dispute.number, public.number}
    assert_error(http.get(f"/requests/{dispute.number}.json", params={"api_key": keys["community_staff_b"]}), 404,
                 dispute.number)


def test_request_filters_and_status(root, http, city):
    first = reported(city, "饭店油烟直排")
    second = reported(city, "楼道堆物", matter="02.01.02")
    client = GeoReport(root)
    assert {r["service_request_id"] for r in client.get_service_requests()} == {first.number, second.number}
    ids = client.get_service_requests(service_request_id=f"{second.number},{first.number},SJ404")
    assert [r["service_request_id"] for r in ids] == [second.number, first.number]
    assert [r["service_request_id"] for r in client.get_service_requests(service_code="02.01.02")] == [second.number]
    assert len(client.get_service_requests(service_code="02.01.02,03.01.01")) == 2
    services.reject(first, city["users"]["dispatcher"], first.version, "重复来电，已作废")
    second = services.resolve_on_spot(second, city["users"]["grid_worker"], second.version, "已清理")
    assert [r["service_request_id"] for r in client.get_service_requests(status="closed")] == [second.number]
    assert client.get_service_requests(status="open") == []  # rejected reports are not public
    single = client.get_service_request(second.number)
    assert single["status"] == "closed" and single["agency_responsible"] == "多福巷第一网格"
    assert client.get_service_requests(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z") == []
    assert_error(http.get("/requests.json", params={"start_date": "2020-01-01T00:00:00Z",
                                                     "end_date": "2020-06-01T00:00:00Z"}), 400, "不能超过 90 天")
    assert_error(http.get("/requests.json", params={"start_date": "yesterday"}), 400, "start_date")
    assert_error(http.get("/requests.json", params={"status": "pending"}), 400, "open 或 closed")
    assert_error(http.get("/requests/SJ404.json"), 404, "SJ404")


def test_xml_requests_parse(root, city):
    first = reported(city)
    one = GeoReport(root, output_format="xml").get_service_requests()
    assert one["service_request_id"] == first.number and one["status"] == "open"  # a single <request>
    second = reported(city, "楼道堆物", matter="02.01.02")
    many = GeoReport(root, output_format="xml").get_service_requests()
    assert [r["service_request_id"] for r in many] == [second.number, first.number]
    assert many[0]["lat"] == "39.905" and many[0]["address"] == "东华门街道多福巷社区"
    assert "description" not in many[0]
    single = GeoReport(root, output_format="xml").get_service_request(first.number)
    assert single["service_code"] == "03.01.01"


def test_token_lookup(http, keys, city):
    [answer] = post(http, keys["resident"]).json()
    token, number = answer["token"], answer["service_request_id"]
    assert http.get(f"/tokens/{token}.json").json() == [{"service_request_id": number, "token": token}]
    assert http.get(f"/tokens/{token.lower()}.json").json()[0]["service_request_id"] == number
    xml = xmltodict.parse(http.get(f"/tokens/{token}.xml").text)["service_requests"]["request"]
    assert xml == {"service_request_id": number, "token": token}
    assert_error(http.get("/tokens/FFFFFFFFFF.json"), 404, "FFFFFFFFFF")
