"""In a real headless Chromium: a name that is HTML stays text on every map (territory, the case
place picker and case page, the ledger's grid map), and no page of any role trips the
Content-Security-Policy — while the maps, the htmx actions and the forms still work."""

import csv
import io

import pytest

from grassroots.cases import services as case_services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.services import Report
from grassroots.front.context import nav_items
from grassroots.territory.services import import_territory
from tests.ledger_helpers import ELDER_ID, house_in, household_in, person
from tests.test_browser_map import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIL_COMMUNITY = '<img src=x onerror="window.__pwned=1">社区'
EVIL_GRID = '<img src=y onerror="window.__pwned=2">网格'
EVIL_ESTATE = '"><svg onload="window.__pwned=3">'
A, A1 = "110101001001", "110101001001001"

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def watch(page) -> list[str]:
    """Record CSP violations (the DOM event of every document, and the console's reports)."""
    console = []
    page.add_init_script(WATCH)
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    return console


def violations(page, console) -> list[str]:
    found = list(page.evaluate("window.__csp || []")) + console
    console.clear()
    return found


def pwned(page):
    return page.evaluate("typeof window.__pwned")


@pytest.fixture
def evil(tree, users):
    """An imported tree renames 多福巷社区 and its first grid to HTML; a building there is HTML too;
    a case sits in that grid."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["code", "name", "level", "parent_code"])
    w.writerow([A, EVIL_COMMUNITY, "community", "110101001000"])
    w.writerow([A1, EVIL_GRID, "grid", A])
    report = import_territory(out.getvalue())
    assert report.ok, report.errors
    tree["A"].refresh_from_db()
    tree["A1"].refresh_from_db()
    assert tree["A1"].name == EVIL_GRID
    house = house_in(tree["A1"], estate=EVIL_ESTATE)
    load_default_catalog()
    case = case_services.intake(users["dispatcher"], Report(
        channel="hotline", description="楼道里堆满杂物，影响通行", lon=116.402, lat=39.905,
        matter_code="02.01.02", reporter_name="<b>王</b>", reporter_phone="13812345678")).case
    return {"case": case, "building": house.building}


def tooltip_after_hover(page, locator, off_centre=False) -> str:
    """Hover the shape (its centre; OFF_CENTRE: a quarter in, clear of a point drawn at its centre)."""
    if off_centre:
        box = locator.bounding_box()
        locator.hover(position={"x": box["width"] * 0.25, "y": box["height"] * 0.5})
    else:
        locator.hover()
    tip = page.locator(".leaflet-tooltip").last
    tip.wait_for(state="visible")
    assert tip.locator("img, svg, script").count() == 0
    return tip.inner_text()


def test_html_names_stay_text_on_every_map(page, live_server, evil):
    console = watch(page)

    sign_in(page, live_server, "ld_dc")  # the district leader: the street's map shows the communities
    page.goto(f"{live_server.url}/territory/110101001000/")
    page.wait_for_selector("#map.ready")
    assert tooltip_after_hover(page, page.locator(f'#map path[data-code="{A}"]')) == EVIL_COMMUNITY
    assert page.locator(f'#map path[data-code="{A}"]').get_attribute("aria-label") == EVIL_COMMUNITY
    page.locator(f'#map path[data-code="{A}"]').click()
    page.wait_for_url(f"{live_server.url}/territory/{A}/")
    assert EVIL_COMMUNITY in page.locator("h1").inner_text()
    page.wait_for_selector("#map.ready")
    assert tooltip_after_hover(page, page.locator(f'#map path[data-code="{A1}"]')) == EVIL_GRID
    assert pwned(page) == "undefined" and violations(page, console) == []

    # the dispatcher's entry form and the case page
    page.context.clear_cookies()
    sign_in(page, live_server, "dp_street")
    page.goto(f"{live_server.url}/cases/new/")
    page.wait_for_selector(".pick-map.ready")
    grid = page.locator(f'.pick-map path[data-code="{A1}"]')
    assert tooltip_after_hover(page, grid) == EVIL_GRID
    grid.click()
    assert EVIL_GRID in page.locator("#pick-status, [id$=status]").first.inner_text()
    assert pwned(page) == "undefined" and violations(page, console) == []

    page.goto(f"{live_server.url}/cases/{evil['case'].number}/")
    page.wait_for_selector("#case-map.ready")
    assert EVIL_GRID in page.locator(".facts").inner_text() and "<b>王</b>" in page.locator(".facts").inner_text()
    outline = page.locator("#case-map path.leaflet-interactive").first
    assert tooltip_after_hover(page, outline, off_centre=True) == EVIL_GRID
    assert pwned(page) == "undefined" and violations(page, console) == []

    # a resident reporting by tapping the grid
    page.context.clear_cookies()
    sign_in(page, live_server, "res")
    page.goto(f"{live_server.url}/cases/report/")
    page.wait_for_selector("#pick-map.ready")
    grid = page.locator(f'#pick-map path[data-code="{A1}"]')
    assert tooltip_after_hover(page, grid) == EVIL_GRID
    grid.click()
    assert EVIL_GRID in page.locator("#pick-status").inner_text()
    assert pwned(page) == "undefined" and violations(page, console) == []

    # the grid worker's ledger map: buildings as points
    page.context.clear_cookies()
    sign_in(page, live_server, "gw_a1")
    page.goto(f"{live_server.url}/ledger/region/{A1}/")
    page.wait_for_selector("#ledger-map.ready")
    assert page.locator("#ledger-map").get_attribute("data-building-count") == "1"
    marker = page.locator("#ledger-map path.leaflet-interactive").last
    marker.hover()
    tip = page.locator(".leaflet-tooltip").last
    tip.wait_for(state="visible")
    assert tip.locator("img, svg, script").count() == 0
    assert tip.inner_text() == evil["building"].name
    page.goto(f"{live_server.url}/territory/{A1}/")
    page.wait_for_selector("#map.ready")
    assert EVIL_GRID in page.locator("h1").inner_text()
    assert pwned(page) == "undefined" and violations(page, console) == []


ROLES = ["gw_a1", "cs_a", "dp_street", "hd_cg", "md_a", "ld_dc", "admin_dc", "res"]


def test_no_page_of_any_role_trips_the_policy_and_pages_still_work(page, live_server, tree, users):
    load_default_catalog()
    cs = users["community_staff"]
    person(cs, household_in(tree["A1"]), ELDER_ID, "王大爷", phone="13900001111")
    case = case_services.intake(users["dispatcher"], Report(
        channel="hotline", description="楼道里堆满杂物，影响通行", lon=116.402, lat=39.905,
        matter_code="02.01.02", reporter_name="王先生", reporter_phone="13812345678")).case
    console = watch(page)
    by_name = {u.username: u for u in users.values()}
    seen = 0
    for username in ROLES:
        page.context.clear_cookies()
        sign_in(page, live_server, username)
        assert violations(page, console) == [], username
        for item in nav_items(by_name[username]):
            page.goto(live_server.url + item["url"], wait_until="networkidle")
            for selector in ("#map", "#ledger-map", ".pick-map", "#case-map"):
                if page.locator(selector).count():
                    page.wait_for_selector(f"{selector}.ready")
            assert violations(page, console) == [], (username, item["url"])
            seen += 1
    assert seen > 40

    # htmx: the ledger search answers a fragment into the page
    page.context.clear_cookies()
    sign_in(page, live_server, "cs_a")
    page.goto(f"{live_server.url}/ledger/")
    page.fill("#ledger-q", "王大爷")
    page.press("#ledger-q", "Enter")
    page.wait_for_selector("#search-results >> text=王大爷")
    assert page.url == f"{live_server.url}/ledger/"  # swapped in, not a page load
    assert violations(page, console) == []

    # htmx: the entry form's classifier suggestions; the case page's audited reveal (hx-post)
    page.context.clear_cookies()
    sign_in(page, live_server, "dp_street")
    page.goto(f"{live_server.url}/cases/new/")
    page.wait_for_selector(".pick-map.ready")
    page.fill("#id_description", "小区门口有人占道摆摊卖菜")
    page.wait_for_selector("#suggest >> text=智能分类建议", timeout=60_000)
    page.goto(f"{live_server.url}/cases/{case.number}/")
    page.wait_for_selector("#case-map.ready")
    reveal = page.locator("details.reveal").first
    reveal.locator("summary").click()
    reveal.locator("button[type=submit]").click()
    page.wait_for_selector("text=13812345678")
    assert violations(page, console) == []

    # the API documentation (Swagger UI) under the same policy
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    assert violations(page, console) == []

    # a form posts and the session ends (form-action 'self')
    page.goto(f"{live_server.url}/home/")
    page.click("form[action$='/logout/'] button")
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert violations(page, console) == []
