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


def root(request):
    return redirect("home") if request.user.is_authenticated else redirect("login")
