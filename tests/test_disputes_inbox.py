"""A dispute's or petition's notification opens that dispute or petition, not just the inbox."""

import pytest
from django.urls import reverse

from grassroots.cases.models import Notification
from grassroots.disputes import services

pytestmark = pytest.mark.django_db

NEIGHBOURS = [{"name": "陈楼上", "phone": "13800001111"}, {"name": "刘楼下", "phone": "13900002222"}]


def test_the_mediators_notice_of_a_new_dispute_opens_the_dispute(client, tree, users):
    dispute = services.register_from_visit(
        users["grid_worker"], grid=tree["A1"], description="楼上卫生间漏水，楼下天花板发霉，双方多次争吵",
        parties=NEIGHBOURS, title="楼上漏水邻里纠纷")
    note = Notification.objects.get(recipient=users["mediator"], kind="dispute_registered")
    assert note.case_id is None and note.link == reverse("disputes:detail", args=[dispute.number])
    client.force_login(users["mediator"])
    response = client.get(reverse("cases:inbox_open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == note.link
    assert client.get(response["Location"]).status_code == 200
    Notification.objects.filter(pk=note.pk).update(link="//evil.example/")
    response = client.get(reverse("cases:inbox_open", args=[note.pk]))
    assert response["Location"] == reverse("cases:inbox")  # never off the platform
