"""Territory pages: the tree browser with its grid map, a grid's page, exports, the
coverage check and the import. Scope is asked of accounts.permissions every time."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from grassroots.accounts.models import User
from grassroots.accounts.permissions import (
    can,
    get_region_or_404,
    home_region,
    region_in_scope,
    regions_q,
    require,
    scope_root,
    sees_everything,
    visible_departments,
)
from grassroots.accounts.roles import Action, Role
from grassroots.lib import sheets
from grassroots.territory import coverage, services
from grassroots.territory.forms import ImportForm
from grassroots.territory.levels import LABELS, Level
from grassroots.territory.models import Region
from grassroots.territory.queries import ancestors, children_with_counts, level_counts, subtree


@login_required
def browse(request):
    require(request.user, Action.VIEW_TERRITORY, request)
    region = home_region(request.user)
    if region is None:
        return render(request, "territory/empty.html")
    return redirect("territory:region", code=region.code)


@login_required
def region_page(request, code: str):
    require(request.user, Action.VIEW_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)
    trail = ancestors(region)
    context = {
        "region": region,
        "breadcrumbs": [(a, region_in_scope(request.user, a)) for a in trail],
        "counts": level_counts(region),
        "level_labels": LABELS,
        "perms_check": can(request.user, Action.CHECK_GRIDS),
    }
    if region.level == Level.GRID:
        context["workers"] = User.objects.filter(region=region, role=Role.GRID_WORKER, is_active=True)
        context["neighbours"] = Region.objects.filter(parent=region.parent_id, level=Level.GRID).exclude(pk=region.pk)
        return render(request, "territory/grid.html", context)
    context["children"] = children_with_counts(region)
    context["staff"] = (
        User.objects.filter(region=region, is_active=True).exclude(role=Role.RESIDENT).order_by("role", "username")
    )
    if region.level == Level.DISTRICT:
        context["departments"] = visible_departments(request.user).filter(district=region)
    return render(request, "territory/region.html", context)


@login_required
def region_geojson(request, code: str):
    """The region's outline and its children's (or, for a grid, itself) as a FeatureCollection."""
    require(request.user, Action.VIEW_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)
    shapes = [region] if region.level == Level.GRID else list(
        Region.objects.filter(parent=region).only("code", "name", "level", "boundary", "center_lon", "center_lat")
    )
    features = []
    for r in shapes:
        if r.boundary:
            features.append(
                {
                    "type": "Feature",
                    "geometry": r.boundary,
                    "properties": {"code": r.code, "name": r.name, "level": r.level, "role": "child"},
                }
            )
    if region.boundary and region.level != Level.GRID:
        features.insert(
            0,
            {
                "type": "Feature",
                "geometry": region.boundary,
                "properties": {"code": region.code, "name": region.name, "level": region.level, "role": "outline"},
            },
        )
    return JsonResponse({"type": "FeatureCollection", "features": features})


@login_required
def region_export(request, code: str):
    """CSV of the region's subtree (code,name,level,parent_code): re-importable as it is."""
    require(request.user, Action.EXPORT_TERRITORY, request)
    region = get_region_or_404(request.user, code, request)
    rows = (
        subtree(region)
        .filter(regions_q(request.user))
        .order_by("path")
        .values_list("code", "name", "level", "parent__code", "area_m2")
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="territory-{region.code}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 CSV correctly with a BOM
    writer = csv.writer(response)
    writer.writerow(["code", "name", "level", "parent_code", "area_m2"])
    for code_, name, level, parent_code, area in rows.iterator(chunk_size=2000):
        writer.writerow(sheets.row([code_, name, level, parent_code or "", "" if area is None else round(area)]))
    return response


@login_required
def check_page(request, code: str):
    require(request.user, Action.CHECK_GRIDS, request)
    region = get_region_or_404(request.user, code, request)
    reports = coverage.check_region(region)
    bad = [r for r in reports if not r.ok]
    return render(
        request,
        "territory/check.html",
        {"region": region, "reports": reports, "bad": bad, "tolerance": coverage.tolerance_m2()},
    )


@login_required
def import_page(request):
    require(request.user, Action.EDIT_TERRITORY, request)
    report = None
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                tree_text, grids_text = form.text_of("tree"), form.text_of("grids")
            except Exception as exc:  # ValidationError from text_of
                form.add_error(None, exc)
            else:
                report = services.import_territory(
                    tree_text,
                    grids_text,
                    tree_source=form.cleaned_data["tree"].name if form.cleaned_data.get("tree") else "tree.csv",
                    grids_source=form.cleaned_data["grids"].name if form.cleaned_data.get("grids") else "grids.geojson",
                    dry_run=form.cleaned_data["dry_run"],
                    within=None if sees_everything(request.user) else scope_root(request.user),
                )
    status = 400 if (form.errors or (report and report.errors)) else 200
    return render(request, "territory/import.html", {"form": form, "report": report}, status=status)
