"""事件转矛盾纠纷 through the pages: a neighbours' quarrel reported as a case becomes a dispute
for mediation, with the link shown on both sides; only those who register disputes may do it,
and only for cases they can see."""

import pytest
from django.urls import reverse

from grassroots.cases import services as case_services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.services import Report
from grassroots.disputes.models import Dispute, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarrel(tree, users):
    load_default_catalog()
    report = Report(channel="grid", description="楼上邻居装修噪音扰民，两家在楼道争吵", lon=116.402, lat=39.905,
                    address="多福巷3号楼")
    return case_services.intake(users["grid_worker"], report).case


def test_community_staff_turn_a_case_into_a_dispute_and_both_pages_link(client, users, tree, quarrel):
    client.force_login(users["community_staff"])
    page = client.get(reverse("cases:detail", args=[quarrel.number])).content.decode()
    assert "转为矛盾纠纷" in page
    form = client.get(reverse("disputes:new") + f"?case={quarrel.number}").content.decode()
    assert "事件转为矛盾纠纷" in form and quarrel.number in form and "楼道争吵" in form
    response = client.post(reverse("disputes:new"), {
        "case": quarrel.number, "kind": "neighbour", "title": "装修噪音邻里纠纷",
        "party1_name": "陈楼上", "party1_kind": "person", "party2_name": "刘楼下", "party2_kind": "person",
        "people_involved": 2, "risk": "normal",
    })
    dispute = Dispute.objects.get(case=quarrel)
    assert response.status_code == 302 and response["Location"] == reverse("disputes:detail", args=[dispute.number])
    assert dispute.source == Source.CASE and dispute.grid == tree["A1"] and "楼道争吵" in dispute.description
    page = client.get(reverse("cases:detail", args=[quarrel.number])).content.decode()
    assert "已转为矛盾纠纷" in page and dispute.number in page and "转为矛盾纠纷（调解）" not in page


def test_a_bad_conversion_says_why_and_writes_nothing(client, users, quarrel):
    client.force_login(users["community_staff"])
    response = client.post(reverse("disputes:new"), {"case": quarrel.number, "kind": "neighbour", "party1_name": "陈楼上"})
    assert response.status_code == 400 and "未能登记" in response.content.decode()
    assert not Dispute.objects.exists()


def test_only_those_who_register_disputes_and_see_the_case_may_convert_it(client, users, quarrel):
    client.force_login(users["handler"])
    assert "转为矛盾纠纷" not in client.get(reverse("cases:detail", args=[quarrel.number])).content.decode()
    assert client.get(reverse("disputes:new") + f"?case={quarrel.number}").status_code == 403
    client.force_login(users["community_staff_b"])  # may register disputes, but the case is in community A
    assert client.get(reverse("disputes:new") + f"?case={quarrel.number}").status_code == 404
    assert client.post(reverse("disputes:new"), {"case": quarrel.number, "kind": "neighbour"}).status_code == 404
    assert not Dispute.objects.exists()
