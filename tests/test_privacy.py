"""lib.privacy: sealing, keyed digests, masks that print themselves, the sealed field's rules, and key
rotation (`grassroots rotate-key`) while the platform keeps reading and finding."""

import json
import pickle

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from grassroots.accounts.models import AuditEvent, User
from grassroots.cases.models import Case
from grassroots.ledger import queries
from grassroots.ledger.models import Person
from grassroots.lib import privacy
from tests.ledger_helpers import ELDER_ID, WIFE_ID, household_in, person

PHONE = "13912345678"


def test_a_value_is_sealed_with_a_fresh_nonce_and_names_its_key():
    a, b = privacy.seal(ELDER_ID), privacy.seal(ELDER_ID)
    assert a != b and ELDER_ID not in a
    assert a.startswith(f"v2:{privacy.current_key().kid}:")
    assert privacy.unseal(a) == ELDER_ID == privacy.unseal(b)
    assert privacy.seal("") == "" and privacy.unseal("") == ""


def test_a_tampered_value_or_another_key_cannot_be_read_nor_matched(settings):
    token = privacy.seal(ELDER_ID)
    digest = privacy.digest("id", ELDER_ID)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(privacy.DecryptionFailed):
        privacy.unseal(flipped)
    settings.PRIVACY_KEY = "another-key"
    with pytest.raises(privacy.DecryptionFailed, match="当前未配置该密钥"):
        privacy.unseal(token)
    assert privacy.digest("id", ELDER_ID) != digest


def test_digests_are_keyed_per_part_and_phones_match_on_their_digits():
    assert privacy.digest("phone", "139-1234-5678") == privacy.digest("phone", PHONE) == \
        privacy.digest("phone", "+86 139 1234 5678")
    assert privacy.digest("id", ELDER_ID.lower()) == privacy.digest("id", ELDER_ID)
    assert privacy.digest("id6", ELDER_ID) != privacy.digest("id", ELDER_ID[-6:])  # the kind is part of the message
    assert privacy.digest("phone4", PHONE) == privacy.digest("phone4", "5678")
    assert len(privacy.digest("id", ELDER_ID)) == 32 and privacy.digest("phone", "") == ""


def test_masks_keep_the_county_and_the_tail_and_short_values_hide_all():
    assert privacy.mask_id(ELDER_ID) == ELDER_ID[:6] + "********" + ELDER_ID[-4:]
    assert privacy.mask_phone(PHONE) == "139****5678"
    assert privacy.mask_phone("+8613912345678") == "+86139****5678"
    assert privacy.mask_phone("6512345") == "65***45" and privacy.mask_phone("12345") == "*****"


def test_a_sealed_value_prints_as_its_mask_everywhere_and_pickles_as_its_token():
    value = privacy.Sealed("phone", plain=PHONE)
    assert str(value) == "139****5678" and f"{value}" == "139****5678" and repr(value).count(PHONE) == 0
    assert json.dumps({"phone": value}) == '{"phone": "139****5678"}' and value.upper() == "139****5678"
    assert privacy.plain_of(value) == PHONE and value.matches("139-1234-5678") and not value.matches("13900000000")
    data = pickle.dumps(value)
    assert PHONE.encode() not in data
    back = pickle.loads(data)
    assert str(back) == "139****5678" and privacy.plain_of(back) == PHONE


@pytest.mark.django_db
def test_the_sealed_field_stores_ciphertext_and_refuses_to_compare_it(tree, users):
    p = person(users["community_staff"], household_in(tree["A1"]), ELDER_ID, "王大爷", phone=PHONE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone, id_hash, phone_hash FROM ledger_person WHERE id = %s", [p.pk])
        id_token, phone_token, id_hash, phone_hash = cursor.fetchone()
    assert privacy.unseal(id_token) == ELDER_ID and privacy.unseal(phone_token) == PHONE
    assert (id_hash, phone_hash) == (privacy.digest("id", ELDER_ID), privacy.digest("phone", PHONE))
    with pytest.raises(TypeError, match="摘要字段"):
        list(Person.objects.filter(phone=PHONE))
    with pytest.raises(Exception, match="Unsupported lookup"):
        list(Person.objects.filter(phone__contains="5678"))
    assert Person.objects.filter(phone="").count() == 0 and Person.objects.filter(pk=p.pk, phone=phone_token).count() == 1
    # assigning the clear value makes it a Sealed at once: an unsaved record never prints it
    p.phone = "13600001111"
    assert str(p.phone) == "136****1111"
    p.save()
    p.refresh_from_db()
    assert p.phone_hash == privacy.digest("phone", "13600001111") and p.phone_tail4 == privacy.digest("phone4", "1111")


@pytest.mark.django_db
def test_a_read_in_full_is_audited_before_it_is_decrypted(tree, users):
    p = person(users["community_staff"], household_in(tree["A1"]), ELDER_ID, "王大爷", phone=PHONE)
    with pytest.raises(privacy.RevealRefused):
        privacy.reveal(users["community_staff"], p, ["phone"], reason=" ")
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA).exists()
    full = privacy.reveal(users["community_staff"], p, ["id_number", "phone"], reason="核对身份", channel="export")
    assert full == {"id_number": ELDER_ID, "phone": PHONE}
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.PERSONAL_DATA)
    assert (event.subject, event.subject_id, event.fields, event.channel, event.reason) == (
        "ledger.person", p.pk, "id_number,phone", "export", "核对身份")
    assert "公民身份号码、联系电话" in event.detail and ELDER_ID not in event.detail and PHONE not in event.detail


# --- rotation -----------------------------------------------------------------------------------


@pytest.fixture
def sealed_city(tree, users):
    cs = users["community_staff"]
    hh = household_in(tree["A1"])
    elder = person(cs, hh, ELDER_ID, "王大爷", phone=PHONE)
    wife = person(cs, hh, WIFE_ID, "李奶奶", relation="spouse")
    resident = User.objects.create(username="res_phone", role="resident", phone="13700001234")
    case = Case.objects.create(channel="hotline", title="噪声", description="夜间施工", region=tree["A1"],
                               region_path=tree["A1"].path, number="SJ1", tracking_code="T1",
                               reporter_phone="13800005678")
    return {"elder": elder, "wife": wife, "resident": resident, "case": case}


@pytest.mark.django_db
def test_rotate_key_reseals_every_row_while_both_keys_read_and_find(settings, sealed_city, users, capsys):
    old = settings.PRIVACY_KEY
    settings.PRIVACY_KEY, settings.PRIVACY_OLD_KEYS = "the-new-key-of-2027", [old]
    new_kid = privacy.current_key().kid
    dispatcher = users["dispatcher"]
    # before the rotation: rows under the old key are still read and found
    elder = Person.objects.get(pk=sealed_city["elder"].pk)
    assert privacy.plain_of(elder.id_number) == ELDER_ID
    assert [p.pk for p in queries.search(dispatcher, ELDER_ID).persons] == [elder.pk]
    assert [p.pk for p in queries.search(dispatcher, PHONE[-4:]).persons] == [elder.pk]
    with pytest.raises(CommandError, match="不在当前密钥下"):
        call_command("rotate-key", "--check")
    # a record saved meanwhile by the platform is sealed under the new key by that save, every field
    wife = Person.objects.get(pk=sealed_city["wife"].pk)
    wife.phone = "13611112222"
    wife.save()
    call_command("rotate-key", "--batch", "1")
    out = capsys.readouterr().out
    assert "人口（ledger.Person）：重新加密 1 行" in out and "用户（accounts.User）：重新加密 1 行" in out
    call_command("rotate-key", "--check")
    for model, field in ((Person, "id_number"), (Person, "phone"), (User, "phone"), (Case, "reporter_phone")):
        for token in model.objects.exclude(**{field: ""}).values_list(field, flat=True):
            assert token.token.startswith(f"v2:{new_kid}:")
    # the old key goes: everything is still read and found, digests included
    settings.PRIVACY_OLD_KEYS = []
    assert [p.pk for p in queries.search(dispatcher, ELDER_ID).persons] == [elder.pk]
    assert [p.pk for p in queries.search(dispatcher, "13611112222").persons] == [wife.pk]
    assert privacy.plain_of(Case.objects.get().reporter_phone) == "13800005678"
    assert privacy.plain_of(User.objects.get(username="res_phone").phone) == "13700001234"
    assert User.objects.get(username="res_phone").phone_digest == privacy.digest("phone", "13700001234")


@pytest.mark.django_db
def test_rotate_key_stops_with_a_clear_message_when_a_key_is_missing(settings, sealed_city):
    settings.PRIVACY_KEY, settings.PRIVACY_OLD_KEYS = "the-new-key-of-2027", []
    with pytest.raises(CommandError, match="PRIVACY_OLD_KEYS"):
        call_command("rotate-key")
    assert str(Person.objects.get(pk=sealed_city["elder"].pk).id_number) == privacy.UNREADABLE


@pytest.mark.django_db
def test_clear_values_left_by_an_older_schema_are_sealed_by_the_migration_step(sealed_city):
    with connection.cursor() as cursor:  # as the columns held them before migration 0010
        cursor.execute("UPDATE cases_case SET reporter_phone = %s, reporter_phone_digest = ''", ["13800005678"])
    assert privacy.key_census(Case)["reporter_phone"] == {"clear": 1}
    assert privacy.reseal(Case) == 1
    case = Case.objects.get()
    assert case.reporter_phone.token.startswith("v2:") and case.reporter_phone_digest == privacy.digest("phone", "13800005678")


def test_a_new_key_can_be_generated(capsys):
    call_command("rotate-key", "--generate")
    key = capsys.readouterr().out.strip()
    assert len(key) >= 60 and key != privacy.current_key().kid
