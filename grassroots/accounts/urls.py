from django.contrib.auth import views as auth_views
from django.urls import path

from grassroots.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("login/sms/", views.sms_login, name="sms_login"),
]

app_urls = [
    path("profile/", views.profile, name="profile"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("users/", views.account_list, name="list"),
    path("users/new/", views.account_new, name="new"),
    path("users/import/", views.account_import, name="import"),
    path("users/import/template/", views.account_template, name="import_template"),
    path("users/import/passwords/<str:token>/", views.account_import_passwords, name="import_passwords"),
    path("users/<int:user_id>/", views.account_edit, name="edit"),
    path("users/<int:user_id>/disable/", views.account_disable, name="disable"),
    path("users/<int:user_id>/enable/", views.account_enable, name="enable"),
    path("users/<int:user_id>/unlock/", views.account_unlock, name="unlock"),
    path("users/<int:user_id>/reset-password/", views.account_reset_password, name="reset_password"),
    path("password/", views.password_change, name="password"),
    path("audit/", views.audit_log, name="audit"),
]
