from django.urls import path

from portal.book import consent, flow, views

app_name = "site"

urlpatterns = [
    path("", views.home, name="home"),
    path("treatments/", views.treatments, name="treatments"),
    path("treatments/<slug:slug>/", views.treatment, name="treatment"),
    path("practitioners/<int:pk>/photo/<str:name>", views.practitioner_photo, name="practitioner_photo"),
    path("book/", flow.book, name="book"),
    path("accounts/register/", views.register, name="register"),
    path("accounts/register/check/", views.register_check, name="register_check"),
    path("me/health/", views.questionnaire, name="questionnaire"),
    path("appointments/", views.appointments, name="appointments"),
    path("appointments/<int:pk>/", views.appointment, name="appointment"),
    path("appointments/<int:pk>/calendar.ics", views.appointment_ics, name="appointment_ics"),
    path("appointments/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("appointments/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("appointments/<int:pk>/consent/", consent.appointment_consent, name="appointment_consent"),
]
