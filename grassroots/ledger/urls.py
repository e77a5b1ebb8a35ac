from django.urls import path

from grassroots.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.index, name="index"),
    path("persons/", views.persons_page, name="persons"),
    path("overdue/", views.overdue_page, name="overdue"),
    path("import/", views.import_page, name="import"),
    path("import/template.xlsx", views.template_download, name="template"),
    path("import/<str:token>/errors.xlsx", views.import_errors, name="import_errors"),
    path("access-log/", views.access_log, name="access_log"),
    path("me/", views.me, name="me"),
    path("region/<str:code>/", views.region_page, name="region"),
    path("region/<str:code>/buildings.geojson", views.buildings_geojson, name="buildings_geojson"),
    path("person/<int:pk>/", views.person_page, name="person"),
    path("person/<int:pk>/full/", views.person_full, name="person_full"),
    path("person/<int:pk>/visit/", views.person_visit, name="person_visit"),
    path("person/<int:pk>/care/", views.person_care, name="person_care"),
    path("person/<int:pk>/move/", views.person_move, name="person_move"),
    path("household/<str:number>/", views.household_page, name="household"),
    path("house/<int:pk>/owner/", views.house_owner, name="house_owner"),
    path("house/<int:pk>/", views.house_page, name="house"),
    path("building/<path:code>/", views.building_page, name="building"),
]
