"""Ledger pages: search, the territory and grid ledgers, person / household / house / building
pages, the audited full view, visits and care groups, import and export, the access log and
a resident's own record. Thin: services write, queries read and scope."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from grassroots.accounts.permissions import can, get_region_or_404, home_region, region_in_scope, require
from grassroots.accounts.roles import Action, Role
from grassroots.ledger import queries, services, workbooks
from grassroots.ledger.forms import (
    CareForm,
    FilterForm,
    FullViewForm,
    ImportForm,
    MoveForm,
    MoveOutForm,
    OwnerForm,
    SearchForm,
    VisitForm,
)
from grassroots.ledger.models import Building, CareType, Person
from grassroots.lib import idempotency
from grassroots.lib.files import keep_for, kept_for, private_dir
from grassroots.territory.levels import Level
from grassroots.territory.queries import ancestors

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _crumbs(user, region):
    return [(a, region_in_scope(user, a)) for a in ancestors(region)]


@login_required
def index(request):
    """The ledger's front page: the search box, the caller's territory and overdue visits."""
    if request.user.role == Role.RESIDENT:
        return redirect("me")
    require(request.user, Action.VIEW_LEDGER, request)
    region = home_region(request.user)
    form = SearchForm(request.GET or None)
    result = None
    if form.is_valid() and form.cleaned_data["q"]:
        result = queries.search(request.user, form.cleaned_data["q"])
    context = {"form": form, "result": result, "region": region, "perms_import": can(request.user, Action.IMPORT_LEDGER)}
    template = "ledger/_results.html" if request.htmx else "ledger/index.html"
    return render(request, template, context)


@login_required
def region_page(request, code: str):
    require(request.user, Action.VIEW_LEDGER, request)
    region = get_region_or_404(request.user, code, request)
    context = {"region": region, "breadcrumbs": _crumbs(request.user, region)}
    if region.level == Level.GRID:
        context.update(queries.grid_page(request.user, region))
        return render(request, "ledger/grid.html", context)
    context["stats"] = queries.region_counts(request.user, region)
    context["children"] = queries.children_counts(request.user, region)
    return render(request, "ledger/region.html", context)


@login_required
def buildings_geojson(request, code: str):
    require(request.user, Action.VIEW_LEDGER, request)
    region = get_region_or_404(request.user, code, request)
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [b.lon, b.lat]},
         "properties": {"code": b.code, "name": b.name, "url": reverse("ledger:building", args=[b.code])}}
        for b in Building.objects.filter(queries.region_q(region)).exclude(lon=None)[:5000]
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features})


def _person_context(request, person: Person, **extra) -> dict:
    user = request.user
    return {
        "person": person,
        "care_tags": list(person.care_tags.select_related("assigned_by").order_by("-next_visit_due")),
        "visits": queries.visits_of(person),
        "history": services.history("person", person.pk),
        "full_fields": services.full_fields(user),
        "may_visit": can(user, Action.RECORD_VISIT),
        "may_care": can(user, Action.ASSIGN_CARE),
        "may_edit": can(user, Action.EDIT_LEDGER),
        "move_form": extra.pop("move_form", MoveForm()),
        "move_out_form": extra.pop("move_out_form", MoveOutForm()),
        "full_form": extra.pop("full_form", FullViewForm()),
        "visit_form": extra.pop("visit_form", VisitForm()),
        "care_form": extra.pop("care_form", CareForm()),
        "today": timezone.localdate(),
        **extra,
    }


@login_required
def person_page(request, pk: int):
    person = queries.get_person(request.user, pk, request)
    return render(request, "ledger/person.html", _person_context(request, person))


@login_required
@require_POST
def person_full(request, pk: int):
    """Show the full ID number and phone after the reason is given; the view is audited."""
    person = queries.get_person(request.user, pk, request)
    if not services.full_fields(request.user):
        require(request.user, Action.VIEW_FULL_PERSON, request)  # refused and audited
    form = FullViewForm(request.POST)
    full = None
    if form.is_valid():
        try:
            full = services.full_record(request.user, person, form.cleaned_data["reason"], request=request)
        except services.LedgerError as exc:
            form.add_error("reason", exc.message)
    context = {"person": person, "full": full, "full_form": form, "full_fields": services.full_fields(request.user)}
    status = 200 if full else 400
    if request.htmx:
        return render(request, "ledger/_full.html", context, status=status)
    return render(request, "ledger/person.html", _person_context(request, person, full=full, full_form=form),
                  status=status)


@login_required
@require_POST
@idempotency.once_per_form("ledger.visit")
def person_visit(request, pk: int):
    require(request.user, Action.RECORD_VISIT, request)
    person = queries.get_person(request.user, pk, request)
    form = VisitForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            visit = services.record_visit(request.user, person, services.VisitData(
                findings=d["findings"], visited_at=d["visited_at"], place=d["place"], open_case=d["open_case"],
                case_description=d["case_description"], open_dispute=d["open_dispute"],
                dispute_party=d["dispute_party"]))
        except services.LedgerError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            text = "走访已记录"
            if visit.case_id:
                text += f"，已登记事件 {visit.case.number}"
            if visit.dispute_ref:
                text += f"，已登记矛盾纠纷 {visit.dispute_ref}"
            messages.success(request, text)
            return redirect("ledger:person", pk=person.pk)
    return render(request, "ledger/person.html", _person_context(request, person, visit_form=form), status=400)


@login_required
@require_POST
@idempotency.once_per_form("ledger.care")
def person_care(request, pk: int):
    require(request.user, Action.ASSIGN_CARE, request)
    person = queries.get_person(request.user, pk, request)
    form = CareForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.assign_care(request.user, person, d["type"], d["reason"], start=d["start_date"], end=d["end_date"])
        except services.LedgerError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"已认定为{CareType(d['type']).label}")
            return redirect("ledger:person", pk=person.pk)
    return render(request, "ledger/person.html", _person_context(request, person, care_form=form), status=400)


@login_required
@require_POST
def person_move(request, pk: int):
    """迁移 (to another household) or 迁出 (out of the territory), by which form was sent."""
    require(request.user, Action.EDIT_LEDGER, request)
    person = queries.get_person(request.user, pk, request)
    leaving = "leave" in request.POST
    form = (MoveOutForm if leaving else MoveForm)(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            if leaving:
                services.move_out(request.user, person, note=d["note"])
            else:
                target = queries.get_household(request.user, d["household"], request)
                services.move_person(request.user, person, target, relation=d["relation"], note=d["note"])
        except services.LedgerError as exc:
            form.add_error(None, exc.message)
        except Http404:
            form.add_error("household", "该户号不存在或不在您的辖区内")
        else:
            messages.success(request, "已迁出" if leaving else f"已迁入户 {d['household']}")
            return redirect("ledger:person", pk=person.pk)
    key = "move_out_form" if leaving else "move_form"
    return render(request, "ledger/person.html", _person_context(request, person, **{key: form}), status=400)


@login_required
@require_POST
def house_owner(request, pk: int):
    require(request.user, Action.EDIT_LEDGER, request)
    house = queries.get_house(request.user, pk, request)
    form = OwnerForm(request.POST)
    if form.is_valid():
        try:
            services.change_owner(request.user, house, owner_name=form.cleaned_data["owner_name"],
                                  note=form.cleaned_data["note"])
        except services.LedgerError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "产权人已变更")
            return redirect("ledger:house", pk=house.pk)
    return render(request, "ledger/house.html", _house_context(request, house, owner_form=form), status=400)


@login_required
def household_page(request, number: str):
    household = queries.get_household(request.user, number, request)
    members = list(household.members.order_by("relation", "birth_date"))
    return render(request, "ledger/household.html", {
        "household": household, "members": members, "history": services.history("household", household.pk),
        "splits": list(household.splits.all()),
    })


def _house_context(request, house, **extra) -> dict:
    return {
        "house": house, "households": list(house.households.filter(dissolved_at__isnull=True)),
        "residents": list(house.residents.filter(moved_out_at__isnull=True).order_by("name")),
        "history": services.history("house", house.pk), "may_edit": can(request.user, Action.EDIT_LEDGER),
        "owner_form": extra.pop("owner_form", OwnerForm()), **extra,
    }


@login_required
def house_page(request, pk: int):
    house = queries.get_house(request.user, pk, request)
    return render(request, "ledger/house.html", _house_context(request, house))


@login_required
def building_page(request, code: str):
    building = queries.get_building(request.user, code, request)
    houses = list(building.houses.select_related("address", "owner").order_by("address__unit", "address__room"))
    return render(request, "ledger/building.html", {"building": building, "houses": houses})


@login_required
def persons_page(request):
    """The filtered person list (and its export with the same filters)."""
    form = FilterForm(request.GET or None)
    region, qs = None, None
    if form.is_valid():
        d = form.cleaned_data
        if d["region"]:
            region = get_region_or_404(request.user, d["region"], request)
        qs = queries.person_list(request.user, region=region, status=d["status"], care=d["care"], name=d["q"])
    else:
        qs = queries.person_list(request.user)
    if request.GET.get("format") == "xlsx":
        require(request.user, Action.EXPORT_LEDGER, request)
        return _xlsx(workbooks.export_persons(request.user, qs), f"persons-{timezone.localdate():%Y%m%d}.xlsx")
    full_error = ""
    if request.method == "POST":  # the export in full: a reason, every person's read audited
        require(request.user, Action.EXPORT_LEDGER, request)
        require(request.user, Action.VIEW_FULL_PERSON, request)
        try:
            data = workbooks.export_persons_full(request.user, qs, request.POST.get("reason", ""), request=request)
        except workbooks.ExportRefused as exc:
            full_error = str(exc)
        else:
            response = _xlsx(data, f"persons-full-{timezone.localdate():%Y%m%d}.xlsx")
            response["Cache-Control"] = "no-store"
            return response
    page = Paginator(qs.select_related("grid", "household"), 50).get_page(request.GET.get("page"))
    may_export = can(request.user, Action.EXPORT_LEDGER)
    return render(request, "ledger/persons.html", {
        "form": form, "page": page, "region": region, "may_export": may_export,
        "may_export_full": may_export and can(request.user, Action.VIEW_FULL_PERSON),
        "full_error": full_error, "typed_reason": request.POST.get("reason", ""),
        "full_max": settings.LEDGER_FULL_EXPORT_MAX, "query": request.GET.urlencode(),
    }, status=400 if full_error else 200)


@login_required
def overdue_page(request):
    require(request.user, Action.VIEW_LEDGER, request)
    tags = queries.overdue(request.user)
    page = Paginator(tags, 50).get_page(request.GET.get("page"))
    return render(request, "ledger/overdue.html", {
        "page": page, "communities": queries.overdue_by_community(request.user), "today": timezone.localdate(),
    })


# --- import / export -------------------------------------------------------------------------


def _error_dir() -> Path:
    return private_dir(Path(settings.MEDIA_ROOT) / "ledger-import-errors")


@login_required
def import_page(request):
    require(request.user, Action.IMPORT_LEDGER, request)
    form = ImportForm()
    result = error_url = None
    refusal = ""
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            d = form.cleaned_data
            try:
                result = workbooks.import_workbook(request.user, d["file"].read(), mode=d["mode"], dry_run=d["dry_run"])
            except workbooks.ImportRefused as exc:
                refusal = str(exc)
            else:
                if result.errors:
                    token = keep_for(request.user, _error_dir(), result.error_workbook())
                    error_url = reverse("ledger:import_errors", args=[token])
    status = 400 if (form.errors or refusal or (result and result.errors and not result.written)) else 200
    return render(request, "ledger/import.html", {
        "form": form, "result": result, "error_url": error_url, "refusal": refusal,
        "errors_shown": result.errors[:200] if result else [],
    }, status=status)


@login_required
def import_errors(request, token: str):
    """The error workbook of one of the caller's own imports."""
    require(request.user, Action.IMPORT_LEDGER, request)
    path = kept_for(request.user, _error_dir(), token)
    if path is None:
        raise Http404("错误工作簿不存在或已过期")
    return FileResponse(path.open("rb"), as_attachment=True, filename="导入错误.xlsx", content_type=XLSX)


@login_required
def template_download(request):
    require(request.user, Action.IMPORT_LEDGER, request)
    return _xlsx(workbooks.template_workbook(), "ledger-template.xlsx")


# --- privacy ----------------------------------------------------------------------------------


@login_required
def access_log(request):
    require(request.user, Action.VIEW_AUDIT, request)
    page = Paginator(queries.full_views(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "ledger/access_log.html", {"page": page})


@login_required
def me(request):
    """The resident's own records now live on one page of everything the platform holds on them."""
    return redirect("me")


def records_of_resident(user) -> list[dict]:
    """The ledger's part of the resident's own page (front.views.my_data)."""
    persons = list(services.persons_of_resident(user).select_related("household", "house__address", "grid"))
    return [{"person": p, "care_tags": list(p.care_tags.all()), "visits": list(p.visits.order_by("-visited_at")[:20]),
             "history": services.history("person", p.pk)} for p in persons]


