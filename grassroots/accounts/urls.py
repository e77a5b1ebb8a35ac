from django.contrib.auth import views as auth_views
from django.urls import path

from grassroots.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

app_urls = [
    path("profile/", views.profile, name="profile"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("users/", views.account_list, name="list"),
    path("audit/", views.audit_log, name="audit"),
]
