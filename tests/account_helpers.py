"""Administrators at several levels, and sheets of accounts, for the account-management tests."""

import io

from openpyxl import Workbook

from tests.conftest import PASSWORD

HEADER = ["用户名*", "姓名", "手机号", "角色*", "辖区代码", "部门", "初始密码"]


def sheet(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "账户"
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def sign_in(client, username, password=PASSWORD):
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client
