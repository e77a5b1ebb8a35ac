from django.urls import path

from grassroots.disputes import views

app_name = "disputes"

urlpatterns = [
    path("", views.worklist, name="list"),
    path("new/", views.new, name="new"),
    path("laws/", views.law_search, name="laws"),
    path("stats/", views.stats, name="stats"),
    path("screening/", views.rounds, name="rounds"),
    path("screening/special/", views.round_special, name="round_special"),
    path("screening/<int:pk>/close/", views.round_close, name="round_close"),
    path("petitions/", views.petition_list, name="petitions"),
    path("petitions/new/", views.petition_new, name="petition_new"),
    path("petitions/<str:number>/", views.petition_detail, name="petition"),
    path("petitions/<str:number>/act/", views.petition_act, name="petition_act"),
    path("petitions/<str:number>/reveal/", views.petition_reveal, name="petition_reveal"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/act/", views.act, name="act"),
    path("<str:number>/parties/<int:party_id>/reveal/", views.party_reveal, name="party_reveal"),
    path("<str:number>/agreement.docx", views.agreement_download, name="agreement"),
]
