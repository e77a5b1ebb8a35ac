"""The role home pages. Each role lands on its own work; the territory pages do the rest."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from grassroots.accounts.permissions import home_region
from grassroots.accounts.roles import Role
from grassroots.front.context import ROLE_HOME_TITLES
from grassroots.territory.queries import ancestors, children_with_counts, level_counts


@login_required
def home(request):
    user = request.user
    region = home_region(user)
    context = {
        "title": ROLE_HOME_TITLES.get(user.role, "首页"),
        "region": region,
        "role": user.role,
    }
    if region is not None:
        context["breadcrumbs"] = ancestors(region)
        context["counts"] = level_counts(region)
        context["children"] = children_with_counts(region) if user.role != Role.GRID_WORKER else []
    if user.department_id:
        context["department"] = user.department
    return render(request, f"front/home_{user.role}.html", context)


@login_required
def my_data(request):
    """平台保存的我的信息 (个人信息保护法 第44、45条): everything held on the signed-in person —
    their ledger records, the cases they reported or that were taken in under their phone, the
    disputes and petitions registered under it — and every full read of those records (who, when,
    why). Matched by the keyed digest of the account's verified phone; shown masked like everywhere,
    since one phone may be a family's."""
    from grassroots.accounts.permissions import reads_of
    from grassroots.cases.queries import cases_of_resident
    from grassroots.disputes.queries import records_of_resident as disputes_of_resident
    from grassroots.ledger.views import records_of_resident as ledger_of_resident

    user = request.user
    ledger = ledger_of_resident(user)
    cases = cases_of_resident(user)
    disputes = disputes_of_resident(user)
    records = [r["person"] for r in ledger] + cases + disputes["parties"] + disputes["petitions"]
    return render(request, "front/me.html", {
        "title": "平台保存的我的信息", "account": user, "ledger": ledger, "cases": cases,
        "parties": disputes["parties"], "petitions": disputes["petitions"], "reads": reads_of(records),
    })


def root(request):
    return redirect("home") if request.user.is_authenticated else redirect("login")
