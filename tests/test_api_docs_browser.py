"""/api/docs in a real headless Chromium with no Internet: only after signing in (unless
API_DOCS_PUBLIC), Swagger UI must render from our own assets, and "Try it out" must work
through the signed-in session (CSRF included)."""

import os

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SCREENSHOT_DIR")


def test_docs_render_offline_and_call_the_api_through_the_session(page, live_server, users):
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)

    # Not signed in: the docs send the browser to the sign-in page, and come back after it.
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_url(f"{live_server.url}/accounts/login/**")
    page.fill("#id_username", "cs_a")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    tags = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
    assert any("辖区" in t for t in tags) and any("账户" in t for t in tags)
    paths = [p.replace("\u200b", "") for p in page.locator(".opblock-summary-path").all_inner_texts()]
    assert "/api/grids/lookup" in paths and "/api/regions/{code}" in paths
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "api-docs.png"), full_page=True)

    # The page's own fetch of a write endpoint carries the CSRF token from the page.
    status = page.evaluate(
        """async () => {
            const token = document.body.dataset.csrfToken;
            const r = await fetch('/api/tokens', {method: 'POST', headers: {'Content-Type': 'application/json',
                'X-CSRFToken': token}, body: JSON.stringify({name: '文档页测试'})});
            return r.status;
        }"""
    )
    assert status == 201
    assert external == []
