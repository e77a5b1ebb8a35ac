"""The reporter's phone (个人信息保护法): masked for every role on every page, list, export and API
answer; revealed in full, one case at a time and with a reason, only to those who must call the
reporter — and every reveal is an audit row saying who, which case, when and why."""

import csv
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.services import Report
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff
from tests.test_case_pages import stand_in_classify

pytestmark = pytest.mark.django_db

IN_A1 = (116.402, 39.905)
PHONE = "13812345678"
MASKED = "138****5678"


@pytest.fixture(autouse=True)
def classifier(monkeypatch):
    monkeypatch.setattr(services, "classify", stand_in_classify)


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    users["dispatcher_x"] = create_staff("dp_x", None, Role.DISPATCHER, region=tree["street_x"])
    return {"tree": tree, "u": users, "shengtai": shengtai}


def report(city, **kw):
    fields = {"channel": "app", "description": "楼下烧烤店油烟直排，熏得开不了窗", "lon": IN_A1[0], "lat": IN_A1[1],
              "matter_code": "03.01.01", "reporter_phone": PHONE, **kw}
    return services.intake(city["u"]["resident"], Report(**fields)).case


def dispatched(city, **kw):
    case = report(city)
    return services.dispatch(case, city["u"]["dispatcher"], case.version, **(kw or {"lead_department": city["shengtai"]}))


def reveals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA, subject="cases.case").order_by("id"))


def reveal(client, case, reason="contact", note="", **headers):
    return client.post(f"/cases/{case.number}/phone/", {"reason": reason, "note": note}, **headers)


# --- masked by default -------------------------------------------------------------------------

STAFF = ["dispatcher", "handler_st", "community_staff", "grid_worker", "leader", "admin", "mediator"]


@pytest.mark.parametrize("who", STAFF)
def test_every_role_sees_the_phone_masked_on_the_page_the_list_and_the_api(client, city, who):
    case = dispatched(city)
    client.force_login(city["u"][who])
    for url in (f"/cases/{case.number}/", "/cases/?tab=all", f"/api/cases/{case.number}", "/api/cases"):
        body = client.get(url).content.decode()
        assert MASKED in body and PHONE not in body, (who, url)
    assert reveals() == []  # reading a page reveals nothing and records nothing


def test_the_reporter_sees_their_own_number(client, city):
    case = report(city)
    client.force_login(city["u"]["resident"])
    assert PHONE in client.get(f"/cases/{case.number}/").content.decode()
    assert client.get(f"/api/cases/{case.number}").json()["reporter_phone"] == PHONE
    assert "显示完整号码" not in client.get(f"/cases/{case.number}/").content.decode()


def test_exports_are_masked_even_for_dispatchers_and_record_no_reveal(client, city):
    report(city)
    client.force_login(city["u"]["dispatcher"])
    text = b"".join(client.get("/cases/export.csv?tab=all").streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["联系电话"] for r in rows] == [MASKED]
    sheet = load_workbook(io.BytesIO(client.get("/cases/export.xlsx?tab=all").content)).active
    assert [row[14] for row in sheet.iter_rows(min_row=2, values_only=True)] == [MASKED]
    assert reveals() == []


# --- revealing on the case page ------------------------------------------------------------------


def test_dispatcher_reveals_with_htmx_and_the_reveal_is_audited(client, city):
    case = report(city)
    dispatcher = city["u"]["dispatcher"]
    client.force_login(dispatcher)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "显示完整号码" in page and f'hx-post="/cases/{case.number}/phone/"' in page
    assert "csrfmiddlewaretoken" in page
    response = reveal(client, case, "callback", HTTP_HX_REQUEST="true", REMOTE_ADDR="10.1.2.3")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert f'<a href="tel:{PHONE}">{PHONE}</a>' in body and "已记入审计日志" in body
    assert response["Cache-Control"] == "no-store"
    [event] = reveals()
    assert event.user == dispatcher and event.username == "dp_street" and event.ip == "10.1.2.3"
    assert event.path == f"/cases/{case.number}/phone/" and event.at is not None
    assert case.number in event.detail and "回访评价" in event.detail and PHONE not in event.detail


def test_reveal_without_htmx_shows_the_case_page_with_the_number(client, city):
    case = report(city)
    client.force_login(city["u"]["dispatcher"])
    response = reveal(client, case)
    assert response.status_code == 200 and "<html" in response.content.decode() and PHONE in response.content.decode()
    assert len(reveals()) == 1


def test_each_reveal_is_one_audit_row(client, city):
    case = report(city)
    client.force_login(city["u"]["dispatcher"])
    for _ in range(3):
        assert reveal(client, case, HTTP_HX_REQUEST="true").status_code == 200
    assert len(reveals()) == 3


@pytest.mark.parametrize(("reason", "note", "message"), [
    ("", "", "请选择查看完整号码的事由"),
    ("curious", "", "请选择查看完整号码的事由"),
    ("other", "", "选择“其他”时请简要说明事由"),
])
def test_a_reveal_needs_a_reason(client, city, reason, note, message):
    case = report(city)
    client.force_login(city["u"]["dispatcher"])
    response = reveal(client, case, reason, note)
    assert response.status_code == 400 and message in response.content.decode()
    assert PHONE not in response.content.decode()
    htmx = reveal(client, case, reason, note, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and message in htmx.content.decode() and PHONE not in htmx.content.decode()
    assert reveals() == []


def test_other_with_a_note_is_recorded_with_the_note(client, city):
    case = report(city)
    client.force_login(city["u"]["dispatcher"])
    assert reveal(client, case, "other", "核对重复来电").status_code == 200
    assert "其他：核对重复来电" in reveals()[0].detail


def test_lead_unit_may_reveal_while_handling_and_not_after(client, city):
    case = dispatched(city)
    handler = city["u"]["handler_st"]
    client.force_login(handler)
    assert "显示完整号码" in client.get(f"/cases/{case.number}/").content.decode()
    assert reveal(client, case).status_code == 200
    assert reveals()[0].user == handler
    case = services.resolve(case, handler, case.version, "已督促店家安装油烟净化器并清洗")
    assert "显示完整号码" not in client.get(f"/cases/{case.number}/").content.decode()
    assert reveal(client, case).status_code == 403
    assert len(reveals()) == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=handler, detail__contains="phone").exists()


def test_community_staff_may_reveal_when_their_community_leads(client, city):
    case = dispatched(city, lead_region=city["tree"]["A"])
    client.force_login(city["u"]["community_staff"])
    assert reveal(client, case).status_code == 200


@pytest.mark.parametrize("who", ["community_staff", "grid_worker", "leader", "admin", "mediator"])
def test_roles_that_do_not_call_the_reporter_are_refused_and_audited(client, city, who):
    case = dispatched(city)
    client.force_login(city["u"][who])
    assert "显示完整号码" not in client.get(f"/cases/{case.number}/").content.decode()
    response = reveal(client, case)
    assert response.status_code == 403 and PHONE not in response.content.decode()
    assert reveals() == []
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=city["u"][who]).exists()


@pytest.mark.parametrize("who", ["dispatcher_x", "handler", "community_staff_b", "resident2"])
def test_outside_the_scope_a_reveal_is_404(client, city, who):
    city["u"]["resident2"] = create_staff("res2", None, Role.RESIDENT)
    case = dispatched(city)
    client.force_login(city["u"][who])
    assert reveal(client, case).status_code == 404
    assert reveals() == []


def test_anonymous_case_has_nothing_to_reveal(client, city):
    case = report(city, anonymous=True)
    client.force_login(city["u"]["dispatcher"])
    assert "显示完整号码" not in client.get(f"/cases/{case.number}/").content.decode()
    assert reveal(client, case).status_code == 400
    assert reveals() == []


def test_reveal_is_post_only_and_needs_the_csrf_token(city):
    case = report(city)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(city["u"]["dispatcher"])
    assert strict.get(f"/cases/{case.number}/phone/").status_code == 405
    assert reveal(strict, case).status_code == 403
    assert reveals() == []


# --- the API -----------------------------------------------------------------------------------


def api_reveal(client, case, **body):
    return client.post(f"/api/cases/{case.number}/reporter-phone", {"reason": "contact", **body},
                       content_type="application/json")


def test_api_reveals_for_the_dispatcher_and_audits(client, city):
    case = report(city)
    client.force_login(city["u"]["dispatcher"])
    assert client.get(f"/api/cases/{case.number}").json()["reporter_phone"] == MASKED
    response = api_reveal(client, case, reason="callback")
    assert response.status_code == 200
    assert response.json() == {"number": case.number, "reporter_name": case.reporter_name, "reporter_phone": PHONE,
                               "reason": "回访评价"}
    [event] = reveals()
    assert event.user == city["u"]["dispatcher"] and case.number in event.detail
    assert event.path == f"/api/cases/{case.number}/reporter-phone"


def test_api_reveal_with_a_token(client, city):
    from grassroots.accounts.services import create_api_token

    case = dispatched(city)
    token = create_api_token(city["u"]["handler_st"], "pytest")[1]
    response = client.post(f"/api/cases/{case.number}/reporter-phone", {"reason": "contact"},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json()["reporter_phone"] == PHONE
    assert reveals()[0].user == city["u"]["handler_st"]


def test_api_refusals(client, city):
    case = dispatched(city)
    client.force_login(city["u"]["leader"])
    response = api_reveal(client, case)
    assert response.status_code == 403 and "不能查看完整号码" in response.json()["detail"]
    client.force_login(city["u"]["dispatcher_x"])
    assert api_reveal(client, case).status_code == 404
    client.force_login(city["u"]["dispatcher"])
    assert api_reveal(client, case, reason="curious").status_code == 422
    response = api_reveal(client, case, reason="other")
    assert response.status_code == 400 and response.json()["field"] == "note"
    anonymous = report(city, anonymous=True)
    assert api_reveal(client, anonymous).status_code == 400
    assert reveals() == []
