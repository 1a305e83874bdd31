"""The private calendar feeds, mounted at /calendar/ by clinic/urls.py (outside
/api/v1/: calendar services fetch them without signing in; the token is the
credential)."""

from django.urls import path

from booking import feed_apis

urlpatterns = [
    path("<str:token>.ics", feed_apis.calendar_feed, name="calendar_feed"),
]
