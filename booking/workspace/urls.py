from django.urls import path

from booking.workspace import views

app_name = "staff"

urlpatterns = [
    path("", views.placeholder, name="schedule"),
    path("appointments/<int:pk>/", views.placeholder, name="appointment"),
    path("book/", views.placeholder, name="book"),
    path("closures/", views.placeholder, name="closures"),
    path("due/", views.placeholder, name="due"),
    path("no-shows/", views.placeholder, name="no_shows"),
    path("notifications/failed/", views.placeholder, name="failed_notifications"),
]
