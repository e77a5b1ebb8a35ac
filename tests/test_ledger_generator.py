"""The demo city's ledger (scale S): valid, consistent ID numbers; households in houses in buildings
in grids; care groups with overdue visits; search and the grid page on realistic data."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from stdnum.cn import ric

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.ledger import queries
from grassroots.ledger.models import Building, CareTag, House, Household, Person
from grassroots.lib import privacy
from grassroots.territory.levels import Level
from grassroots.territory.models import Region


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("generate", "--scale", "S", "--seed", "3", "--password", "Demo-city-2026", stdout=io.StringIO())
        yield
        from tests.test_generator import delete_city

        delete_city()


pytestmark = pytest.mark.django_db


def test_about_three_thousand_people_in_households_in_houses(city):
    n = Person.objects.count()
    assert 2_800 <= n <= 3_200
    assert Household.objects.count() > n / 4 and House.objects.count() >= Household.objects.count()
    assert not Person.objects.filter(household__isnull=True).exists()
    assert Building.objects.exclude(lon=None).count() == Building.objects.count()


def test_every_generated_id_number_is_valid_and_agrees_with_birth_date_and_sex(city):
    for p in Person.objects.order_by("?")[:300]:
        number = privacy.plain_of(p.id_number)
        assert ric.is_valid(number)
        assert ric.get_birth_date(number) == p.birth_date
        assert (int(number[16]) % 2 == 1) == (p.sex == "M")
        if p.status == "registered":
            assert number[:6] == p.grid.code[:6]
        assert p.id_number == number[:6] + "********" + number[-4:]


def test_care_groups_have_overdue_visits_for_grid_workers(city):
    assert CareTag.objects.filter(type="living_alone").exists()
    worker = next(u for u in User.objects.filter(role=Role.GRID_WORKER, region__isnull=False)
                  if CareTag.objects.filter(grid=u.region_id).exists())
    overdue = CareTag.objects.filter(grid=worker.region_id, next_visit_due__lt=timezone.localdate())
    assert queries.overdue(worker).count() == overdue.count()


def test_search_finds_a_person_by_the_last_six_digits_within_scope(city):
    p = Person.objects.order_by("id")[100]
    number = privacy.plain_of(p.id_number)
    admin = User.objects.filter(role=Role.ADMIN, region__isnull=True, department__isnull=True).first() or \
        User.objects.filter(is_superuser=True).first()
    worker = User.objects.filter(role=Role.GRID_WORKER, region=p.grid).first()
    if worker is not None:
        assert p in queries.search(worker, number[-6:]).persons
        assert queries.search(worker, number).persons == [p]
        assert p in queries.search(worker, p.name).persons
        assert p in queries.search(worker, p.initials).persons or len(queries.search(worker, p.initials).persons) == 20
        stranger = User.objects.filter(role=Role.GRID_WORKER).exclude(region=p.grid).first()
        assert p not in queries.search(stranger, number[-6:]).persons
    if admin is not None:
        assert queries.search(admin, number).persons == [p]


def test_the_grid_page_query_count_does_not_grow_with_the_grid(city, client):
    grids = sorted(Region.objects.filter(level=Level.GRID), key=lambda g: Person.objects.filter(grid=g).count())
    small, big = grids[0], grids[-1]
    assert Person.objects.filter(grid=big).count() > Person.objects.filter(grid=small).count()
    counts = []
    for grid in (small, big):
        worker = User.objects.filter(role=Role.GRID_WORKER, region=grid).first()
        client.force_login(worker)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/ledger/region/{grid.code}/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
