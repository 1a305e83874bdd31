from django.urls import path

from workspace.schedule import book, closures, consent, feeds, lists, views, waitlist

app_name = "staff"

urlpatterns = [
    path("", views.schedule, name="schedule"),
    path("appointments/<int:pk>/", views.appointment, name="appointment"),
    path("appointments/<int:pk>/check-in/", views.appointment_check_in, name="appointment_check_in"),
    path("appointments/<int:pk>/no-show/", views.appointment_no_show, name="appointment_no_show"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment_cancel"),
    path("appointments/<int:pk>/reschedule/", views.appointment_reschedule, name="appointment_reschedule"),
    path("appointments/<int:pk>/move/", views.appointment_move, name="appointment_move"),
    path("appointments/<int:pk>/consent/", consent.appointment_consent, name="appointment_consent"),
    path("book/", book.book, name="book"),
    path("book/patients/", book.patient_search, name="patient_search"),
    path("book/patients/new/", book.patient_new, name="patient_new"),
    path("closures/", closures.closures, name="closures"),
    path("closures/<str:kind>/<int:pk>/", closures.closure, name="closure"),
    path("due/", lists.due, name="due"),
    # The waitlist per treatment, and a time offered by hand (workspace/schedule/waitlist.py).
    path("waitlist/", waitlist.waitlist_list, name="waitlist"),
    path("waitlist/<int:pk>/offer/", waitlist.waitlist_offer, name="waitlist_offer"),
    path("no-shows/", lists.no_shows, name="no_shows"),
    path("notifications/failed/", lists.failed_notifications, name="failed_notifications"),
    path("notifications/<int:pk>/send-again/", lists.notification_send_again, name="notification_send_again"),
    # Calendar feeds (workspace/schedule/feeds.py): a practitioner's own, and the managers' list.
    path("calendar-feed/", feeds.calendar_feed, name="calendar_feed"),
    path("calendar-feeds/", feeds.calendar_feeds, name="calendar_feeds"),
]
