from django.urls import path

from workspace.reports import views

app_name = "reports"

urlpatterns = [
    # Clinicians (a practitioner: their own patients); on the Manage menu and a practitioner's nav.
    path("reports/outcomes/", views.outcomes, name="outcomes"),
    # Managers only.
    path("reports/operations/", views.operations, name="operations"),
    # Any table of either report as CSV, with the page's filters.
    path("reports/<slug:report>/<slug:table>.csv", views.table_download, name="csv"),
]
