"""Persons, households and houses through the services: history on moves, splits and changes of
owner; scope isolation; refusals in Chinese that change nothing."""

import pytest

from grassroots.ledger import services
from grassroots.ledger.models import Household, LedgerEvent, Person
from tests.ledger_helpers import ELDER_ID, SON_ID, WIFE_ID, household_in, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(tree, users):
    cs = users["community_staff"]
    hh = household_in(tree["A1"])
    elder = person(cs, hh, ELDER_ID, "王大爷")
    wife = person(cs, hh, WIFE_ID, "李奶奶", relation="spouse")
    son = person(cs, hh, SON_ID, "王小明", relation="child", phone="13700001111")
    return {"hh": hh, "elder": elder, "wife": wife, "son": son, "cs": cs}


def test_registering_derives_sex_and_birth_and_sets_the_head(family):
    hh = Household.objects.get(pk=family["hh"].pk)
    assert hh.head == family["elder"]
    assert family["wife"].sex == "F" and family["son"].birth_date.year == 1970
    assert family["son"].house == hh.house and family["son"].grid.code == "110101001001001"


def test_registering_the_same_id_twice_is_refused(family):
    with pytest.raises(services.LedgerError, match="已登记"):
        person(family["cs"], family["hh"], ELDER_ID, "冒名")
    assert Person.objects.count() == 3


def test_a_bad_id_number_is_refused_and_nothing_is_written(family):
    with pytest.raises(services.LedgerError, match="校验码不正确") as exc:
        person(family["cs"], family["hh"], ELDER_ID[:17] + ("1" if ELDER_ID[17] != "1" else "2"), "某人")
    assert exc.value.field == "id_number" and Person.objects.count() == 3


def test_moving_house_keeps_the_history(family, tree):
    other = household_in(tree["A2"], number="HH-A2-0001", estate="银河小区")
    services.move_person(family["cs"], family["son"], other, relation="head", note="购房迁居")
    son = Person.objects.get(pk=family["son"].pk)
    assert son.household == other and son.grid.code == "110101001001002" and son.house == other.house
    move = LedgerEvent.objects.get(subject="person", subject_id=son.pk, action="move")
    assert move.note == "购房迁居"
    assert move.data["before"]["household"] == "HH-A1-0001" and move.data["after"]["household"] == "HH-A2-0001"
    assert Household.objects.get(pk=other.pk).head == son


def test_moving_out_ends_care_and_frees_the_household(family, users):
    services.assign_care(family["cs"], family["elder"], "empty_nest", "子女在外地")
    services.move_out(family["cs"], family["elder"], note="随子女迁往外省")
    elder = Person.objects.get(pk=family["elder"].pk)
    assert elder.moved_out_at is not None and elder.household is None
    assert Household.objects.get(pk=family["hh"].pk).head is None
    assert elder.care_tags.get().next_visit_due is None
    assert LedgerEvent.objects.filter(subject="person", subject_id=elder.pk, action="move_out").exists()
    with pytest.raises(services.LedgerError, match="已迁出"):
        services.move_out(family["cs"], elder)


def test_splitting_a_household_keeps_both_sides_of_the_story(family):
    new = services.split_household(family["cs"], family["hh"], [family["son"]], number="HH-A1-0002")
    son = Person.objects.get(pk=family["son"].pk)
    assert son.household == new and son.relation == "head" and new.head == son and new.split_from == family["hh"]
    assert LedgerEvent.objects.filter(subject="household", subject_id=family["hh"].pk, action="split").exists()
    assert family["hh"].members.count() == 2
    with pytest.raises(services.LedgerError, match="至少应保留一人"):
        services.split_household(family["cs"], family["hh"], [family["elder"], family["wife"]], number="X")
    with pytest.raises(services.LedgerError, match="已存在"):
        services.split_household(family["cs"], family["hh"], [family["wife"]], number="HH-A1-0002")


def test_a_house_changing_hands_keeps_the_former_owner(family):
    house = family["hh"].house
    services.change_owner(family["cs"], house, owner=family["elder"])
    services.change_owner(family["cs"], house, owner_name="赵买家", note="二手房交易")
    ev = LedgerEvent.objects.filter(subject="house", subject_id=house.pk, action="owner").order_by("id")
    assert [e.data["after"]["owner"] for e in ev] == ["王大爷", "赵买家"]
    assert ev[1].data["before"]["owner"] == "王大爷"


def test_nobody_writes_outside_their_scope(family, users, tree):
    other = household_in(tree["B1"], number="HH-B1-0001")
    with pytest.raises(services.LedgerError, match="不在您的辖区内"):
        services.move_person(users["community_staff_b"], family["son"], other)
    with pytest.raises(services.LedgerError, match="不在您的辖区内"):
        services.assign_care(users["grid_worker_b"], family["elder"], "living_alone", "独居")
    with pytest.raises(services.NotAllowed):
        services.move_out(users["leader"], family["son"])  # a leader reads, never edits
    assert Person.objects.get(pk=family["son"].pk).household == family["hh"]


def test_updating_contact_is_recorded(family):
    services.update_contact(family["cs"], family["son"], phone="13911110000", status="floating")
    son = Person.objects.get(pk=family["son"].pk)
    assert son.phone == "139****0000" and son.status == "floating"
    ev = LedgerEvent.objects.get(subject="person", subject_id=son.pk, action="update")
    assert ev.data["before"]["phone"] == "137****1111"
    with pytest.raises(services.LedgerError, match="11 位手机号"):
        services.update_contact(family["cs"], son, phone="123")
