"""Request bodies over the cap of their path are refused with 413 before they are read
(lib/middleware.py), in the caller's format. Over a raw socket against gunicorn:
tests/test_limits_deployed.py."""

import json

import pytest
import xmltodict
from django.test.client import FakePayload

from grassroots.lib.middleware import body_cap

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
HUGE = str(300 * MB)


class Untouchable(FakePayload):
    """A request body that fails the test if anything reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the body was read")

    readline = read


def announce(client, path, length=HUGE, content_type="application/octet-stream", **extra):
    """POST to PATH announcing LENGTH bytes of body, with a body nobody may read."""
    return client.generic("POST", path, b"", content_type=content_type, CONTENT_LENGTH=length,
                          **{"wsgi.input": Untouchable(b""), **extra})


def test_an_announced_300_mb_page_post_gets_a_chinese_page(client, users):
    client.force_login(users["resident"])
    response = announce(client, "/cases/report/", content_type="multipart/form-data; boundary=x")
    page = response.content.decode()
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "提交内容过大" in page and "此处最多 91 MB" in page and "请缩小或拆分文件后重试" in page
    assert "返回首页" in page  # a page of the site, answered before even the session was read
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_an_announced_300_mb_api_post_gets_the_api_error_format(client):
    response = announce(client, "/api/cases", content_type="application/json")
    assert response.status_code == 413 and response.json() == {"detail": "提交的内容过大：此处最多 10 MB。请缩小或拆分文件后重试"}


def test_an_announced_300_mb_open311_post_gets_the_open311_error_list(client):
    response = announce(client, "/open311/v2/requests.json", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert json.loads(response.content) == [{"code": 413, "description": "提交的内容过大：此处最多 10 MB。请缩小或拆分文件后重试"}]
    xml = announce(client, "/open311/v2/requests.xml", content_type="application/x-www-form-urlencoded")
    assert xml.status_code == 413 and xmltodict.parse(xml.content)["errors"]["error"]["code"] == "413"


def test_the_sheet_import_pages_take_more_and_the_caps_are_configurable(client, users, settings):
    assert body_cap("/ledger/import/") == body_cap("/territory/import/") == 40 * MB > body_cap("/api/cases") == 10 * MB
    settings.REQUEST_BODY_MAX_BYTES = 1024
    body = b"a=" + b"x" * 2000
    refused = client.post("/api/tokens", body, content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 413 and refused.json()["detail"] == "提交的内容过大：此处最多 1 KB。请缩小或拆分文件后重试"
    client.force_login(users["admin"])
    page = client.post("/territory/import/", body, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 400 and "请至少选择一个文件" in page.content.decode()  # the form answers: under the cap
    settings.REQUEST_BODY_LIMITS = [(r"^/territory/import/$", 1500)]
    assert client.post("/territory/import/", body, content_type="application/x-www-form-urlencoded").status_code == 413


def test_a_body_within_the_cap_is_read_as_usual(client):
    response = client.post("/open311/v2/requests.json", {"service_code": "02.01.02", "api_key": "gr_nope"})
    assert response.status_code == 403 and "api_key 无效" in json.loads(response.content)[0]["description"]
