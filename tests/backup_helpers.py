"""Run inside `grassroots shell -c` by the backup and demo tests, against an installation of its
own (GRASSROOTS_VAR_DIR, DATABASE_URL): records made through the real intake service, and a
description of what a database holds, read back through the platform (sealed ID numbers and
phones as stored and decrypted, and pages), printed as JSON for the test to compare."""

import datetime
import hashlib
import json
import sys
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models.fields.files import FieldFile

SAMPLE = 25


def jpeg(i: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + f"现场照片 {i} ".encode() * 40


def _report(i: int, prefix: str):
    from grassroots.accounts.models import User
    from grassroots.cases.services import Report

    actor = User.objects.select_related("region").get(username="grid")
    photo = SimpleUploadedFile(f"现场{i}.jpg", jpeg(i), content_type="image/jpeg")
    report = Report(channel="grid", description=f"{prefix}{i}：楼道里堆满纸箱杂物，影响通行，存在火灾隐患",
                    region_code=actor.region.code, reporter_name="刘女士", reporter_phone=f"139{i:08d}",
                    files=[photo])
    return actor, report


def add_photo_cases(n: int, prefix: str = "备份测试") -> None:
    from grassroots.cases.services import intake

    for i in range(n):
        print(intake(*_report(i, prefix)).case.number, flush=True)


def write_cases(stop: str) -> None:
    """Report cases with a photo through the intake service until the file STOP exists, printing
    each case's number once its transaction has committed."""
    from grassroots.cases.services import intake

    i = 0
    while not Path(stop).exists():
        print(intake(*_report(i, "并发写入")).case.number, flush=True)
        i += 1


def _value(value):
    """A sealed ID number or phone as the column stores it and as the platform reads it back
    (privacy.plain_of raises DecryptionFailed under a wrong key)."""
    from grassroots.lib.privacy import Sealed, plain_of

    if isinstance(value, Sealed):
        return {"token": value.token, "plain": plain_of(value), "mask": str(value)}
    return value


def _fields(obj) -> dict:
    return {f.attname: _value(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


def _sample(queryset) -> list:
    """The first and the last records: both ends of every table are compared."""
    first = list(queryset.order_by("pk")[:SAMPLE])
    last = list(queryset.order_by("-pk")[:5])
    return [_fields(o) for o in {o.pk: o for o in first + last}.values()]


def _file_digest(field) -> str:
    try:
        with field.open("rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return "missing"


def _pages(out: dict) -> None:
    """What the dispatcher and the community worker see of a record in their scope."""
    from django.test import Client
    from django.test.utils import setup_test_environment

    from grassroots.accounts.models import User
    from grassroots.cases.models import Case
    from grassroots.ledger.models import Person

    setup_test_environment()
    pages = {}
    dispatcher = User.objects.get(username="dispatcher")
    case = Case.objects.filter(region_path__startswith=dispatcher.region.path).order_by("pk").first()
    community = User.objects.get(username="community")
    person = Person.objects.filter(region_path__startswith=community.region.path).order_by("pk").first()
    for user, url, marks in ((dispatcher, f"/cases/{case.number}/", [case.number, case.title]),
                             (community, f"/ledger/person/{person.pk}/", [person.name, str(person.id_number)]),
                             (dispatcher, "/cases/", [])):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        text = response.content.decode()
        pages[url] = {"status": response.status_code, "marks": [m in text for m in marks]}
    out["pages"] = pages


class _Exact(DjangoJSONEncoder):
    """Times to the microsecond (DjangoJSONEncoder cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        if isinstance(o, FieldFile):
            return o.name
        return super().default(o)


def describe(pages: bool = True) -> None:
    from grassroots.accounts.models import User
    from grassroots.cases.models import Attachment, Case, CaseClock, CaseEvent
    from grassroots.disputes.models import Party
    from grassroots.ledger.models import Person
    from grassroots.territory.models import Region

    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    out = {
        "counts": counts,
        "persons": _sample(Person.objects.all()),
        "cases": _sample(Case.objects.all()),
        "users": _sample(User.objects.all()),
        "regions": _sample(Region.objects.all()),
        "parties": _sample(Party.objects.all()),
        "attachments": [dict(_fields(a), digest=_file_digest(a.file)) for a in Attachment.objects.order_by("pk")],
        "numbers": sorted(Case.objects.values_list("number", flat=True)),
        "torn": {
            "cases without a clock": Case.objects.exclude(pk__in=CaseClock.objects.values("case_id")).count(),
            "cases without their report event": Case.objects.exclude(
                pk__in=CaseEvent.objects.filter(action="report").values("case_id")).count(),
        },
    }
    if pages:
        _pages(out)
    json.dump(out, sys.stdout, cls=_Exact, ensure_ascii=False)
