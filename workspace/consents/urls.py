from django.urls import path

from workspace.consents import views

app_name = "consents"

urlpatterns = [
    path("consents/", views.form_list, name="list"),
    path("consents/new/", views.form_new, name="new"),
    path("consents/<slug:slug>/", views.form_detail, name="form"),
    path("consents/<slug:slug>/draft/", views.draft, name="draft"),
    path("consents/<slug:slug>/draft/new/", views.draft_new, name="draft_new"),
    path("consents/<slug:slug>/versions/<int:number>/", views.version_detail, name="version"),
]
