"""Reminders for mediators and the petition office, through the platform's notifications.

No fork of cases.notify: each message is a cases.models.Notification (the one in-app inbox,
with no case attached) sent through cases.notify.deliver (log / SMS / webhook backends).
The text names the dispute or petition by its number.
"""

from django.urls import reverse

from grassroots.accounts.models import User
from grassroots.accounts.roles import Action, Role
from grassroots.cases.models import Notification
from grassroots.cases.notify import notify
from grassroots.territory.models import Region


def tell(users, kind: str, text: str, link: str = "") -> list[Notification]:
    """Notify USERS; LINK is the page "open" leads to (the dispute, the petition, the rounds)."""
    return notify(users, None, kind, text, link)


def staff_of(region: Region, roles: list[str]) -> list[User]:
    return list(User.objects.filter(region=region, role__in=roles, is_active=True))


def mediators_of(region: Region) -> list[User]:
    """The accounts of a mediating committee: mediators (and community staff at community level)."""
    return staff_of(region, [Role.MEDIATOR, Role.COMMUNITY_STAFF])


def offices_for(path: str) -> list[User]:
    """The petition office (dispatchers who handle petitions) nearest to PATH, going up the tree."""
    from grassroots.accounts.permissions import can

    codes = [c for c in path.strip("/").split("/") if c]
    users = [u for u in User.objects.filter(role=Role.DISPATCHER, is_active=True, region__code__in=codes)
             .select_related("region") if can(u, Action.HANDLE_PETITION)]
    for code in reversed(codes):
        found = [u for u in users if u.region.code == code]
        if found:
            return found
    return []


def dispute_link(dispute) -> str:
    return reverse("disputes:detail", args=[dispute.number])


def petition_link(petition) -> str:
    return reverse("disputes:petition", args=[petition.number])
