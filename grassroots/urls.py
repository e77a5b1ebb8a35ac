from django.urls import include, path

from grassroots.accounts.urls import app_urls

urlpatterns = [
    path("", include("grassroots.front.urls")),
    path("accounts/", include("grassroots.accounts.urls")),
    path("accounts/", include((app_urls, "accounts"))),
    path("territory/", include("grassroots.territory.urls")),
    path("api/", include("grassroots.api.urls")),
]

handler404 = "grassroots.front.errors.not_found"
handler403 = "grassroots.front.errors.forbidden"
