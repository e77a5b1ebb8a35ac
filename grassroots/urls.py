from django.urls import include, path

from grassroots.accounts.urls import app_urls
from grassroots.cases.views import track

urlpatterns = [
    path("", include("grassroots.front.urls")),
    path("accounts/", include("grassroots.accounts.urls")),
    path("accounts/", include((app_urls, "accounts"))),
    path("territory/", include("grassroots.territory.urls")),
    path("ledger/", include("grassroots.ledger.urls")),
    path("cases/", include("grassroots.cases.urls")),
    path("disputes/", include("grassroots.disputes.urls")),
    path("track/", track, name="track"),
    path("api/", include("grassroots.api.urls")),
    path("open311/v2/", include("grassroots.api.open311_urls")),
]

handler404 = "grassroots.front.errors.not_found"
handler403 = "grassroots.front.errors.forbidden"
