"""In a real headless Chromium: sign in, open the territory map, see the grids drawn, click into one."""

import os

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SCREENSHOT_DIR")


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/home/")


def test_community_staff_opens_the_grid_map_and_a_grid(page, live_server, tree, users):
    sign_in(page, live_server, "cs_a")
    assert page.locator("h1.home-title").inner_text() == "社区工作台"
    page.click("nav.nav >> text=辖区地图")
    page.wait_for_selector("#map.ready")
    assert page.locator("#map").get_attribute("data-features") == "3"  # outline + two grids
    a1 = page.locator('path[data-code="110101001001001"]')
    a2 = page.locator('path[data-code="110101001001002"]')
    assert a1.count() == 1 and a2.count() == 1
    assert page.locator('path[data-code="110101001002001"]').count() == 0  # B's grid is not drawn
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "community-map.png"), full_page=True)
    a1.click()
    page.wait_for_url(f"{live_server.url}/territory/110101001001001/")
    assert "多福巷第一网格" in page.locator("h1").inner_text()
    assert "张网格" in page.locator("#grid-workers").inner_text()
    page.wait_for_selector("#map.ready")


def test_grid_worker_on_a_phone_finds_the_grid_through_the_menu(phone, live_server, tree, users):
    sign_in(phone, live_server, "gw_a1")
    assert phone.locator("h1.home-title").inner_text() == "网格员工作台"
    assert not phone.locator("nav.nav").is_visible()
    phone.click("label.nav-toggle-label")
    phone.click("nav.nav >> text=我的网格")
    phone.wait_for_selector("#map.ready")
    assert phone.locator('path[data-code="110101001001001"]').count() == 1
    if SHOTS:
        phone.screenshot(path=os.path.join(SHOTS, "phone-grid.png"), full_page=True)


def test_wrong_password_in_the_browser_shows_a_chinese_message(page, live_server, users):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "cs_a")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    assert "用户名或密码不正确" in page.locator("[role=alert]").inner_text()
