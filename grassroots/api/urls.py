from django.urls import path

from grassroots.api.api import api

urlpatterns = [path("", api.urls)]
