from django.urls import path

from booking.pages import views

app_name = "site"

urlpatterns = [
    path("", views.placeholder, name="home"),
    path("treatments/", views.placeholder, name="treatments"),
    path("treatments/<slug:slug>/", views.placeholder, name="treatment"),
    path("book/", views.placeholder, name="book"),
    path("accounts/register/", views.placeholder, name="register"),
    path("appointments/", views.placeholder, name="appointments"),
    path("appointments/<int:pk>/", views.placeholder, name="appointment"),
]
