from django.urls import path

from grassroots.front import views

urlpatterns = [
    path("", views.root, name="root"),
    path("home/", views.home, name="home"),
    path("me/", views.my_data, name="me"),
]
