"""Exactly-once creates (lib.idempotency) and lost races answered 409 with what changed (lib.workflow).

Forms carry a one-time token: posting it twice makes one record and both answers lead to it.
API creates honour `Idempotency-Key`: a retry answers the first answer byte for byte. A race
of two people acting on the same version: exactly one wins, the other gets 409 with `changes`
— never 403, and no denial in the audit log.
"""

import re
import threading
import uuid
from datetime import timedelta
from functools import partial

import httpx
import pytest
from django.utils import timezone

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_api_token
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case, State
from grassroots.disputes import services as dispute_services
from grassroots.disputes.models import Dispute, Petition, Stage
from grassroots.lib import idempotency
from grassroots.lib.models import IdempotencyKey
from grassroots.lib.worker import Worker, registered_jobs
from tests.conftest import create_staff

IN_A1 = (116.402, 39.905)
OILY_SMOKE = "楼下烧烤店油烟直排，熏得开不了窗"
LEAK = {
    "kind": "neighbour", "description": "楼上卫生间漏水，楼下天花板发霉", "source": "grid", "title": "楼上漏水",
    "parties": [{"name": "陈楼上", "id_number": "110101198001011232", "phone": "13800001111"}, {"name": "刘楼下"}],
}
TOKEN = re.compile(r'name="once_token" value="([^"]+)"')


def token_of(response) -> str:
    found = TOKEN.search(response.content.decode())
    assert found, "the form carries no one-time token"
    return found.group(1)


def denials() -> int:
    return AuditEvent.objects.filter(kind=AuditEvent.Kind.DENIED).count()


# --- web forms ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_double_submitted_resident_report_makes_one_case_and_both_answers_lead_to_it(client, users):
    client.force_login(users["resident"])
    token = token_of(client.get("/cases/report/"))
    data = {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1], "once_token": token}
    first = client.post("/cases/report/", data)
    second = client.post("/cases/report/", data)
    case = Case.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/cases/{case.number}/submitted/"
    assert client.get(second["Location"]).status_code == 200
    # A fresh form has a fresh token: a second report is a second case.
    again = token_of(client.get("/cases/report/"))
    assert again != token
    client.post("/cases/report/", data | {"once_token": again, "description": "小区路灯不亮"})
    assert Case.objects.count() == 2


@pytest.mark.django_db
def test_a_report_that_failed_validation_may_be_sent_again_with_the_same_token(client, users):
    client.force_login(users["resident"])
    token = token_of(client.get("/cases/report/"))
    failed = client.post("/cases/report/", {"description": "", "lon": IN_A1[0], "lat": IN_A1[1], "once_token": token})
    assert failed.status_code == 400 and "请填写问题描述" in failed.content.decode()
    assert token_of(failed) == token  # the form comes back with its token
    assert not Case.objects.exists()
    fixed = client.post("/cases/report/", {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1],
                                           "once_token": token})
    assert fixed.status_code == 302 and Case.objects.count() == 1


@pytest.mark.django_db
def test_the_same_token_with_other_content_is_refused_in_chinese_and_points_to_the_first(client, users):
    client.force_login(users["resident"])
    token = token_of(client.get("/cases/report/"))
    data = {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1], "once_token": token}
    first = client.post("/cases/report/", data)
    other = client.post("/cases/report/", data | {"description": "另一件事：楼道灯坏了"})
    assert other.status_code == 422
    page = other.content.decode()
    assert "这张表单已经提交过" in page and f'href="{first["Location"]}"' in page
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_a_double_submitted_hotline_entry_makes_one_case(client, users):
    load_default_catalog()
    client.force_login(users["dispatcher"])
    token = token_of(client.get("/cases/new/"))
    data = {"channel": "hotline", "description": "来电：小区门口井盖丢失，有安全隐患", "region_code": "110101001001",
            "reporter_name": "刘先生", "reporter_phone": "13900001111", "submit": "register", "once_token": token}
    first = client.post("/cases/new/", data)
    second = client.post("/cases/new/", data)
    assert first.status_code == 302, first.content.decode()[:2000]
    case = Case.objects.get()
    assert first["Location"] == second["Location"] == f"/cases/{case.number}/"


@pytest.mark.django_db
def test_a_double_submitted_grid_worker_report_makes_one_case(client, users):
    client.force_login(users["grid_worker"])
    token = token_of(client.get("/cases/report/?channel=grid"))
    data = {"channel": "grid", "description": "巷口垃圾堆积无人清运", "lon": IN_A1[0], "lat": IN_A1[1], "once_token": token}
    assert client.post("/cases/report/", data).status_code == 302
    assert client.post("/cases/report/", data).status_code == 302
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_double_submitted_dispute_and_petition_forms_make_one_record_each(client, tree, users):
    client.force_login(users["grid_worker"])
    token = token_of(client.get("/disputes/new/"))
    data = {"kind": "neighbour", "source": "grid", "region_code": tree["A1"].code, "title": "楼上漏水邻里纠纷",
            "description": "楼上卫生间漏水，楼下天花板发霉", "party1_name": "陈楼上", "party1_kind": "person",
            "party2_name": "刘楼下", "party2_kind": "person", "people_involved": "2", "risk": "normal",
            "once_token": token}
    first, second = client.post("/disputes/new/", data), client.post("/disputes/new/", data)
    dispute = Dispute.objects.get()
    assert first["Location"] == second["Location"] == f"/disputes/{dispute.number}/"

    client.force_login(users["dispatcher"])
    token = token_of(client.get("/disputes/petitions/new/"))
    letter = {"form": "letter", "petitioner_name": "老周", "title": "工地夜间施工扰民", "content": "工地每晚施工到凌晨",
              "region_code": tree["A"].code, "once_token": token}
    first, second = client.post("/disputes/petitions/new/", letter), client.post("/disputes/petitions/new/", letter)
    petition = Petition.objects.get()
    assert first.status_code == 302 and first["Location"] == second["Location"]
    assert petition.number in first["Location"] and not petition.repeat_of_id


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_retry_with_the_same_key_answers_the_first_answer_and_makes_one_case(client, users):
    client.force_login(users["resident"])
    key = str(uuid.uuid4())
    body = {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1]}
    first = client.post("/api/cases", body, content_type="application/json", headers={"Idempotency-Key": key})
    retry = client.post("/api/cases", body, content_type="application/json", headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content and retry["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1 and first.json()["case"]["number"] == Case.objects.get().number
    # The kept answer is sealed: no masked phone or text in clear in the table.
    stored = IdempotencyKey.objects.get()
    assert stored.answer.startswith("v2:") and OILY_SMOKE not in stored.answer
    # Key order and spacing do not make another request.
    reordered = client.post("/api/cases", {"lat": IN_A1[1], "lon": IN_A1[0], "description": OILY_SMOKE},
                            content_type="application/json", headers={"Idempotency-Key": key})
    assert reordered.content == first.content
    # Another caller's same key is their own request.
    client.force_login(users["grid_worker"])
    assert client.post("/api/cases", body, content_type="application/json",
                       headers={"Idempotency-Key": key}).status_code == 201
    assert Case.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_in_chinese(client, users):
    client.force_login(users["resident"])
    key = str(uuid.uuid4())
    body = {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1]}
    client.post("/api/cases", body, content_type="application/json", headers={"Idempotency-Key": key})
    other = client.post("/api/cases", body | {"description": "楼道灯坏了"}, content_type="application/json",
                        headers={"Idempotency-Key": key})
    assert other.status_code == 422
    assert other.json()["detail"] == idempotency.MISMATCH and other.json()["field"] == "Idempotency-Key"
    assert other.json()["errors"] == [{"field": "Idempotency-Key", "message": idempotency.MISMATCH}]
    assert Case.objects.count() == 1
    bad = client.post("/api/cases", body, content_type="application/json", headers={"Idempotency-Key": "键"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["detail"]


@pytest.mark.django_db
def test_a_refused_first_attempt_keeps_nothing_so_the_corrected_retry_creates(client, users):
    client.force_login(users["resident"])
    key = str(uuid.uuid4())
    refused = client.post("/api/cases", {"description": OILY_SMOKE, "lon": 10.0, "lat": 10.0},
                          content_type="application/json", headers={"Idempotency-Key": key})
    assert refused.status_code == 400 and not IdempotencyKey.objects.exists()
    fixed = client.post("/api/cases", {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1]},
                        content_type="application/json", headers={"Idempotency-Key": key})
    assert fixed.status_code == 201 and Case.objects.count() == 1


@pytest.mark.django_db
def test_dispute_and_petition_creates_honour_the_key(client, tree, users):
    client.force_login(users["grid_worker"])
    key = str(uuid.uuid4())
    body = LEAK | {"region_code": tree["A1"].code}
    first = client.post("/api/disputes", body, content_type="application/json", headers={"Idempotency-Key": key})
    retry = client.post("/api/disputes", body, content_type="application/json", headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201 and first.content == retry.content
    assert Dispute.objects.count() == 1
    client.force_login(users["dispatcher"])
    letter = {"form": "letter", "petitioner_name": "老周", "title": "工地夜间施工扰民", "content": "工地每晚施工到凌晨",
              "region_code": tree["A"].code}
    first = client.post("/api/petitions", letter, content_type="application/json", headers={"Idempotency-Key": key})
    retry = client.post("/api/petitions", letter, content_type="application/json", headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201 and first.content == retry.content
    assert Petition.objects.count() == 1 and retry.json()["repeat_of"] is None


@pytest.mark.django_db
def test_open311_post_requests_honours_the_key(client, users):
    load_default_catalog()
    _, token = create_api_token(users["resident"], "open311")
    key = str(uuid.uuid4())
    form = {"api_key": token, "service_code": "02.02.01", "description": OILY_SMOKE, "lat": IN_A1[1],
            "long": IN_A1[0]}
    first = client.post("/open311/v2/requests.json", form, headers={"Idempotency-Key": key})
    retry = client.post("/open311/v2/requests.json", form, headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 200, first.content
    assert first.content == retry.content and Case.objects.count() == 1
    other = client.post("/open311/v2/requests.json", form | {"description": "路灯不亮"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and Case.objects.count() == 1


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_header_on_every_create(client, users):
    client.force_login(users["dispatcher"])
    schema = client.get("/api/openapi.json").json()
    for path in ("/api/cases", "/api/disputes", "/api/petitions", "/api/ledger/persons",
                 "/api/ledger/persons/{pk}/visits", "/api/ledger/persons/{pk}/care",
                 "/api/ledger/households/{number}/split"):
        params = schema["paths"][path]["post"].get("parameters", [])
        header = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert header and "幂等" in header[0]["description"], path
    conflict = schema["paths"]["/api/cases/{number}/actions/start"]["post"]["responses"]["409"]
    ref = conflict["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "changes" in schema["components"]["schemas"][ref]["properties"]


# --- concurrency over real HTTP -------------------------------------------------------------------


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    users["handler2"] = create_staff("hd_cg2", None, Role.HANDLER, full_name="钱承办", department=tree["chengguan"])
    users["mediator2"] = create_staff("md_a2", None, Role.MEDIATOR, full_name="孙调解", region=tree["A"])
    return {"tree": tree, "users": users}


@pytest.fixture
def http(live_server, city):
    tokens = {key: create_api_token(user, "pytest")[1] for key, user in city["users"].items()}
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        def call(who: str, path: str, body: dict, **headers) -> httpx.Response:
            return client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[who]}", **headers})

        yield call


def together(*calls):
    """Run CALLS at once, each in its own thread (its own database connection), behind a barrier."""
    from django.db import connections

    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            start.wait()
            results[i] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_n_requests_with_the_same_key_at_once_make_one_case(http, city):
    """On PostgreSQL the live server answers them in parallel; on SQLite (one in-memory test database)
    it serialises them, so there this shows the replay, not the race."""
    key = str(uuid.uuid4())
    body = {"description": OILY_SMOKE, "lon": IN_A1[0], "lat": IN_A1[1]}
    answers = together(*[lambda: http("resident", "/api/cases", body, **{"Idempotency-Key": key})] * 6)
    assert Case.objects.count() == 1
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 5


def _dispatched_case(city, n: int) -> Case:
    users = city["users"]
    taken = services.intake(users["dispatcher"], services.Report(
        channel="hotline", description=f"第{n}家饭店油烟直排", region_code="110101001001", matter_code="02.02.01"))
    case = taken.case
    services.dispatch(case, users["dispatcher"], case.version, lead_department=city["tree"]["chengguan"])
    return case


@pytest.mark.django_db(transaction=True)
def test_fifty_races_on_a_case_one_wins_the_loser_always_gets_409_with_changes_never_403(http, city):
    before = denials()
    for n in range(50):
        case = _dispatched_case(city, n)
        v = case.version
        path = f"/api/cases/{case.number}/actions/start"
        a, b = together(partial(http, "handler", path, {"version": v}), partial(http, "handler2", path, {"version": v}))
        codes = sorted([a.status_code, b.status_code])
        assert codes == [200, 409], (n, a.text, b.text)
        loser = (a if a.status_code == 409 else b).json()
        winner = (a if a.status_code == 200 else b).json()
        assert loser["state"] == {"code": "in_progress", "label": "处置中"} and loser["version"] == v + 1
        assert [c["action"] for c in loser["changes"]] == ["start"]
        assert loser["changes"][0]["actor_name"] == ("赵承办" if a.status_code == 200 else "钱承办")
        assert winner["state"]["code"] == "in_progress"
        stored = Case.objects.get(pk=case.pk)
        assert stored.state == State.IN_PROGRESS and stored.version == v + 1
        assert stored.events.filter(action="start").count() == 1
    assert denials() == before  # losing a race is not a refusal


@pytest.mark.django_db(transaction=True)
def test_races_on_a_dispute_one_wins_the_loser_gets_409_with_changes(http, city):
    users, tree = city["users"], city["tree"]
    before = denials()
    for n in range(50):
        d = dispute_services.register(users["grid_worker"], kind="neighbour", description=f"第{n}户楼上漏水",
                                      parties=LEAK["parties"], region=tree["A1"], source="grid")
        path = f"/api/disputes/{d.number}/accept"
        a, b = together(partial(http, "mediator", path, {"version": d.version}),
                        partial(http, "mediator2", path, {"version": d.version}))
        assert sorted([a.status_code, b.status_code]) == [200, 409], (n, a.text, b.text)
        loser = (a if a.status_code == 409 else b).json()
        assert loser["state"]["code"] == Stage.ACCEPTED and loser["version"] == d.version + 1
        assert [c["action"] for c in loser["changes"]] == ["accept"]
        assert Dispute.objects.get(pk=d.pk).events.filter(action="accept").count() == 1
    assert denials() == before


@pytest.mark.django_db
def test_a_stale_page_shows_what_changed_in_chinese_and_keeps_the_typed_text(client, tree, users):
    load_default_catalog()
    taken = services.intake(users["dispatcher"], services.Report(
        channel="hotline", description="饭店油烟直排", region_code="110101001001", matter_code="02.02.01"))
    case = taken.case
    services.dispatch(case, users["dispatcher"], case.version, lead_department=tree["chengguan"])
    seen = Case.objects.get(pk=case.pk).version
    services.start(Case.objects.get(pk=case.pk), users["handler"], seen)  # someone else signs for it first
    client.force_login(users["handler"])
    before = denials()
    page = client.post(f"/cases/{case.number}/act/", {"action": "return", "version": seen,
                                                      "reason": "不属于本部门职责，应由属地处理"})
    assert page.status_code == 409
    text = page.content.decode()
    assert services.CONFLICT in text and "处置中" in text and "赵承办签收" in text
    assert "不属于本部门职责，应由属地处理" in text  # the typed reason is still in the form
    assert denials() == before


# --- housekeeping -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_worker_purges_keys_older_than_the_keep_hours(settings, users):
    settings.IDEMPOTENCY_KEEP_HOURS = 24
    now = timezone.now()
    IdempotencyKey.objects.create(caller="user:1", endpoint="api:cases.create", key="old", fingerprint="x",
                                  created_at=now - timedelta(hours=25))
    IdempotencyKey.objects.create(caller="user:1", endpoint="api:cases.create", key="new", fingerprint="x",
                                  created_at=now - timedelta(hours=23))
    job = next(j for j in registered_jobs() if j.name == "lib.idempotency_purge")
    result = Worker([job], say=lambda _: None).run_once()[0]
    assert result.error is None and result.handled == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    settings.IDEMPOTENCY_KEEP_HOURS = 1
    Worker([job], say=lambda _: None).run_once()
    assert not IdempotencyKey.objects.exists()



# --- a real browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_double_click_and_browser_retries_of_one_report_make_one_case(phone, live_server, users):
    from tests.test_browser_map import sign_in

    sign_in(phone, live_server, "res")
    phone.goto(f"{live_server.url}/cases/report/")
    phone.fill("#id_description", OILY_SMOKE)
    phone.wait_for_selector("#pick-map.ready")
    grid = phone.locator('#pick-map path[data-code="110101001001001"]')
    grid.scroll_into_view_if_needed()
    grid.tap()
    assert phone.input_value("input[name=lon]")
    # The browser sends the filled form twice at once (a flaky network's retry): same token, same body.
    landed = phone.evaluate("""async () => {
        const form = document.getElementById("report-form");
        const send = () => fetch(location.href, {method: "POST", body: new FormData(form)});
        const answers = await Promise.all([send(), send()]);
        return answers.map(a => [a.status, a.url]);
    }""")
    case = Case.objects.get()
    submitted = f"{live_server.url}/cases/{case.number}/submitted/"
    assert landed == [[200, submitted], [200, submitted]]
    # Then the person double-clicks the submit button of the same form: still the one case.
    phone.dblclick("#report-form button[type=submit]")
    phone.wait_for_url("**/submitted/", timeout=60_000)
    assert phone.url == submitted
    assert phone.locator("#case-number").inner_text() == case.number
    assert Case.objects.count() == 1
