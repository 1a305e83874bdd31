from django.urls import path

from treatments.workspace import views

app_name = "chart"

urlpatterns = [
    path("patients/", views.placeholder, name="patients"),
    path("patients/<int:pk>/", views.placeholder, name="patient"),
    path("patients/<int:pk>/assessments/new/", views.placeholder, name="assessment_new"),
    path("appointments/<int:pk>/record/", views.placeholder, name="session_record"),
]
