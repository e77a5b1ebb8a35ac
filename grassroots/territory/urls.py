from django.urls import path

from grassroots.territory import views

app_name = "territory"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("import/", views.import_page, name="import"),
    path("<str:code>/", views.region_page, name="region"),
    path("<str:code>/map.geojson", views.region_geojson, name="geojson"),
    path("<str:code>/export.csv", views.region_export, name="export"),
    path("<str:code>/check/", views.check_page, name="check"),
]
