from django.urls import path

from grassroots.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.worklist_page, name="list"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", views.export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("report/", views.report, name="report"),
    path("new/", views.new, name="new"),
    path("suggest/", views.suggest, name="suggest"),
    path("grids.geojson", views.grid_outlines, name="grids"),
    path("rates/", views.rates_page, name="rates"),
    path("rates/export.xlsx", views.rates_export, name="rates_export"),
    path("catalog/", views.catalog_page, name="catalog"),
    path("catalog/<str:code>/", views.catalog_edit, name="catalog_edit"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path("inbox/<int:pk>/read/", views.inbox_read, name="inbox_read"),
    path("inbox/<int:pk>/open/", views.inbox_open, name="inbox_open"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/submitted/", views.submitted, name="submitted"),
    path("<str:number>/act/", views.act, name="act"),
    path("<str:number>/phone/", views.reveal_phone, name="reveal_phone"),
    path("<str:number>/files/<int:pk>/", views.attachment, name="attachment"),
]
