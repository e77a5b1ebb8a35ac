"""In a real headless Chromium, with the real classifier: a resident reports from a phone by
tapping a grid on the map; a street dispatcher finds the case in the worklist and dispatches it."""

import os
import re

import pytest
from playwright.sync_api import expect

from grassroots.accounts.roles import Role
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case, State
from grassroots.cases.services import Report
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff
from tests.test_browser_map import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SCREENSHOT_DIR")
COMPLAINT = "楼下烧烤店油烟很大，晚上熏得开不了窗"


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    return {"tree": tree, "users": users, "shengtai": shengtai}


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_resident_reports_from_a_phone_by_tapping_a_grid(phone, live_server, city):
    sign_in(phone, live_server, "res")
    phone.click("label.nav-toggle-label")
    phone.click("nav.nav >> text=我要反映")
    phone.wait_for_url(f"{live_server.url}/cases/report/")
    phone.fill("#id_description", COMPLAINT)
    phone.wait_for_selector("#pick-map.ready")
    grid = phone.locator('#pick-map path[data-code="110101001001001"]')
    grid.scroll_into_view_if_needed()
    grid.tap()
    status = phone.locator("#pick-status")
    assert "多福巷第一网格" in status.inner_text()
    assert phone.input_value("input[name=lon]") and phone.input_value("input[name=lat]")
    shot(phone, "case-report-phone.png")
    phone.click("#report-form button[type=submit]")
    phone.wait_for_url("**/submitted/", timeout=60_000)  # the first classification may train the model
    case = Case.objects.get()
    assert phone.locator("#case-number").inner_text() == case.number
    assert phone.locator("#tracking-code").inner_text() == case.tracking_code
    suggested = phone.locator("#suggestions li").all_inner_texts()
    assert len(suggested) == 3
    assert any("餐饮油烟" in s for s in suggested), suggested
    assert case.grid == city["tree"]["A1"] and case.state == State.SUBMITTED
    shot(phone, "case-submitted-phone.png")


def test_street_dispatcher_dispatches_from_the_worklist(page, live_server, city):
    u = city["users"]
    case = services.intake(u["resident"], Report(channel="app", description=COMPLAINT, lon=116.402, lat=39.905,
                                                  matter_code="03.01.01", reporter_phone="13812345678")).case
    sign_in(page, live_server, "dp_street")
    page.click("nav.nav >> text=事件待办")
    page.wait_for_selector("#case-table")
    row = page.locator(f'tr[data-number="{case.number}"]')
    assert "138****5678" in row.inner_text()  # masked for everyone; the case page reveals it (audited)
    row.locator("a").first.click()
    page.wait_for_url(f"{live_server.url}/cases/{case.number}/")
    page.wait_for_selector("#case-map.ready")
    page.click("#act-dispatch summary")
    lead = page.locator("#act-dispatch select[name=lead]")
    assert lead.input_value() == f"d:{city['shengtai'].pk}"  # the route's department, prefilled
    assert "生态环境局" in page.locator("#route").inner_text()
    shot(page, "case-dispatch.png")
    page.click("#act-dispatch button[type=submit]")
    page.wait_for_selector('#timeline li[data-action="dispatch"]')
    assert "派遣" in page.locator('#timeline li[data-action="dispatch"]').inner_text()
    assert page.locator("#case-state").inner_text() == "已派遣"
    assert page.locator("#case-lead").inner_text() == "生态环境局"
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == city["shengtai"]
    shot(page, "case-dispatched.png")


def test_dispatcher_sees_live_suggestions_while_typing(page, live_server, city):
    sign_in(page, live_server, "dp_street")
    page.goto(f"{live_server.url}/cases/new/")
    page.select_option("#id_region_code", city["tree"]["A1"].code)
    page.fill("#id_description", COMPLAINT)
    page.wait_for_selector("#suggestions [data-pick-matter]", timeout=60_000)
    chips = page.locator("#suggestions [data-pick-matter]")
    assert chips.count() == 3
    # A locator wait, not wait_for_function: polling a string predicate is eval, which the CSP refuses.
    expect(page.locator("#id_lead")).to_have_value(re.compile(r"^d:"))
    assert "由生态环境局主办" in page.locator("#route").inner_text()
    shot(page, "case-entry.png")
