"""Generator step: disputes and petitions of the demo city (矛盾纠纷与信访).

For each community (up to MAX_COMMUNITIES, so larger scales stay quick) a few disputes found by
grid workers' visits, screening rounds and residents, each taken as far through its life as the
community's mediator would have by now — registered, accepted, in mediation, agreed (oral, or
written and signed), followed up and closed, or failed, escalated to the street's mediation
centre and referred to arbitration; one party refuses mediation here and there. Every write goes
through disputes.services with the generated staff as actors, so every record has the events
that explain it. Each street's petition office registers a few petitions, one petitioner writes
twice on the same matter (a repeat, linked), and the current screening rounds are scheduled,
half of them closed. Randomness only from ctx.rng("disputes").
"""

import logging
from datetime import timedelta

from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.disputes import petitions, screening, services
from grassroots.disputes.models import Confirmation, ScreeningRound
from grassroots.generator.city import CityContext, city_step
from grassroots.generator.names import person_name, phone_number
from grassroots.lib import privacy
from grassroots.territory.levels import Level

MAX_COMMUNITIES = 40
MAX_STREETS = 8

STORIES = [
    ("neighbour", "楼上漏水邻里纠纷", "楼上卫生间漏水，楼下天花板发霉，双方多次争吵", None),
    ("neighbour", "装修噪音纠纷", "邻居周末装修噪音扰民，协商未果，双方发生口角", None),
    ("property", "拒交物业费纠纷", "业主以电梯经常故障为由拒交物业费，物业公司催缴未果", 3600),
    ("family", "离婚财产分割纠纷", "夫妻因离婚时房屋和存款分割发生争执", 80000),
    ("support", "老人赡养纠纷", "三个子女互相推诿，不愿承担母亲的赡养费用和看护", 12000),
    ("labour", "装修工人讨薪纠纷", "装修队拖欠六名工人三个月工资", 54000),
    ("consumer", "预付卡退费纠纷", "健身房停业，会员预付卡无法退费", 2800),
    ("traffic", "电动车剐蹭纠纷", "电动车与行人相撞，双方对医药费赔偿有争议", 6000),
    ("land", "宅基地边界纠纷", "两户因宅基地边界和排水沟位置争执，互不相让", None),
]
PETITIONS = [
    ("工地夜间施工扰民", "小区旁工地每晚施工到凌晨，噪声扰民，多次反映未解决"),
    ("老旧小区加装电梯", "加装电梯意见不一，低层住户阻挠施工，要求街道协调"),
    ("拆迁补偿款未到位", "旧房拆迁补偿款迟迟没有到位，要求尽快支付"),
    ("低保资格认定", "申请低保被社区拒绝，认为认定不公平"),
]


def _people(rng, n: int) -> list[dict]:
    return [{"name": person_name(rng), "phone": phone_number(rng)} for _ in range(n)]


@city_step(order=700, label="矛盾纠纷与信访")
def disputes_and_petitions(ctx: CityContext) -> None:
    rng = ctx.rng("disputes")
    logging.getLogger("grassroots.notifications").setLevel(logging.WARNING)  # no log line per reminder
    by_name = {u.username: u for u in User.objects.filter(role__in=["grid_worker", "community_staff", "mediator",
                                                                      "dispatcher", "leader"]).select_related("region")}
    communities = ctx.regions.get(Level.COMMUNITY, [])[:MAX_COMMUNITIES]
    grids_of: dict[int, list] = {}
    for g in ctx.regions.get(Level.GRID, []):
        grids_of.setdefault(g.parent_id, []).append(g)
    now = timezone.now()
    made = {"disputes": 0, "petitions": 0}
    for i, community in enumerate(communities):
        grids = grids_of.get(community.pk) or [community]
        mediator = by_name.get(f"md{community.code}")
        if mediator is None:
            continue
        street_mediator = by_name.get(f"md{community.code[:9]}000")
        for j in range(3 + (i % 2)):
            grid = grids[(i + j) % len(grids)]
            worker = by_name.get(f"gw{grid.code}") or by_name.get(f"cs{community.code}")
            kind, title, text, amount = STORIES[(i * 3 + j) % len(STORIES)]
            people = 2 if kind != "labour" else 7
            d = services.register(worker, kind=kind, title=title, description=text, region=grid,
                                  source=rng.choice(["grid", "screening", "resident"]),
                                  parties=_people(rng, 2), people_involved=people, amount=amount,
                                  place=f"{community.name}{rng.randint(1, 30)}号楼")
            made["disputes"] += 1
            fate = (i + j) % 6
            if fate == 0 or d.tier != Level.COMMUNITY:
                continue  # just registered (or waiting for the street's centre)
            if fate == 5 and j == 0:
                party = d.parties.last()
                services.refuse(d, mediator, d.version, party_id=party.pk, to="court", body="东城区人民法院",
                                reason=f"{party.name}表示只接受诉讼解决")
                continue
            d = services.accept(d, mediator, d.version)
            services.record_session(d, mediator, d.version, held_at=now - timedelta(days=3, hours=j),
                                    place=f"{community.name}调解室", mediators=mediator.display_name,
                                    attendees="双方当事人", notes="听取双方陈述，释法明理，约定再次调解")
            d.refresh_from_db()
            if fate == 1:
                continue  # in mediation
            if fate == 5:  # failed at the community; the mediator has yet to escalate or refer it
                services.fail(d, mediator, d.version, reason="双方分歧较大，社区调解不成")
                continue
            if fate in (2, 3, 4) and not (fate == 4 and i % 3 == 0 and street_mediator is not None):
                oral = fate == 2
                services.agree(d, mediator, d.version, form="oral" if oral else "written",
                               facts=text, responsibilities="双方各有责任，互谅互让",
                               terms="双方达成和解，过错方赔礼道歉并赔偿损失", performance="当面履行，社区见证",
                               perform_by=timezone.localdate() + timedelta(days=rng.randint(3, 20)),
                               mediator_names=mediator.display_name)
                d.refresh_from_db()
                if not oral:
                    services.sign(d, mediator, d.version,
                                  signed_by=[p.name for p in d.parties.all()] + [mediator.display_name])
                    d.refresh_from_db()
                if fate == 4:  # followed up, not yet fully performed
                    services.follow_up(d, mediator, d.version, performance="partial", note="已赔偿一半，余款约定月底付清")
                if fate == 3:
                    d = services.confirm(d, mediator, d.version, outcome=Confirmation.APPLIED,
                                         note="双方共同申请司法确认")
                    services.follow_up(d, mediator, d.version, performance="full", note="已全部履行")
                    d.refresh_from_db()
                    services.close(d, mediator, d.version)
                continue
            # Failed at the community, escalated to the street's centre, referred to arbitration.
            d = services.fail(d, mediator, d.version, reason="双方分歧较大，社区调解不成")
            d = services.escalate(d, mediator, d.version, reason="社区调解不成，提请街道矛调中心调解")
            services.record_session(d, street_mediator, d.version, held_at=now - timedelta(days=1),
                                    place="街道矛调中心", mediators=street_mediator.display_name,
                                    attendees="双方当事人", notes="仍未达成一致")
            d.refresh_from_db()
            d = services.fail(d, street_mediator, d.version, reason="双方坚持己见")
            services.refer(d, street_mediator, d.version, to="arbitration", body="区劳动人事争议仲裁委员会"
                           if kind == "labour" else "区农村土地承包仲裁委员会", reason="引导申请仲裁")

    streets = ctx.regions.get(Level.STREET, [])[:MAX_STREETS]
    for s, street in enumerate(streets):
        office = by_name.get(f"dp{street.code}")
        communities_here = [c for c in communities if c.parent_id == street.pk]
        if office is None or not communities_here:
            continue
        for k, (title, content) in enumerate(PETITIONS[: 2 + (s % 2)]):
            name = person_name(rng)
            p = petitions.register(office, form=rng.choice(["visit", "letter", "online"]), petitioner_name=name,
                                   petitioner_phone=phone_number(rng), title=title, content=content,
                                   region=communities_here[k % len(communities_here)],
                                   collective=k == 2, people_count=8 if k == 2 else 1)
            made["petitions"] += 1
            if k % 2 == 0:
                p = petitions.accept(p, office, p.version)
                if k == 0:
                    p = petitions.reply(p, office, p.version, text="已责令施工单位22时后停止施工，城管每晚巡查")
            if s == 0 and k == 0:  # a repeat petitioner writes again on the same matter
                petitions.register(office, form="letter", petitioner_name=name, petitioner_phone=privacy.plain_of(p.petitioner_phone),
                                   title=title, content="工地夜间施工噪声仍未解决，再次来信要求停工",
                                   region=p.region)
                made["petitions"] += 1
    screening.schedule()
    for n, rnd in enumerate(ScreeningRound.objects.filter(region__level=Level.COMMUNITY, closed_at__isnull=True)
                            .select_related("region")[:MAX_COMMUNITIES]):
        actor = by_name.get(f"cs{rnd.region.code}")
        if actor is not None and n % 2 == 0:
            screening.close_round(actor, rnd, none_found=True, note="本周走访未发现新的矛盾纠纷")
    ctx.count("矛盾纠纷", made["disputes"])
    ctx.count("信访件", made["petitions"])
