"""Scope isolation through pages and exports: nothing outside a user's scope is listed,
counted, exported or reachable by URL — it answers 404 and the attempt is audited."""

import csv
import io

import pytest

from grassroots.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

# role → (a node inside the scope, nodes outside it)
SCOPES = {
    "grid_worker": ("A1", ["A2", "A", "B1", "street", "C1"]),
    "community_staff": ("A", ["B", "B1", "street", "dongcheng", "C"]),
    "mediator": ("A", ["B", "B2", "street", "C1"]),
    "dispatcher": ("street", ["dongcheng", "xicheng", "C", "C1"]),
    "handler": ("dongcheng", ["xicheng", "street_x", "C", "C1", "city"]),
    "leader": ("dongcheng", ["xicheng", "C1", "city", "province"]),
    "admin": ("dongcheng", ["xicheng", "C", "C1", "city"]),
}


def export_codes(response) -> set[str]:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return {row["code"] for row in csv.DictReader(io.StringIO(text))}


@pytest.mark.parametrize("role", list(SCOPES))
def test_outside_the_scope_is_404_by_page_map_and_export(client, tree, users, role):
    inside, outside = SCOPES[role]
    client.force_login(users[role])
    assert client.get(f"/territory/{tree[inside].code}/").status_code == 200
    for key in outside:
        code = tree[key].code
        for url in (f"/territory/{code}/", f"/territory/{code}/map.geojson", f"/territory/{code}/export.csv"):
            assert client.get(url).status_code == 404, url
    denials = AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED, user=users[role])
    assert denials.count() == 3 * len(outside)


@pytest.mark.parametrize("role", list(SCOPES))
def test_export_contains_exactly_the_scope(client, tree, users, role):
    inside, _ = SCOPES[role]
    client.force_login(users[role])
    response = client.get(f"/territory/{tree[inside].code}/export.csv")
    assert response.status_code == 200
    codes = export_codes(response)
    root = tree[inside]
    expected = {r.code for r in tree.values() if hasattr(r, "path") and r.path.startswith(root.path)}
    assert codes == expected


def test_lists_and_counts_leave_out_other_scopes(client, tree, users):
    client.force_login(users["dispatcher"])  # 东华门街道: communities A and B, four grids
    html = client.get(f"/territory/{tree['street'].code}/").content.decode()
    assert "多福巷社区" in html and "银闸社区" in html and "西长安街社区" not in html
    geo = client.get(f"/territory/{tree['street'].code}/map.geojson").json()
    assert {f["properties"]["code"] for f in geo["features"] if f["properties"]["role"] == "child"} == {
        tree["A"].code,
        tree["B"].code,
    }
    client.force_login(users["community_staff"])
    home = client.get("/home/").content.decode()
    assert "银闸" not in home  # B's grids are neither listed nor counted
    assert "<b>2</b><span>网格</span>" in home


def test_resident_has_no_territory_pages(client, tree, users):
    client.force_login(users["resident"])
    assert client.get(f"/territory/{tree['A'].code}/").status_code == 403
    assert client.get("/territory/").status_code == 403


def test_department_scope_sees_its_district_and_department_only(client, tree, users):
    client.force_login(users["handler"])
    html = client.get(f"/territory/{tree['dongcheng'].code}/").content.decode()
    assert "城市管理综合执法局" in html
    client.force_login(users["handler_x"])
    assert client.get(f"/territory/{tree['dongcheng'].code}/").status_code == 404


def test_account_list_is_scoped(client, users):
    client.force_login(users["admin"])  # admin of 东城区
    html = client.get("/accounts/users/").content.decode()
    assert "cs_a" in html and "hd_cg" in html
    assert "ld_xc" not in html and "hd_cg_x" not in html


def test_grid_page_shows_its_worker(client, tree, users):
    client.force_login(users["community_staff"])
    html = client.get(f"/territory/{tree['A1'].code}/").content.decode()
    assert "张网格" in html and "多福巷第一网格" in html
