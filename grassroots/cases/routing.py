"""Routing: location → grid → community → street → district; matter → who leads.

小事一格解决、大事全网联动: the matter's tier is the lowest tier that can close it. A grid or
community matter is led by that territorial unit; a street matter by the street; a district
matter by the matter's department of the district the case lies in. The dispatcher sees
this suggestion and may change it.
"""

from dataclasses import dataclass, field

from grassroots.cases.models import Matter, Tier
from grassroots.territory import directory
from grassroots.territory.directory import ancestor_at
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region

__all__ = ["Route", "TIER_LEVEL", "ancestor_at", "suggest_route"]

TIER_LEVEL = {
    Tier.GRID: Level.GRID,
    Tier.COMMUNITY: Level.COMMUNITY,
    Tier.STREET: Level.STREET,
    Tier.DISTRICT: Level.DISTRICT,
}


@dataclass
class Route:
    lead_region: Region | None = None
    lead_department: Department | None = None
    assists: list[Department] = field(default_factory=list)
    explanation: str = ""

    @property
    def lead_name(self) -> str:
        if self.lead_department:
            return f"{self.lead_department.district.name}{self.lead_department.name}"
        return self.lead_region.name if self.lead_region else ""


def suggest_route(matter: Matter | None, region: Region) -> Route:
    if matter is None:
        return Route(explanation="尚未确定事项，请先分类")
    district = ancestor_at(region, Level.DISTRICT)
    department = directory.department(district, matter.department_code)
    if matter.tier == Tier.DISTRICT:
        if department is None:
            return Route(explanation=f"{district.name if district else '该区'}没有“{matter.department_code}”部门，请人工指定")
        if department.kind == Department.Kind.TERRITORIAL:
            community = ancestor_at(region, Level.COMMUNITY)
            return Route(lead_region=community, explanation=f"{matter.name}由属地社区办理")
        return Route(lead_department=department, explanation=f"{matter.name}属区级部门事项，由{department.name}主办")
    level = TIER_LEVEL[matter.tier]
    unit = ancestor_at(region, level)
    if unit is None:  # the case is only located above the tier: the nearest known unit leads
        unit = region
    assists = [department] if department and department.kind != Department.Kind.TERRITORIAL else []
    words = {Tier.GRID: "小事一格解决，由网格就地处置", Tier.COMMUNITY: "由社区办理", Tier.STREET: "由街道办理"}
    explanation = f"{matter.name}{words[matter.tier]}"
    if assists:
        explanation += f"，{assists[0].name}协办"
    return Route(lead_region=unit, assists=assists, explanation=explanation)
