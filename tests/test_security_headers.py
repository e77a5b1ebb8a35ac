"""The headers on every answer: a strict Content-Security-Policy, Referrer-Policy,
Permissions-Policy; behind an HTTPS proxy, HSTS and cookies that only travel over HTTPS.

Settings are read from the environment once, at start; the HTTPS settings are therefore read in a
fresh process with the environment a deployment would have, and those values are then served by
the real middleware here."""

import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings

from grassroots.front.context import nav_items
from grassroots.lib.headers import tile_source
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def assert_strict(response):
    csp = policy(response)
    for directive, sources in EXPECTED.items():
        assert csp.get(directive) == sources, (response.request["PATH_INFO"], directive, csp.get(directive))
    text = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in text and "unsafe-eval" not in text
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Permissions-Policy"].startswith("geolocation=(self), camera=(self)")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_page_of_every_role_carries_the_policy(client, users):
    for url in ("/accounts/login/", "/track/", "/no-such-page/"):
        assert_strict(client.get(url))
    for key in ("grid_worker", "community_staff", "dispatcher", "handler", "mediator", "leader", "admin", "resident"):
        user = users[key]
        client.force_login(user)
        urls = [item["url"] for item in nav_items(user)]
        assert len(urls) >= 3, key
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (key, url, response.status_code)
            assert_strict(response)
        # a refusal and an htmx fragment carry it too
        assert_strict(client.get("/accounts/users/"))
    client.force_login(users["community_staff"])
    assert_strict(client.get("/ledger/", {"q": "王"}, HTTP_HX_REQUEST="true"))
    assert_strict(client.get("/api/docs"))
    assert_strict(client.get("/api/regions/110101001001"))


def test_a_tile_server_host_is_allowed_for_images_only():
    assert tile_source("") is None
    assert tile_source("/tiles/{z}/{x}/{y}.png") is None
    assert tile_source("https://{s}.tile.example.gov.cn/{z}/{x}/{y}.png") == "https://*.tile.example.gov.cn"
    assert tile_source("http://10.1.2.3:8080/wmts/{z}/{x}/{y}.png") == "http://10.1.2.3:8080"
    with pytest.raises(ValueError):
        tile_source("https://tiles.{s}.example.gov.cn/{z}/{x}/{y}.png")
    fresh = settings_in_fresh_process({"MAP_TILE_URL": "https://{s}.tile.example.gov.cn/{z}/{x}/{y}.png"})
    directives = fresh["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["img-src"] == ["'self'", "data:", "https://*.tile.example.gov.cn"]
    assert directives["script-src"] == ["'self'"] and directives["default-src"] == ["'self'"]


NAMES = ["SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "CONTENT_SECURITY_POLICY"]


def settings_in_fresh_process(env: dict[str, str]) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {NAMES!r}}}))"
    )
    ours = {"DEBUG", "BEHIND_HTTPS_PROXY", "SECURE_COOKIES", "HSTS_SECONDS", "HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_SSL_REDIRECT", "MAP_TILE_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in ours and k.removesuffix("_FILE") not in ours}
    out = subprocess.run([sys.executable, "-c", script], env={**clean, "DJANGO_SETTINGS_MODULE": "grassroots.settings", **env},
                         capture_output=True, text=True, check=True, timeout=120)
    values = json.loads(out.stdout.strip().splitlines()[-1])
    if values["SECURE_PROXY_SSL_HEADER"]:
        values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def sign_in(client):
    response = client.post("/accounts/login/", {"username": "cs_a", "password": PASSWORD},
                           HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 302
    return response


def test_behind_an_https_proxy_hsts_and_secure_cookies(client, users):
    behind = settings_in_fresh_process({"BEHIND_HTTPS_PROXY": "1"})
    assert behind["SESSION_COOKIE_SECURE"] and behind["CSRF_COOKIE_SECURE"]
    assert behind["SECURE_HSTS_SECONDS"] >= 31536000 and behind["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    with override_settings(**{k: v for k, v in behind.items() if k != "CONTENT_SECURITY_POLICY"}):
        page = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert page.cookies["csrftoken"]["secure"] is True
        response = sign_in(client)
        assert response.cookies["sessionid"]["secure"] is True
        assert response.cookies["sessionid"]["httponly"] is True
        assert_strict(client.get("/home/", HTTP_X_FORWARDED_PROTO="https"))
        # A request the proxy did not mark https (its own health check on plain HTTP): no HSTS.
        assert "Strict-Transport-Security" not in client.get("/accounts/login/").headers


def test_plain_http_development_has_no_hsts_and_plain_cookies(client, users):
    plain = settings_in_fresh_process({})
    assert plain["SECURE_PROXY_SSL_HEADER"] is None and plain["SECURE_SSL_REDIRECT"] is False
    assert plain["SESSION_COOKIE_SECURE"] is False  # development (DEBUG on by default)
    with override_settings(**{k: v for k, v in plain.items() if k != "CONTENT_SECURITY_POLICY"}):
        page = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")  # not believed without the setting
        assert "Strict-Transport-Security" not in page.headers
        assert page.cookies["csrftoken"]["secure"] == ""
        response = sign_in(client)
        assert response.cookies["sessionid"]["secure"] == ""
        assert_strict(page)
    production = settings_in_fresh_process({"DEBUG": "0", "SECRET_KEY": "x" * 50, "PRIVACY_KEY": "y" * 50})
    assert production["SESSION_COOKIE_SECURE"] is True  # production: HTTPS-only cookies anyway


def test_refusals_before_any_view_carry_the_policy_too(client, users, settings):
    settings.REQUEST_BODY_MAX_BYTES = 1024
    settings.REQUEST_BODY_LIMITS = []
    client.force_login(users["resident"])
    refused = client.post("/cases/report/", data=b"x" * 4096, content_type="application/octet-stream")
    assert refused.status_code == 413
    assert_strict(refused)
    api = client.post("/api/tokens", data=b"x" * 4096, content_type="application/json")
    assert api.status_code == 413
    assert_strict(api)
