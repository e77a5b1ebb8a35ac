"""The case pages through the test client: reporting, entry, worklists and exports, the case
page and its actions, tracking, 三率, the catalog and the inbox — who may, who may not, and
what a wrong input says (in Chinese) without writing anything.

The classifier is another part's; here a small stand-in answers so the pages are tested on
their own (tests/test_case_browser.py uses the real one)."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.classifier import Suggestion
from grassroots.cases.models import (
    Case,
    CaseEvent,
    Evaluation,
    Extension,
    Matter,
    MatterChange,
    Notification,
    State,
)
from grassroots.cases.services import Report
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db


IN_A1 = (116.402, 39.905)
IN_B1 = (116.412, 39.905)
IN_C1 = (116.315, 39.905)
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100
PHONE = "13812345678"

STAND_IN = {
    "油烟": ["03.01.01", "03.02.02", "03.01.02"],
    "楼道": ["02.01.02", "14.01.01", "02.01.01"],
    "摆摊": ["02.02.01", "06.01.01", "02.01.01"],
}


def stand_in_classify(text: str) -> list:
    codes = next((codes for key, codes in STAND_IN.items() if key in text), ["02.01.01", "09.02.01", "12.01.01"])
    names = dict(Matter.objects.filter(code__in=codes).values_list("code", "name"))
    return [Suggestion(code, score, names[code]) for code, score in zip(codes, (0.71, 0.18, 0.06), strict=True)]


@pytest.fixture(autouse=True)
def classifier(monkeypatch):
    monkeypatch.setattr(services, "classify", stand_in_classify)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    users["resident2"] = create_staff("res2", None, Role.RESIDENT, full_name="郑居民")
    return {"tree": tree, "u": users, "shengtai": shengtai}


def report(actor, text="楼下烧烤店油烟直排，熏得开不了窗", *, at=IN_A1, channel="app", matter="03.01.01", **kw):
    return services.intake(
        actor, Report(channel=channel, description=text, lon=at[0], lat=at[1], matter_code=matter, **kw)
    ).case


def dispatched(city, **kw):
    u = city["u"]
    case = report(u["resident"], reporter_phone=PHONE, **kw)
    return services.dispatch(case, u["dispatcher"], case.version, lead_department=city["shengtai"])


def html(response) -> str:
    return response.content.decode()


def act(client, case, action, **data):
    return client.post(f"/cases/{case.number}/act/", {"action": action, "version": case.version, **data})


# --- reporting ---------------------------------------------------------------------------------


def test_resident_reports_and_sees_number_code_suggestions_and_route(client, city):
    client.force_login(city["u"]["resident"])
    page = client.get("/cases/report/")
    assert page.status_code == 200 and "问题描述" in html(page) and 'id="pick-map"' in html(page)
    response = client.post("/cases/report/", {
        "channel": "app", "description": "楼下烧烤店油烟很大，晚上熏得开不了窗", "lon": IN_A1[0], "lat": IN_A1[1],
        "address": "3号楼", "reporter_phone": PHONE,
        "photos": [SimpleUploadedFile("现场.jpg", JPEG, content_type="image/jpeg"),
                   SimpleUploadedFile("远景.jpg", JPEG, content_type="image/jpeg")],
    })
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/submitted/"
    assert case.state == State.SUBMITTED and case.grid == city["tree"]["A1"] and case.attachments.count() == 2
    done = html(client.get(response["Location"]))
    assert case.number in done and case.tracking_code in done
    assert re.search(r"餐饮油烟 <span class=\"score\">71%", done)
    assert "工业与商业设备噪声" in done and "露天焚烧" in done  # the other two of the top three
    assert "生态环境局" in done  # the route explanation
    assert "138****5678" in done and PHONE not in done


def test_anonymous_report_keeps_no_phone_and_shows_the_code_prominently(client, city):
    client.force_login(city["u"]["resident"])
    response = client.post("/cases/report/", {"channel": "app", "description": "路口烧烤摊油烟", "lon": IN_A1[0],
                                              "lat": IN_A1[1], "reporter_phone": PHONE, "anonymous": "1"})
    case = Case.objects.get()
    assert case.anonymous and case.reporter_phone == "" and case.reporter_name == ""
    done = html(client.get(response["Location"]))
    assert "这是匿名反映，请务必记下查询码" in done
    assert f'<div class="code-box" id="tracking-code">{case.tracking_code}</div>' in done


@pytest.mark.parametrize(
    "change, message",
    [
        ({"description": "  "}, "请填写问题描述"),
        ({"reporter_phone": "12345"}, "联系电话应为 11 位手机号或区号-座机号"),
        ({"photos": SimpleUploadedFile("a.exe", b"MZ" + b"0" * 10, content_type="application/x-msdownload")}, "类型不支持"),
        ({"photos": SimpleUploadedFile("fake.jpg", b"not a jpeg", content_type="image/jpeg")}, "内容与文件类型不符"),
        ({"lon": "", "lat": ""}, "请在地图上选择位置"),
        ({"lon": 100.0, "lat": 30.0}, "该位置不在本平台的任何网格内"),
        ({"lon": "abc"}, "位置坐标不正确"),
        ({"title": "标" * 101}, "标题不能超过 100 字"),
    ],
)
def test_bad_report_is_explained_in_chinese_and_writes_nothing(client, city, change, message):
    client.force_login(city["u"]["resident"])
    data = {"channel": "app", "description": "楼下烧烤店油烟很大", "lon": IN_A1[0], "lat": IN_A1[1],
            "reporter_phone": PHONE, "address": "5号楼东侧"}
    data.update(change)
    response = client.post("/cases/report/", data)
    assert response.status_code == 400
    page = html(response)
    assert message in page
    assert "5号楼东侧" in page  # what was typed is shown again
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_grid_worker_reports_and_resolves_on_the_spot(client, city):
    client.force_login(city["u"]["grid_worker"])
    page = html(client.get("/cases/report/?channel=grid"))
    assert "就地处置" in page and 'name="channel" value="grid"' in page
    response = client.post("/cases/report/?channel=grid", {
        "channel": "grid", "description": "3单元楼道堆放纸箱", "lon": IN_A1[0], "lat": IN_A1[1],
        "matter_code": "02.01.02", "on_spot": "1", "on_spot_result": "已督促住户清理完毕",
    })
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.channel == "grid" and case.state == State.RESOLVED and case.result == "已督促住户清理完毕"
    assert "已上报并就地处置" in html(client.get(response["Location"]))


def test_on_the_spot_for_a_bigger_matter_is_refused_and_nothing_is_kept(client, city):
    client.force_login(city["u"]["grid_worker"])
    response = client.post("/cases/report/", {
        "channel": "grid", "description": "饭店油烟直排", "lon": IN_A1[0], "lat": IN_A1[1],
        "matter_code": "03.01.01", "on_spot": "1", "on_spot_result": "已劝说",
    })
    assert response.status_code == 400
    assert "只有网格级事项可以就地处置" in html(response) and "已劝说" in html(response)
    assert not Case.objects.exists()


@pytest.mark.parametrize("role", ["handler", "leader", "mediator", "admin"])
def test_report_and_entry_pages_refuse_roles_without_them(client, city, role):
    client.force_login(city["u"][role])
    assert client.get("/cases/report/").status_code == 403
    assert client.get("/cases/new/").status_code == 403
    assert "无权" in html(client.get("/cases/new/"))


def test_grid_outlines_for_the_map_carry_names_only(client, city, monkeypatch):
    assert client.get("/cases/grids.geojson").status_code == 302  # login first
    client.force_login(city["u"]["resident"])
    start = client.get("/cases/grids.geojson").json()
    assert start["features"] == [] and start["bounds"][0] == pytest.approx(116.31)
    data = client.get("/cases/grids.geojson?bbox=116.39,39.89,116.43,39.92").json()
    assert {f["properties"]["code"] for f in data["features"]} == {
        city["tree"][k].code for k in ("A1", "A2", "B1", "B2")}
    assert all(set(f["properties"]) == {"code", "name", "level"} for f in data["features"])
    from grassroots.cases import views

    monkeypatch.setattr(views, "GRID_FEATURES_MAX", 2)  # too many to draw: the streets instead
    data = client.get("/cases/grids.geojson?bbox=116.39,39.89,116.43,39.92").json()
    assert data["zoom_in"] and {f["properties"]["name"] for f in data["features"]} == {"东华门街道"}


# --- the dispatcher's entry -----------------------------------------------------------------


def test_dispatcher_enters_a_call_and_dispatches_it_in_one_go(client, city):
    u, t = city["u"], city["tree"]
    client.force_login(u["dispatcher"])
    page = html(client.get("/cases/new/"))
    assert "受理并派遣" in page and "12345热线" in page and t["A1"].code in page
    response = client.post("/cases/new/", {
        "channel": "hotline", "reporter_name": "刘先生", "reporter_phone": PHONE,
        "description": "小区门口烧烤店油烟直排，住户反映多次", "region_code": t["A1"].code,
        "matter_code": "03.01.01", "lead": f"d:{city['shengtai'].pk}", "assists": [str(t["chengguan"].pk)],
        "note": "请尽快核查", "submit": "dispatch",
    })
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    assert case.channel == "hotline" and case.state == State.DISPATCHED and case.reporter_name == "刘先生"
    assert case.lead_department == city["shengtai"] and [a.department for a in case.assists.all()] == [t["chengguan"]]
    assert list(case.events.values_list("action", flat=True)) == ["report", "accept", "dispatch"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lead": ""}, "请指定一个主办单位"),
        ({"reporter_phone": "8888"}, "联系电话应为"),
        ({"description": ""}, "请填写问题描述"),
        ({"region_code": ""}, "请在地图上选择位置，或选择所在社区/网格"),
        ({"channel": "grid"}, "请从列表中选择"),
        ({"lead": "r:110102001001"}, "主办单位不在您的调度范围内"),  # a community of another street
    ],
)
def test_bad_entry_is_explained_and_writes_nothing(client, city, change, message):
    client.force_login(city["u"]["dispatcher"])
    data = {"channel": "hotline", "reporter_name": "刘先生", "reporter_phone": PHONE,
            "description": "烧烤油烟扰民", "region_code": city["tree"]["A1"].code, "matter_code": "03.01.01",
            "lead": f"d:{city['shengtai'].pk}", "submit": "dispatch"}
    data.update(change)
    response = client.post("/cases/new/", data)
    assert response.status_code in (400, 403)
    assert message in html(response) and "刘先生" in html(response)
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_register_only_leaves_the_case_for_dispatch(client, city):
    client.force_login(city["u"]["dispatcher"])
    client.post("/cases/new/", {"channel": "letter", "description": "来信反映楼道堆物", "submit": "register",
                                "region_code": city["tree"]["A"].code})
    case = Case.objects.get()
    assert case.state == State.ACCEPTED and case.channel == "letter" and case.region == city["tree"]["A"]


def test_suggestions_route_and_duplicates_come_live(client, city):
    u, t = city["u"], city["tree"]
    earlier = report(u["resident"], "楼下烧烤店油烟直排，熏得开不了窗")
    client.force_login(u["dispatcher"])
    response = client.get("/cases/suggest/", {"description": "楼下烧烤店油烟直排，熏得开不了窗，请处理", "mode": "entry",
                                              "region_code": t["A1"].code}, HTTP_HX_REQUEST="true")
    page = html(response)
    assert response.status_code == 200 and "<html" not in page
    assert page.count("data-pick-matter=") == 3 and "餐饮油烟" in page
    assert "由生态环境局主办" in page
    assert earlier.number in page and 'id="duplicates"' in page
    assert 'hx-swap-oob="true"' in page and f'value="d:{city["shengtai"].pk}" selected' in page
    # a chosen matter wins over the first suggestion, and the route follows it
    page = html(client.get("/cases/suggest/", {"description": "油烟", "mode": "entry", "matter_code": "02.01.02",
                                               "region_code": t["A1"].code}))
    assert "楼道堆物" in page and "小事一格解决" in page and f'value="r:{t["A1"].code}" selected' in page


# --- worklists and exports ------------------------------------------------------------------


def test_worklist_tabs_filters_colours_and_masked_phones(client, city):
    u = city["u"]
    a = report(u["resident"], reporter_phone=PHONE)
    b = report(u["resident2"], "楼道堆满杂物", at=IN_B1, matter="02.01.02", reporter_phone="13900001111")
    Case.objects.filter(pk=b.pk).update(yellow_at=timezone.now() - timedelta(hours=2), red_at=timezone.now() - timedelta(hours=1))
    client.force_login(u["dispatcher"])
    page = html(client.get("/cases/"))
    assert a.number in page and b.number in page
    assert page.index(b.number) < page.index(a.number)  # newest first
    assert f'class="alert-red" data-number="{b.number}"' in page
    assert PHONE not in page and "138****5678" in page  # masked for everyone: reveal on the case page
    assert re.search(r'data-tab="pending" aria-current="page">待我处理<span class="n">2</span>', page)
    assert re.search(r'data-tab="overdue">超期<span class="n">1</span>', page)
    filtered = html(client.get("/cases/", {"tab": "all", "matter": "02"}))
    assert b.number in filtered and a.number not in filtered
    # the tabs count what they would list under the same filter
    assert re.search(r'data-tab="pending">待我处理<span class="n">1</span>', filtered)
    assert re.search(r'data-tab="overdue">超期<span class="n">1</span>', filtered)
    filtered = html(client.get("/cases/", {"tab": "all", "matter": "03"}))
    assert re.search(r'data-tab="overdue">超期<span class="n">0</span>', filtered)
    assert a.number in html(client.get("/cases/", {"tab": "all", "q": a.number}))
    assert "没有符合条件的事件" in html(client.get("/cases/", {"tab": "all", "since": "2001-01-01", "until": "2001-01-02"}))
    bad = html(client.get("/cases/", {"tab": "all", "since": "昨天"}))
    assert "日期格式应为 年-月-日" in bad
    client.force_login(u["community_staff"])  # 多福巷社区: sees A only, phone masked
    page = html(client.get("/cases/?tab=all"))
    assert a.number in page and b.number not in page and "138****5678" in page and PHONE not in page


def test_worklist_filters_answer_htmx_with_the_table_only(client, city):
    case = report(city["u"]["resident"])
    client.force_login(city["u"]["dispatcher"])
    response = client.get("/cases/", {"tab": "all", "state": "submitted"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    page = html(response)
    assert "<html" not in page and case.number in page and 'id="tabs" hx-swap-oob="true"' in page


def test_worklist_pages_by_fifty(client, city):
    u = city["u"]
    for i in range(51):
        report(u["dispatcher"], f"油烟扰民第{i}件", channel="hotline")
    client.force_login(u["dispatcher"])
    first = html(client.get("/cases/?tab=all"))
    assert first.count('data-number="') == 50 and "第 1 / 2 页，共 51 条" in first
    assert html(client.get("/cases/?tab=all&page=2")).count('data-number="') == 1


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_hold_the_scope_and_mask_phones(client, city):
    u = city["u"]
    a = report(u["resident"], reporter_phone=PHONE)
    b = report(u["resident2"], "楼道堆物", at=IN_B1, matter="02.01.02", reporter_phone="13900001111")
    c = report(u["resident"], "西城的油烟", at=IN_C1, reporter_phone=PHONE)
    client.force_login(u["community_staff"])
    rows = _csv(client.get("/cases/export.csv?tab=all"))
    assert [r["编号"] for r in rows] == [a.number] and rows[0]["联系电话"] == "138****5678"
    client.force_login(u["dispatcher"])
    rows = _csv(client.get("/cases/export.csv?tab=all"))
    assert {r["编号"] for r in rows} == {a.number, b.number} and c.number not in str(rows)
    assert {r["联系电话"] for r in rows} == {"138****5678", "139****1111"}  # exports are always masked
    assert [r["编号"] for r in _csv(client.get("/cases/export.csv?tab=all&matter=02"))] == [b.number]
    client.force_login(u["leader"])  # 东城区: A and B, masked
    response = client.get("/cases/export.xlsx?tab=all")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "编号" and {row[0] for row in values[1:]} == {a.number, b.number}
    assert {row[14] for row in values[1:]} == {"138****5678", "139****1111"}


def test_exported_text_is_never_a_formula(client, city):
    case = report(city["u"]["resident"], "=HYPERLINK(\"http://example.com\",\"点我\")", title="=1+1", address="@SUM(A1)")
    client.force_login(city["u"]["dispatcher"])
    row = _csv(client.get("/cases/export.csv?tab=all"))[0]
    assert row["标题"] == "'=1+1" and row["地址"] == "'@SUM(A1)"
    sheet = load_workbook(io.BytesIO(client.get("/cases/export.xlsx?tab=all").content)).active
    cells = next(sheet.iter_rows(min_row=2, max_row=2))
    assert cells[1].value == "'=1+1" and cells[1].data_type == "s"
    assert case.number == cells[0].value


def test_export_needs_the_action(client, city):
    report(city["u"]["resident"])
    client.force_login(city["u"]["resident"])
    assert client.get("/cases/export.csv").status_code == 403
    assert client.get("/cases/export.xlsx").status_code == 403


# --- the case page -------------------------------------------------------------------------


def test_case_page_shows_facts_clocks_timeline_map_and_the_viewers_actions(client, city):
    u = city["u"]
    case = dispatched(city, files=[SimpleUploadedFile("现场.jpg", JPEG, content_type="image/jpeg")])
    client.force_login(u["handler_st"])
    page = html(client.get(f"/cases/{case.number}/"))
    assert "餐饮油烟" in page and "响应 24 小时，办结 10 个工作日" in page
    assert "响应时限：剩余" in page and "办结时限：剩余" in page
    assert '<li data-action="dispatch"' in page and "王调度" in page
    assert 'id="case-map-data"' in page and "116.402" in page
    assert "138****5678" in page and PHONE not in page
    for label in ("签收", "联系反映人", "办结", "退单", "申请延期"):
        assert f"<summary>{label}</summary>" in page
    assert "<summary>派遣</summary>" not in page
    photo = case.attachments.get()
    assert f"/cases/{case.number}/files/{photo.pk}/" in page and "/media/" not in page
    client.force_login(u["dispatcher"])
    page = html(client.get(f"/cases/{case.number}/"))
    assert PHONE not in page and "显示完整号码" in page  # the dispatcher reveals it on demand (audited)
    assert "<summary>督办</summary>" in page and "<summary>签收</summary>" not in page


def test_photo_is_served_only_to_those_who_see_the_case(client, city):
    u = city["u"]
    case = report(u["resident"], files=[SimpleUploadedFile("现场.jpg", JPEG, content_type="image/jpeg")])
    photo = case.attachments.get()
    url = f"/cases/{case.number}/files/{photo.pk}/"
    client.force_login(u["dispatcher"])
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == JPEG
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    for outsider in ("community_staff_b", "handler", "resident2", "leader_x"):
        client.force_login(u[outsider])
        assert client.get(url).status_code == 404, outsider
    client.logout()
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("outsider", ["community_staff_b", "grid_worker_b", "handler", "handler_x", "leader_x", "resident2"])
def test_out_of_scope_case_is_404_by_page_action_and_confirmation(client, city, outsider):
    case = report(city["u"]["resident"])
    client.force_login(city["u"][outsider])
    assert client.get(f"/cases/{case.number}/").status_code == 404
    assert client.get(f"/cases/{case.number}/submitted/").status_code == 404
    assert act(client, case, "reject", reason="测试来电无效").status_code == 404
    assert Case.objects.get(pk=case.pk).state == State.SUBMITTED
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=city["u"][outsider]).count() == 3
    assert client.get("/cases/SJ000000000000/").status_code == 404


def test_the_whole_loop_through_the_case_page(client, city):
    u = city["u"]
    case = report(u["resident"], reporter_phone=PHONE)
    client.force_login(u["dispatcher"])
    page = html(client.get(f"/cases/{case.number}/"))
    assert f'value="d:{city["shengtai"].pk}" selected' in page  # the route's department, prefilled
    response = act(client, case, "dispatch", lead=f"d:{city['shengtai'].pk}", matter_code="03.01.01", note="请核查")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.DISPATCHED
    client.force_login(u["handler_st"])
    assert act(client, case, "start").status_code == 302
    case.refresh_from_db()
    assert act(client, case, "respond", note="已电话联系反映人").status_code == 302
    case.refresh_from_db()
    assert act(client, case, "resolve", result="已责令安装油烟净化器").status_code == 302
    case.refresh_from_db()
    client.force_login(u["resident"])
    page = html(client.get(f"/cases/{case.number}/"))
    assert "<summary>回访评价</summary>" in page and "王调度" not in page  # staff names stay with staff
    assert act(client, case, "evaluate", solved="yes", satisfied="yes", comment="很快").status_code == 302
    case.refresh_from_db()
    assert case.state == State.CLOSED
    assert list(case.events.values_list("action", flat=True)) == [
        "report", "dispatch", "start", "respond", "resolve", "evaluate"]
    evaluation = Evaluation.objects.get(case=case)
    assert evaluation.solved and evaluation.satisfied


@pytest.mark.parametrize(
    "role, action, data, message",
    [
        ("handler_st", "return", {"reason": "不"}, "请写明退单理由"),
        ("handler_st", "resolve", {"result": "  "}, "请填写办理结果"),
        ("handler_st", "respond", {"note": ""}, "请填写与反映人联系的情况"),
        ("handler_st", "request_extension", {"workdays": "45", "reason": "需要检测"}, "延期天数应为 1 到 30 个工作日"),
        ("handler_st", "request_extension", {"workdays": "三天", "reason": "需要检测"}, "延期天数应为整数"),
        ("dispatcher", "merge", {"into": "SJ404"}, "目标事件不存在"),
        ("dispatcher", "supervise", {"reason": ""}, "请填写督办事由"),
    ],
)
def test_bad_action_input_is_explained_and_the_typed_text_kept(client, city, role, action, data, message):
    case = dispatched(city)
    client.force_login(city["u"][role])
    before = case.events.count()
    response = act(client, case, action, **data)
    assert response.status_code == 400
    page = html(response)
    assert message in page and f'<details id="act-{action}" open>' in page
    for value in data.values():
        if value.strip() and action != "request_extension":
            assert value in page
    assert case.events.count() == before and Case.objects.get(pk=case.pk).state == State.DISPATCHED


def test_stale_version_says_someone_else_acted_and_keeps_the_text(client, city):
    u = city["u"]
    case = report(u["resident"])
    stale = case.version
    services.reject(Case.objects.get(pk=case.pk), u["dispatcher"], stale, "重复来电，已作废")
    client.force_login(u["dispatcher"])
    response = client.post(f"/cases/{case.number}/act/", {"action": "dispatch", "version": stale,
                                                          "lead": f"d:{city['shengtai'].pk}", "note": "我的派遣意见"})
    assert response.status_code == 409
    page = html(response)
    assert "该事件刚被他人处理" in page and f'href="/cases/{case.number}/"' in page and "刷新" in page
    assert "我的派遣意见" in page
    assert Case.objects.get(pk=case.pk).state == State.REJECTED


def test_conflict_on_a_form_still_offered_keeps_the_text_in_it(client, city):
    case = dispatched(city)
    client.force_login(city["u"]["handler_st"])
    response = act(client, case, "respond", note="已联系", version=case.version - 1)
    assert response.status_code == 409 and '<details id="act-respond" open>' in html(response)
    assert ">已联系</textarea>" in html(response)


def test_an_action_the_viewer_may_not_take_is_403(client, city):
    u = city["u"]
    case = report(u["resident"])
    client.force_login(u["resident"])
    response = act(client, case, "dispatch", lead=f"d:{city['shengtai'].pk}")
    assert response.status_code == 403 and "您无权对该事件执行“派遣”" in html(response)
    client.force_login(u["grid_worker"])  # sees cases of the grid, may not reject them
    assert act(client, case, "reject", reason="测试来电无效").status_code == 403
    assert Case.objects.get(pk=case.pk).state == State.SUBMITTED


def test_return_arbitration_extension_merge_reopen_and_supervision_pages(client, city):
    u = city["u"]
    case = dispatched(city)
    client.force_login(u["handler_st"])
    assert act(client, case, "request_extension", workdays="5", reason="需要第三方检测").status_code == 302
    client.force_login(u["dispatcher"])
    case.refresh_from_db()
    page = html(client.get(f"/cases/{case.number}/"))
    assert "申请延期 5 个工作日：需要第三方检测" in page
    assert act(client, case, "decide_extension", decision="approve", note="同意").status_code == 302
    assert Extension.objects.get().decision == Extension.Decision.APPROVED
    case.refresh_from_db()
    assert act(client, case, "supervise", reason="群众反映强烈，请加快").status_code == 302
    assert case.supervisions.count() == 1
    client.force_login(u["handler_st"])
    case.refresh_from_db()
    assert act(client, case, "return", reason="油烟属城管执法范围").status_code == 302
    client.force_login(u["dispatcher"])
    case.refresh_from_db()
    assert act(client, case, "arbitrate", ruling="uphold", note="退单成立",
               lead=f"d:{city['tree']['chengguan'].pk}").status_code == 302
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == city["tree"]["chengguan"]
    duplicate = report(u["resident2"], "楼下烧烤店油烟直排，熏得开不了窗，请处理")
    assert act(client, duplicate, "merge", into=case.number).status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.state == State.MERGED
    assert duplicate.number in html(client.get(f"/cases/{case.number}/"))
    client.force_login(u["handler"])
    case.refresh_from_db()
    assert act(client, case, "resolve", result="已整改").status_code == 302
    client.force_login(u["dispatcher"])
    case.refresh_from_db()
    assert act(client, case, "reopen", reason="回访发现仍有油烟").status_code == 302
    case.refresh_from_db()
    assert case.state == State.REOPENED


# --- tracking -----------------------------------------------------------------------------


def test_tracking_page_shows_state_and_timeline_without_personal_data(client, city):
    u = city["u"]
    case = report(u["resident"], reporter_phone=PHONE, address="幸福里3号楼")
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=city["shengtai"], note="王调度的意见")
    response = client.get("/track/", {"code": case.tracking_code.lower()})
    page = html(response)
    assert response.status_code == 200 and "已派遣" in page and "派遣" in page
    for secret in ("王调度", "吴居民", PHONE, "138****5678", "幸福里", "王调度的意见", "楼下烧烤店"):
        assert secret not in page
    assert "评价办理结果" not in page
    assert client.get("/track/", {"code": "NOPE000000"}).status_code == 404


def test_reporter_evaluates_on_the_tracking_page(client, city):
    u = city["u"]
    case = dispatched(city)
    case = services.resolve(case, u["handler_st"], case.version, "已安装净化器")
    client.force_login(u["resident2"])  # someone else who knows the code may look, not evaluate
    assert "评价办理结果" not in html(client.get("/track/", {"code": case.tracking_code}))
    client.force_login(u["resident"])
    page = html(client.get("/track/", {"code": case.tracking_code}))
    assert "评价办理结果" in page and "已安装净化器" in page
    response = client.post(f"/cases/{case.number}/act/", {"action": "evaluate", "version": case.version,
                                                          "solved": "yes", "satisfied": "no", "next": "track"})
    assert response.status_code == 302 and response["Location"].startswith("/track/?code=")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS  # unsatisfied: back to the lead unit once
    assert "问题已解决，不满意" in html(client.get(response["Location"]))


# --- 三率 ---------------------------------------------------------------------------------


def test_rates_page_for_leaders_dispatchers_and_admins(client, city):
    u = city["u"]
    case = dispatched(city)
    case = services.respond(case, u["handler_st"], case.version, "已联系")
    case = services.resolve(case, u["handler_st"], case.version, "已整改")
    services.evaluate(case, u["resident"], case.version, solved=True, satisfied=True)
    # the response was due a moment after it was made, and that moment has passed: counted, in time
    Case.objects.filter(pk=case.pk).update(respond_due_at=F("responded_at") + timedelta(milliseconds=1))
    for role in ("leader", "dispatcher", "admin"):
        client.force_login(u[role])
        page = html(client.get("/cases/rates/"))
        assert "生态环境局" in page and "100.0%" in page, role
    client.force_login(u["leader"])
    page = html(client.get("/cases/rates/", {"region": city["tree"]["B"].code}))
    assert "生态环境局" not in page and "该时段没有" in page
    page = html(client.get("/cases/rates/", {"region": city["tree"]["C"].code}))
    assert "所选辖区不在您的范围内" in page and "生态环境局" not in page
    assert "月份格式应为" in html(client.get("/cases/rates/", {"month": "三月"}))
    assert "自定义时段请同时填写开始和结束日期" in html(client.get("/cases/rates/", {"since": "2026-01-01"}))
    response = client.get("/cases/rates/export.xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0].startswith("三率统计 · 东城区") and rows[1][0] == "主办单位"
    assert ("生态环境局", "东城区", 1, 1, "100.0%", 1, 1, "100.0%", 1, "100.0%") in rows
    for role in ("handler", "grid_worker", "resident", "community_staff"):
        client.force_login(u[role])
        assert client.get("/cases/rates/").status_code == 403, role
        assert client.get("/cases/rates/export.xlsx").status_code == 403, role


# --- the catalog -------------------------------------------------------------------------


def test_admin_edits_a_matter_and_sees_its_history(client, city):
    u = city["u"]
    client.force_login(u["admin"])
    page = html(client.get("/cases/catalog/"))
    assert "餐饮油烟" in page and "/cases/catalog/03.01.01/" in page
    response = client.post("/cases/catalog/03.01.01/", {"tier": "street", "department_code": "chengguan",
                                                        "priority": "urgent", "response_hours": "12",
                                                        "resolve_workdays": "5"})
    assert response.status_code == 302
    matter = Matter.objects.get(code="03.01.01")
    assert (matter.tier, matter.department_code, matter.response_hours, matter.resolve_workdays) == ("street", "chengguan", 12, 5)
    page = html(client.get("/cases/catalog/03.01.01/"))
    assert "响应时限（小时）：24 → 12" in page and "处置层级：区级部门 → 街道" in page and "周管理" in page
    client.post("/cases/catalog/03.01.01/", {"active": "0"})
    assert not Matter.objects.get(code="03.01.01").active
    client.post("/cases/catalog/03.01.01/", {"active": "1"})
    assert Matter.objects.get(code="03.01.01").active and MatterChange.objects.count() == 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"response_hours": "0"}, "应为 1 到 720 之间的整数"),
        ({"resolve_workdays": "999"}, "应为 1 到 180 之间的整数"),
        ({"response_hours": "二十四"}, "响应时限应为整数"),
        ({"tier": "city"}, "请从列表中选择"),
        ({"department_code": ""}, "请填写主责部门代码"),
    ],
)
def test_bad_catalog_edit_is_explained_and_changes_nothing(client, city, change, message):
    client.force_login(city["u"]["admin"])
    data = {"tier": "district", "department_code": "shengtai", "priority": "normal", "response_hours": "24",
            "resolve_workdays": "10"}
    data.update(change)
    response = client.post("/cases/catalog/03.01.01/", data)
    assert response.status_code == 400 and message in html(response)
    assert not MatterChange.objects.exists() and Matter.objects.get(code="03.01.01").response_hours == 24


def test_catalog_is_read_only_for_staff_and_closed_to_residents(client, city):
    u = city["u"]
    client.force_login(u["leader"])
    page = html(client.get("/cases/catalog/"))
    assert "餐饮油烟" in page and "/cases/catalog/03.01.01/" not in page
    assert client.get("/cases/catalog/03.01.01/").status_code == 403
    assert client.post("/cases/catalog/03.01.01/", {"active": "0"}).status_code == 403
    client.force_login(u["resident"])
    assert client.get("/cases/catalog/").status_code == 403


# --- notifications and homes ------------------------------------------------------------------


def test_inbox_unread_first_and_marked_read(client, city):
    u = city["u"]
    case = dispatched(city)
    client.force_login(u["handler_st"])
    home = html(client.get("/home/"))
    assert "通知（1）" in home
    note = Notification.objects.get(recipient=u["handler_st"])
    page = html(client.get("/cases/inbox/"))
    assert f"新派遣事件 {case.number}" in page and 'class="unread"' in page
    response = client.post(f"/cases/inbox/{note.pk}/read/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "已读" in html(response) and "unread" not in html(response)
    assert "通知（1）" not in html(client.get("/home/"))
    client.force_login(u["handler"])
    assert client.post(f"/cases/inbox/{note.pk}/read/").status_code == 404
    client.force_login(u["handler_st"])
    assert client.get(f"/cases/inbox/{note.pk}/open/")["Location"] == f"/cases/{case.number}/"


@pytest.mark.parametrize("role", ["dispatcher", "handler_st", "grid_worker", "resident"])
def test_role_homes_show_worklist_counts(client, city, role):
    dispatched(city)
    client.force_login(city["u"][role])
    page = html(client.get("/home/"))
    assert "我的待办" in page
    first = "待我评价" if role == "resident" else "待我处理"
    assert first in page and "/cases/?tab=pending" in page
    if role == "handler_st":
        assert re.search(r'data-worklist="pending"><b>1</b>', page)
