"""Every role lands on its own home page and its navigation shows only its own work."""

import pytest

pytestmark = pytest.mark.django_db

HOMES = {
    "grid_worker": ("网格员工作台", "多福巷第一网格"),
    "community_staff": ("社区工作台", "多福巷社区"),
    "dispatcher": ("指挥调度工作台", "东华门街道"),
    "handler": ("部门承办工作台", "城市管理综合执法局"),
    "mediator": ("人民调解工作台", "多福巷社区"),
    "leader": ("领导驾驶舱", "东城区"),
    "admin": ("系统管理", "东城区"),
    "resident": ("居民服务", "吴居民"),
}


@pytest.mark.parametrize("role", list(HOMES))
def test_role_lands_on_its_home(client, users, role):
    client.force_login(users[role])
    response = client.get("/home/")
    html = response.content.decode()
    title, scope_name = HOMES[role]
    assert response.status_code == 200
    assert f'data-role="{role}"' in html and title in html
    assert scope_name in html


def test_root_redirects_to_home_or_login(client, users):
    assert client.get("/")["Location"] == "/accounts/login/"
    client.force_login(users["leader"])
    assert client.get("/")["Location"] == "/home/"


@pytest.mark.parametrize(
    "role, shown, hidden",
    [
        ("grid_worker", ["我的网格"], ["导入辖区", "审计日志", "账户", "网格检查"]),
        ("resident", ["首页"], ["辖区地图", "我的网格", "导入辖区", "审计日志"]),
        ("leader", ["辖区地图", "网格检查"], ["导入辖区", "审计日志"]),
        ("admin", ["辖区地图", "导入辖区", "账户", "审计日志"], []),
    ],
)
def test_navigation_shows_only_the_roles_work(client, users, role, shown, hidden):
    client.force_login(users[role])
    html = client.get("/home/").content.decode()
    nav = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    for label in shown:
        assert label in nav
    for label in hidden:
        assert label not in nav


def test_admin_pages_refuse_other_roles_with_403(client, users):
    client.force_login(users["leader"])
    for url in ("/territory/import/", "/accounts/users/", "/accounts/audit/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "无权" in response.content.decode()
