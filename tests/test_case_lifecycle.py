"""The case loop through the services: every transition, who may do it, and what it leaves behind."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from grassroots.accounts.roles import Role
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.models import Case, CaseEvent, ClassificationFeedback, Evaluation, Notification, State
from grassroots.cases.queries import likely_duplicates
from grassroots.cases.services import CaseError, Conflict, NotAllowed, Report
from grassroots.territory.models import Department
from grassroots.territory.services import ensure_departments
from tests.conftest import create_staff

pytestmark = pytest.mark.django_db

IN_A1 = (116.402, 39.905)
IN_B1 = (116.412, 39.905)


@pytest.fixture
def city(tree, users):
    load_default_catalog()
    ensure_departments(tree["dongcheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai = Department.objects.get(district=tree["dongcheng"], code="shengtai")
    users["handler_st"] = create_staff("hd_st", None, Role.HANDLER, full_name="生态承办", department=shengtai)
    users["dispatcher_dc"] = create_staff("dp_dc", None, Role.DISPATCHER, full_name="区调度", region=tree["dongcheng"])
    return {"tree": tree, "users": users, "shengtai": shengtai}


def report(actor, text="楼下烧烤店油烟直排，熏得开不了窗", *, at=IN_A1, channel="app", matter="03.01.01", **kw):
    return services.intake(actor, Report(channel=channel, description=text, lon=at[0], lat=at[1], matter_code=matter, **kw))


def actions(case):
    return list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))


def test_resident_report_to_evaluation_tells_the_whole_story(city):
    u = city["users"]
    taken = report(u["resident"], reporter_phone="13812345678")
    case = taken.case
    assert case.state == State.SUBMITTED and case.grid.code == "110101001001001"
    assert case.matter_name == "餐饮油烟" and case.resolve_workdays == 10 and case.response_hours == 24
    assert taken.route.lead_department == city["shengtai"]
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=taken.route.lead_department)
    assert case.state == State.DISPATCHED and case.resolve_due_at > case.accepted_at
    assert Notification.objects.filter(recipient=u["handler_st"], case=case).exists()
    case = services.start(case, u["handler_st"], case.version)
    case = services.respond(case, u["handler_st"], case.version, "已电话联系反映人，约定明日上门")
    case = services.resolve(case, u["handler_st"], case.version, "已责令安装油烟净化器并复查合格")
    assert case.state == State.RESOLVED and case.evaluate_due_at is not None
    case = services.evaluate(case, u["resident"], case.version, solved=True, satisfied=True)
    assert case.state == State.CLOSED
    assert actions(case) == ["report", "dispatch", "start", "respond", "resolve", "evaluate"]
    evaluation = Evaluation.objects.get(case=case)
    assert evaluation.solved and evaluation.satisfied and evaluation.lead_department == city["shengtai"]


def test_grid_worker_closes_a_grid_matter_on_the_spot(city):
    u = city["users"]
    case = report(u["grid_worker"], "3单元楼道堆放纸箱和电动车", channel="grid", matter="02.01.02").case
    assert case.state == State.ACCEPTED  # staff entries are accepted at once
    case = services.resolve_on_spot(case, u["grid_worker"], case.version, "已督促住户清理完毕")
    assert case.state == State.RESOLVED and case.lead_region == city["tree"]["A1"]
    assert actions(case) == ["report", "accept", "resolve_on_spot"]


def test_on_the_spot_is_only_for_grid_matters_and_the_grids_own_worker(city):
    u = city["users"]
    case = report(u["grid_worker"], "饭店油烟直排", channel="grid").case
    with pytest.raises(CaseError, match="只有网格级事项"):
        services.resolve_on_spot(case, u["grid_worker"], case.version, "处理了")
    other = report(u["grid_worker"], "楼道堆物", channel="grid", matter="02.01.02").case
    with pytest.raises(NotAllowed):
        services.resolve_on_spot(other, u["grid_worker_b"], other.version, "处理了")


def test_return_upheld_is_rerouted_and_refused_goes_back(city):
    u = city["users"]
    case = report(u["resident"]).case
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=city["tree"]["chengguan"])
    with pytest.raises(CaseError, match="退单理由"):
        services.return_case(case, u["handler"], case.version, "不")
    case = services.return_case(case, u["handler"], case.version, "油烟属生态环境部门职责")
    assert case.state == State.RETURNED
    assert Notification.objects.filter(recipient=u["dispatcher"], kind="returned").exists()
    case = services.arbitrate(case, u["dispatcher"], case.version, uphold=True, note="退单成立",
                              lead_department=city["shengtai"])
    assert case.state == State.DISPATCHED and case.lead_department == city["shengtai"]
    case = services.return_case(case, u["handler_st"], case.version, "我们认为不是本部门的事")
    case = services.arbitrate(case, u["dispatcher"], case.version, uphold=False, note="属于本部门职责，继续办理")
    assert case.state == State.DISPATCHED and case.lead_department == city["shengtai"]
    assert actions(case)[-5:] == ["return", "arbitrate", "dispatch", "return", "arbitrate"]


def test_two_users_acting_at_once_cannot_both_win(city):
    u = city["users"]
    case = report(u["resident"]).case
    mine = Case.objects.get(pk=case.pk)
    theirs = Case.objects.get(pk=case.pk)
    services.dispatch(mine, u["dispatcher"], mine.version, lead_department=city["shengtai"])
    with pytest.raises(Conflict, match="刷新"):
        services.reject(theirs, u["dispatcher_dc"], theirs.version, "重复来电，已作废")
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.state == State.DISPATCHED and actions(fresh) == ["report", "dispatch"]


def test_unsatisfied_reopens_once_then_goes_to_the_dispatcher(city):
    u = city["users"]
    case = report(u["resident"]).case
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=city["shengtai"])
    case = services.resolve(case, u["handler_st"], case.version, "已处理")
    case = services.evaluate(case, u["resident"], case.version, solved=False, satisfied=False, comment="还在排")
    assert case.state == State.IN_PROGRESS and case.reopen_count == 1
    case = services.resolve(case, u["handler_st"], case.version, "再次处理")
    case = services.evaluate(case, u["resident"], case.version, solved=True, satisfied=False)
    assert case.state == State.REOPENED
    assert Notification.objects.filter(recipient=u["dispatcher"], kind="reopened").exists()


def test_extension_moves_the_resolve_deadline_by_working_days(city):
    u = city["users"]
    case = report(u["resident"]).case
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=city["shengtai"])
    before = case.resolve_due_at
    ext = services.request_extension(case, u["handler_st"], case.version, 5, "需要第三方检测")
    case.refresh_from_db()
    case = services.decide_extension(ext, u["dispatcher"], case.version, approve=True)
    assert case.resolve_due_at >= before + timedelta(days=5)
    with pytest.raises(Conflict):
        services.decide_extension(ext, u["dispatcher"], case.version, approve=True)


def test_merge_shares_the_outcome_with_every_reporter(city):
    u = city["users"]
    first = report(u["resident"]).case
    other_resident = create_staff("res2", None, Role.RESIDENT, full_name="郑居民")
    second = report(other_resident, "楼下烧烤店油烟直排，熏得开不了窗，请处理").case
    assert first in [c for c, _ in likely_duplicates(second)]
    second = services.merge(second, u["dispatcher"], second.version, first)
    assert second.state == State.MERGED and second.merged_into == first
    first = services.dispatch(first, u["dispatcher"], first.version, lead_department=city["shengtai"])
    services.resolve(first, u["handler_st"], first.version, "已整改")
    second.refresh_from_db()
    assert second.result == "已整改"
    assert Notification.objects.filter(recipient=other_resident, kind="resolved").exists()


def test_reject_needs_a_reason_and_a_dispatcher(city):
    u = city["users"]
    case = report(u["resident"]).case
    with pytest.raises(NotAllowed):
        services.reject(case, u["handler"], case.version, "无效来电")
    with pytest.raises(CaseError, match="作废理由"):
        services.reject(case, u["dispatcher"], case.version, "无")
    case = services.reject(case, u["dispatcher"], case.version, "测试来电，无实际诉求")
    assert case.state == State.REJECTED


@pytest.mark.parametrize(
    "role, action",
    [("handler", "start"), ("community_staff_b", "start"), ("resident", "resolve"), ("grid_worker", "return")],
)
def test_only_the_lead_unit_handles(city, role, action):
    u = city["users"]
    case = report(u["resident"]).case
    case = services.dispatch(case, u["dispatcher"], case.version, lead_department=city["shengtai"])
    calls = {
        "start": lambda: services.start(case, u[role], case.version),
        "resolve": lambda: services.resolve(case, u[role], case.version, "办了"),
        "return": lambda: services.return_case(case, u[role], case.version, "不归我们管"),
    }
    with pytest.raises(NotAllowed):
        calls[action]()
    assert Case.objects.get(pk=case.pk).state == State.DISPATCHED


def test_dispatcher_outside_the_territory_cannot_dispatch(city):
    u = city["users"]
    case = report(u["resident"], at=IN_B1).case
    outsider = create_staff("dp_x", None, Role.DISPATCHER, region=city["tree"]["street_x"])
    with pytest.raises(NotAllowed):
        services.dispatch(case, outsider, case.version, lead_department=city["shengtai"])


JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"description": " "}, "请填写问题描述"),
        ({"description": "x" * 2001}, "不能超过 2000 字"),
        ({"reporter_phone": "12345"}, "联系电话"),
        ({"lon": 116.4, "lat": None}, "经度和纬度需同时填写"),
        ({"lon": 100.0, "lat": 30.0}, "不在本平台的任何网格内"),
        ({"lon": 200.0, "lat": 30.0}, "经纬度超出范围"),
        ({"lon": None, "lat": None}, "请在地图上选择位置"),
        ({"channel": "hotline"}, "不能通过“12345热线”登记"),
        ({"matter_code": "99.99.99"}, "不存在或已停用"),
        ({"files": [SimpleUploadedFile("a.exe", b"MZ" + b"0" * 10, content_type="application/x-msdownload")]}, "类型不支持"),
        ({"files": [SimpleUploadedFile("fake.jpg", b"not a jpeg at all", content_type="image/jpeg")]}, "内容与文件类型不符"),
    ],
)
def test_bad_intake_is_explained_and_writes_nothing(city, kwargs, message):
    fields = {"channel": "app", "description": "楼下烧烤店油烟", "lon": IN_A1[0], "lat": IN_A1[1], "matter_code": "03.01.01"}
    fields.update(kwargs)
    with pytest.raises(CaseError, match=message):
        services.intake(city["users"]["resident"], Report(**fields))
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_photo_is_kept_with_the_case(city, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("现场.jpg", JPEG, content_type="image/jpeg")
    case = report(city["users"]["grid_worker"], "楼道堆物", channel="grid", matter="02.01.02", files=[photo]).case
    attachment = case.attachments.get()
    assert attachment.name == "现场.jpg" and attachment.is_image and (tmp_path / attachment.file.name).exists()


def test_dispatcher_correction_is_kept_for_training(city):
    u = city["users"]
    case = report(u["resident"], "小区门口有人占道摆摊卖菜", matter="").case
    suggested = case.matter_code
    chosen = "02.02.02" if suggested == "02.02.01" else "02.02.01"
    services.dispatch(case, u["dispatcher"], case.version, lead_region=city["tree"]["street"], matter_code=chosen)
    feedback = ClassificationFeedback.objects.get(case=case)
    assert feedback.chosen_code == chosen and feedback.text.startswith("小区门口")
    assert feedback.suggested[0]["code"] == suggested
    case.refresh_from_db()
    assert case.matter_code == chosen


def test_a_case_keeps_the_limits_it_was_opened_under(city):
    from grassroots.cases.catalog import change_matter
    from grassroots.cases.models import Matter

    u = city["users"]
    case = report(u["resident"]).case
    change_matter(Matter.objects.get(code="03.01.01"), {"resolve_workdays": 3}, by=u["admin"])
    case.refresh_from_db()
    assert case.resolve_workdays == 10
    assert Matter.objects.get(code="03.01.01").changes.get().before == {"resolve_workdays": 10}


def test_timestamps_follow_the_clock(city):
    u = city["users"]
    case = report(u["dispatcher"], channel="hotline").case
    assert case.accepted_at is not None and abs(case.accepted_at - timezone.now()) < timedelta(minutes=1)
    assert case.respond_due_at - case.accepted_at == timedelta(hours=24)


def test_three_rates_arithmetic_per_unit_and_period(city):
    """响应率 = in time / due in the period; 解决率 and 满意率 over the period's evaluations (timeouts
    left out); one row per unit, same-named departments of two districts kept apart."""
    from grassroots.cases.queries import rates

    t, u = city["tree"], city["users"]
    ensure_departments(t["xicheng"], [{"code": "shengtai", "name": "生态环境局", "kind": "line"}])
    shengtai_x = Department.objects.get(district=t["xicheng"], code="shengtai")
    now = timezone.now()
    start, end = now - timedelta(days=7), now + timedelta(days=1)
    within = now - timedelta(days=2)

    def case(lead_department=None, lead_region=None, *, due, responded=None):
        c = report(u["resident"]).case
        Case.objects.filter(pk=c.pk).update(lead_department=lead_department, lead_region=lead_region,
                                            respond_due_at=due, responded_at=responded)
        return c

    st = city["shengtai"]
    in_time = case(st, due=within, responded=within - timedelta(hours=1))
    late = case(st, due=within, responded=within + timedelta(hours=1))
    case(st, due=within)  # never responded: due, not in time
    case(st, due=now + timedelta(hours=3))  # not due yet: the period's end is later, but now is not
    case(st, due=start - timedelta(hours=1))  # due before the period
    case(shengtai_x, due=within, responded=within)  # exactly at the deadline is in time
    community = case(lead_region=t["A"], due=within, responded=within + timedelta(minutes=1))
    case(due=within)  # not dispatched yet

    def evaluation(c, at, solved, satisfied, source=Evaluation.Source.REPORTER):
        Evaluation.objects.create(case=c, source=source, solved=solved, satisfied=satisfied,
                                  lead_department=c.lead_department, lead_region=c.lead_region)
        Evaluation.objects.filter(case=c, solved=solved, satisfied=satisfied, source=source).update(at=at)

    in_time.refresh_from_db()
    late.refresh_from_db()
    community.refresh_from_db()
    evaluation(in_time, within, True, True)
    evaluation(late, within, True, False)
    evaluation(late, within, False, False, Evaluation.Source.CALLBACK)
    evaluation(in_time, within, None, None, Evaluation.Source.TIMEOUT)  # a window that passed: not counted
    evaluation(community, start - timedelta(days=1), True, True)  # before the period

    rows = {(r.within, r.unit): r for r in rates(Case.objects.all(), Evaluation.objects.all(), start, end)}
    dongcheng = rows[("东城区", "生态环境局")]
    assert (dongcheng.due, dongcheng.responded_in_time, dongcheng.response_rate) == (3, 1, 33.3)
    assert (dongcheng.evaluated, dongcheng.solved, dongcheng.satisfied) == (3, 2, 1)
    assert (dongcheng.resolution_rate, dongcheng.satisfaction_rate) == (66.7, 33.3)
    xicheng = rows[("西城区", "生态环境局")]
    assert (xicheng.due, xicheng.responded_in_time, xicheng.response_rate, xicheng.resolution_rate) == (1, 1, 100.0, None)
    a = rows[("东城区 · 东华门街道", "多福巷社区")]
    assert (a.due, a.responded_in_time, a.evaluated) == (1, 0, 0)
    assert rows[("", "未派遣")].due == 1
    total = rows[("", "合计")]
    assert (total.due, total.responded_in_time, total.evaluated, total.solved, total.satisfied) == (6, 2, 3, 2, 1)
    assert list(rows)[-2:] == [("", "未派遣"), ("", "合计")]
    # a period with nothing in it has no rows at all
    assert rates(Case.objects.all(), Evaluation.objects.all(), now - timedelta(days=400), now - timedelta(days=300)) == []
